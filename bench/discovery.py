"""Finds approaches: every file of the `approaches` package (the bundled ones), every file of each folder
given with --plugins, and every plugin installed with pip under the entry-point group
`digitsum_bench.approaches`. Files starting with _ are not approaches.

A file may register classes with @register, or simply define Approach subclasses with a name, or
define module-level `name`, `summary` and `predict_sum(image)`. A file that fails to import becomes a
broken entry, which the runner turns into a failed row with the error.

Each entry remembers where it came from (its origin), so a worker process imports that one plugin only.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench.approach import REGISTRY, Approach, Entry, PluginError, register

ENTRY_POINT_GROUP = "digitsum_bench.approaches"


@dataclass
class Broken:
    """A plugin that could not be loaded."""
    name: str
    source: str
    error: str


def bundled_dir() -> Path:
    import approaches
    return Path(approaches.__file__).resolve().parent


def _short_error(exc: BaseException) -> str:
    if isinstance(exc, PluginError):
        return str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _adopt_module(module) -> None:
    """Registers what a module defines without calling register(): Approach subclasses with a name,
    or module-level name/summary/predict_sum functions."""
    if any(e.cls.__module__ == module.__name__ for e in REGISTRY.values()):
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


def _file_module_name(path: Path) -> str:
    """A module name of its own for a plugin file outside the approaches package."""
    return f"digitsum_plugin_{hashlib.sha1(str(path.parent).encode()).hexdigest()[:8]}_{path.stem}"


def _import(origin: tuple[str, str]):
    """Imports one plugin: ("module", dotted name), ("file", path) or ("entry_point", its name)."""
    kind, where = origin
    if kind == "module":
        return importlib.import_module(where)
    if kind == "file":
        path = Path(where)
        name = _file_module_name(path)
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module
    (ep,) = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == where]
    return ep.load()


def _load(origin: tuple[str, str]) -> None:
    """Imports a plugin and registers what it holds, each new entry marked with its origin."""
    before = set(REGISTRY)
    obj = _import(origin)
    if inspect.ismodule(obj):
        _adopt_module(obj)
    elif isinstance(obj, type) and obj.name not in REGISTRY:
        register(obj)
    for name in set(REGISTRY) - before:
        REGISTRY[name].origin = origin


def plugin_origins(plugin_dirs=(), entry_points: bool = True) -> list[tuple[tuple[str, str], str]]:
    """(origin, what to call it if it breaks) of every plugin: the bundled files, --plugins folders, entry points."""
    found = [(("module", f"approaches.{p.stem}"), p.stem) for p in sorted(bundled_dir().glob("*.py"))
             if not p.name.startswith("_")]
    for folder in plugin_dirs:
        found += [(("file", str(p.resolve())), p.stem) for p in sorted(Path(folder).glob("*.py"))
                  if not p.name.startswith("_")]
    if entry_points:
        found += [(("entry_point", ep.name), ep.name)
                  for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    return found


def discover(plugin_dirs=(), entry_points: bool = True) -> tuple[dict[str, Entry], list[Broken]]:
    """Imports every plugin once; returns the registry and the plugins that failed to load."""
    broken: list[Broken] = []
    for origin, label in plugin_origins(plugin_dirs, entry_points):
        try:
            _load(origin)
        except BaseException as exc:  # noqa: BLE001 - even SystemExit in a plugin costs only its row
            if isinstance(exc, KeyboardInterrupt):
                raise
            if origin[0] == "module":
                sys.modules.pop(origin[1], None)
            where = origin[1] if origin[0] != "entry_point" else f"entry point {origin[1]}"
            broken.append(Broken(label, where, _short_error(exc)))
    return dict(REGISTRY), broken


def load_entry(name: str, origin: tuple[str, str]) -> Entry:
    """The entry `name`, importing only the plugin it came from (a worker's view of the registry)."""
    if name not in REGISTRY:
        _load(tuple(origin))
    if name not in REGISTRY:
        raise PluginError(f"{origin[1]} no longer registers an approach named {name!r}")
    return REGISTRY[name]


def check_plugin_dirs(plugin_dirs) -> None:
    """A --plugins folder that does not exist is a usage error (one line), not an empty registry."""
    for folder in plugin_dirs:
        if not Path(folder).is_dir():
            raise PluginError(f"--plugins {folder}: no such folder")
