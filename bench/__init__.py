"""digitsum-bench: the harness. Approaches import Approach and register from here."""
from bench.approach import Approach, Budget, PluginError, Requirement, need_binary, need_file, need_module, register

__all__ = ["Approach", "Budget", "PluginError", "Requirement", "need_binary", "need_file", "need_module", "register"]
