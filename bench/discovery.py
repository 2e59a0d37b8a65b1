"""Finds approaches: every approaches/*.py file (files starting with _ are helpers) and every plugin
installed with pip under the entry-point group `digitsum_bench.approaches`.

A file may register classes with @register, or simply define Approach subclasses with a name, or
define module-level `name`, `summary` and `predict_sum(image)`. A file that fails to import becomes a
broken entry, which the runner turns into a failed row with the error.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench.approach import REGISTRY, Approach, Entry, PluginError, register

ROOT = Path(__file__).resolve().parent.parent
APPROACHES_DIR = ROOT / "approaches"
ENTRY_POINT_GROUP = "digitsum_bench.approaches"


@dataclass
class Broken:
    """A plugin that could not be loaded."""
    name: str
    source: str
    error: str


def _short_error(exc: BaseException) -> str:
    if isinstance(exc, PluginError):
        return str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _adopt_module(module) -> None:
    """Registers what a module defines without calling register(): Approach subclasses with a name,
    or module-level name/summary/predict_sum functions."""
    mine = [e for e in REGISTRY.values() if e.cls.__module__ == module.__name__]
    if mine:
        return
    classes = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, Approach)
               and c is not Approach and c.__module__ == module.__name__ and c.name]
    for cls in classes:
        register(cls)
    if not classes and callable(getattr(module, "predict_sum", None)):
        fn = module.predict_sum
        name = getattr(module, "name", None) or module.__name__.rsplit(".", 1)[-1]
        cls = type(f"{name}_function", (Approach,), {
            "__module__": module.__name__, "name": name, "summary": getattr(module, "summary", ""),
            "predict_sum": lambda self, image: fn(image)})
        register(cls)


def _import_file(path: Path) -> None:
    module_name = f"approaches.{path.stem}"
    if module_name in sys.modules:
        return
    module = importlib.import_module(module_name)
    _adopt_module(module)


def discover(directory: Path = APPROACHES_DIR, entry_points: bool = True) -> tuple[dict[str, Entry], list[Broken]]:
    """Imports every plugin once; returns the registry and the plugins that failed to load."""
    broken: list[Broken] = []
    if str(directory.parent) not in sys.path:
        sys.path.insert(0, str(directory.parent))
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            _import_file(path)
        except BaseException as exc:  # noqa: BLE001 - even SystemExit in a plugin costs only its row
            if isinstance(exc, KeyboardInterrupt):
                raise
            sys.modules.pop(f"approaches.{path.stem}", None)
            broken.append(Broken(path.stem, str(path), _short_error(exc)))
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
                if inspect.ismodule(obj):
                    _adopt_module(obj)
                elif isinstance(obj, type) and obj.name not in REGISTRY:
                    register(obj)
            except BaseException as exc:  # noqa: BLE001
                if isinstance(exc, KeyboardInterrupt):
                    raise
                broken.append(Broken(ep.name, f"entry point {ep.value}", _short_error(exc)))
    return dict(REGISTRY), broken
