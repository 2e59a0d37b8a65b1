"""The plugin contract: the Approach base class, register(), and the registry.

    from bench import Approach, register

    @register
    class MyApproach(Approach):
        name = "my_approach"
        summary = "one line for --list and the table"

        def predict_sum(self, image):          # 2-D array, digits bright on dark, 0..255
            return float(...)

Configuration lives in the constructor only. Variants of one idea register the same class again under
other names with other constructor arguments:  register(MyApproach, name="my_variant", summary="...", k=3)
An approach that reproduces a published one passes its figures along:  register(..., reported={"val": 75.25})
"""
from __future__ import annotations

import importlib.util
import inspect
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

DEFAULT_EPOCHS = 10      # training epochs of an approach that states no `epochs` of its own
QUICK_EPOCHS = 2         # at most this many epochs under --quick (which also uses small data)


def budget_for(approach, seconds: float | None, quick: bool, progress=None, protocol: dict | None = None) -> "Budget":
    """The approach's budget: `seconds` of wall time for every approach when given (--budget, equal-time
    mode); else work, the same on every machine: the `protocol` of the publication it reproduces when
    given (--work report), or its `epochs`, or the fixed work of its configuration where it trains in no
    epochs (epochs = None). Under --quick at most QUICK_EPOCHS."""
    progress = progress or (lambda *a, **k: None)
    if seconds is not None:
        return Budget(seconds=float(seconds), quick=quick, progress=progress)
    protocol = protocol or {}
    epochs = protocol.get("epochs", getattr(approach, "epochs", DEFAULT_EPOCHS))
    if epochs is None:
        return Budget(quick=quick, progress=progress)
    return Budget(epochs=min(int(epochs), QUICK_EPOCHS) if quick else int(epochs), quick=quick, progress=progress,
                  until_stalled=bool(protocol.get("until_stalled")))


class PluginError(Exception):
    """A plugin that breaks the contract; the message names the fix."""


@dataclass
class Requirement:
    ok: bool
    what: str           # e.g. "tesseract binary"
    fix: str = ""       # e.g. "install it with: apt-get install tesseract-ocr"

    def __str__(self) -> str:
        return self.what if self.ok else f"{self.what} — {self.fix}" if self.fix else self.what


def need_binary(command: str, fix: str) -> Requirement:
    found = shutil.which(command) if "/" not in command else (command if Path(command).exists() else None)
    return Requirement(bool(found), f"{command} not found" if not found else f"{command} at {found}", fix)


def need_module(module: str, fix: str) -> Requirement:
    ok = importlib.util.find_spec(module) is not None
    return Requirement(ok, f"python module {module}" + ("" if ok else " not installed"), fix)


def need_file(path, what: str, fix: str) -> Requirement:
    ok = path is not None and Path(path).is_file()
    return Requirement(ok, f"{what} at {path}" if ok else f"{what} not found at {path}", fix)


@dataclass
class Budget:
    """What fit() may spend, and where it reports progress. Work: `epochs` of training (every training
    decision follows epochs and steps, so a run does the same work on any machine), or neither epochs nor
    seconds for an approach whose configuration fixes its work. Or, in equal-time mode, `seconds` of wall
    time (the clock ends training: what it reaches depends on the machine). `until_stalled`: at most
    `epochs`, at a constant learning rate, until validation accuracy stops improving (the approach's
    patience), as a publication that kept its best validation model trained."""
    epochs: int | None = None
    seconds: float | None = None
    quick: bool = False
    until_stalled: bool = False
    progress: Callable[..., None] = lambda *a, **k: None   # progress(description, completed, total, **info)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        if self.epochs is not None and self.seconds is not None:
            raise ValueError("a Budget has epochs (work) or seconds (equal time), not both")

    @property
    def kind(self) -> str:
        return "seconds" if self.seconds is not None else "work"

    def describe(self) -> str:
        if self.seconds is not None:
            return f"{self.seconds:g} s"
        if self.epochs is None:
            return "fixed"
        if self.until_stalled:
            return f"until val stalls, at most {self.epochs} epochs"
        return f"{self.epochs} epoch" + ("" if self.epochs == 1 else "s")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        """Seconds left in equal-time mode (inf in work mode: the clock decides nothing there)."""
        return float("inf") if self.seconds is None else max(0.0, self.seconds - self.elapsed())

    def part(self, epochs: int, share: float) -> "Budget":
        """A budget for one stage of fit: `epochs` in work mode, `share` of what remains in equal-time mode."""
        if self.seconds is None:
            return Budget(epochs=epochs, quick=self.quick, progress=self.progress)
        return Budget(seconds=self.remaining() * share, quick=self.quick, progress=self.progress)


class Approach:
    """Base class of every approach. Subclasses set `name` and `summary` and implement predict_sum
    (or predict_batch; or only predict_digits(_batch), and the sum is the sum of the digits read).
    Everything else is optional."""
    name: str = ""
    summary: str = ""
    epochs: int | None = DEFAULT_EPOCHS  # training work when --budget is not given; a class attribute, or a
                                         # constructor argument where variants differ; None: fit trains in no
                                         # epochs (its configuration fixes its work)
    # Set by Entry.create before fit/predict (plain attributes, so approaches never need to accept them):
    device: str = "cpu"      # "cpu" or "cuda"
    seed: int = 0
    digit_range: tuple = (4, 4)  # (fewest, most) digits an image of this dataset holds
    notes: dict             # anything the approach wants in its row's notes, e.g. {"init": "pre-trained"}

    def requirements(self) -> list[Requirement]:
        """What must exist before this approach can run (binaries, files, modules)."""
        return []

    def fit(self, train, val, budget: Budget) -> None:
        """Learn from the train split, select on the val split, within the budget (budget.epochs of
        work, or budget.seconds in equal-time mode). Optional."""

    def predict_sum(self, image: np.ndarray) -> float:
        return float(self.predict_batch(np.asarray(image)[None])[0])

    def predict_batch(self, images: np.ndarray) -> list:
        if not self.implements("predict_sum"):             # a digit reader: the sum of the digits it read
            return [float(sum(digits)) for digits in self.predict_digits_batch(images)]
        return [self.predict_sum(img) for img in images]   # unconverted: the runner checks each answer

    # Optional: the digits read, left to right (unlocks per-digit accuracy), and a confidence in the sum.
    def predict_digits(self, image: np.ndarray) -> list[int]:
        return list(self.predict_digits_batch(np.asarray(image)[None])[0])

    def predict_digits_batch(self, images: np.ndarray) -> list[list[int]]:
        return [list(self.predict_digits(img)) for img in images]

    def confidence_batch(self, images: np.ndarray) -> np.ndarray:
        """Probability that each predicted sum is right. Optional (unlocks calibration error)."""
        raise NotImplementedError

    # Optional: a trained state (tensors, arrays, numbers, strings) the runner caches between runs.
    def get_state(self) -> dict | None:
        return None

    def set_state(self, state: dict) -> None:
        raise NotImplementedError

    def parameter_count(self) -> int | None:
        return None

    # ------------------------------------------------------------------ what the runner asks of a class
    @classmethod
    def implements(cls, method: str) -> bool:
        return getattr(cls, method) is not getattr(Approach, method)

    @classmethod
    def reads_digits(cls) -> bool:
        return cls.implements("predict_digits") or cls.implements("predict_digits_batch")


@dataclass
class Entry:
    """One registered name: a class, the constructor arguments it is run with, and the figures a
    publication it reproduces gives for it (percentages: "train", "val", or "text"; "where" they stand;
    "on" which set its "val" figure is: "val" (default), "pooled" (train+val+test) or "test"; the
    "protocol" --work report trains it with: {"epochs": N} or {"epochs": N, "until_stalled": True})."""
    name: str
    summary: str
    cls: type
    kwargs: dict
    source: str                  # the file or entry point that registered it
    reported: dict | None = None
    origin: tuple | None = None  # how discovery imported it: ("module" | "file" | "entry_point", where)

    def protocol(self, work: str) -> dict | None:
        """The training protocol of the publication it reproduces, under --work report; else None."""
        return (self.reported or {}).get("protocol") if work == "report" else None

    def create(self, device: str = "cpu", seed: int = 0, digit_range: tuple = (4, 4)) -> Approach:
        """The approach, constructed and told where it runs, its training seed and the data's digit range."""
        approach = self.cls(**self.kwargs)
        approach.name, approach.summary = self.name, self.summary
        approach.device, approach.seed, approach.digit_range = device, int(seed), tuple(digit_range)
        approach.notes = {}
        return approach


REGISTRY: dict[str, Entry] = {}
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


def _source_of(cls) -> str:
    try:
        return str(Path(inspect.getfile(cls)).resolve())
    except (TypeError, OSError):
        return cls.__module__


def valid_reported(reported) -> bool:
    protocol = reported.get("protocol", {}) if isinstance(reported, dict) else None
    return (isinstance(reported, dict) and all(isinstance(reported.get(k, 0), (int, float)) for k in ("train", "val"))
            and reported.get("on", "val") in ("val", "pooled", "test") and isinstance(protocol, dict)
            and isinstance(protocol.get("epochs", 1), int))


def register(cls=None, *, name: str | None = None, summary: str | None = None, reported: dict | None = None,
             **kwargs):
    """Registers an Approach subclass (as a decorator) or a variant of one (as a call with name=,
    summary=, reported= and constructor arguments). Validates at once; a broken plugin raises PluginError."""
    if cls is None:
        return lambda c: register(c, name=name, summary=summary, reported=reported, **kwargs)
    where = f"{_source_of(cls)}: class {getattr(cls, '__name__', cls)!s}"
    if not (isinstance(cls, type) and issubclass(cls, Approach)):
        raise PluginError(f"{where}: is not a subclass of bench.Approach — fix: `class X(Approach): ...`")
    name = name if name is not None else cls.name
    summary = summary if summary is not None else cls.summary
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise PluginError(f"{where}: name {name!r} must be snake_case (a-z, 0-9, _) — "
                          "fix: set `name = \"my_approach\"`")
    if not isinstance(summary, str) or not summary.strip():
        raise PluginError(f"{where}: approach {name!r} has no summary — fix: set `summary = \"one line\"`")
    if not (cls.implements("predict_sum") or cls.implements("predict_batch") or cls.reads_digits()):
        raise PluginError(f"{where}: approach {name!r} does not implement predict_sum — fix: define "
                          "`def predict_sum(self, image): return float(...)`")
    if reported is not None and not valid_reported(reported):
        raise PluginError(f"{where}: approach {name!r}: reported= must be a dict such as {{'train': 96.77, 'val': "
                          "75.25, 'where': 'section 2e', 'on': 'val', 'protocol': {'epochs': 20}} — fix: percentages "
                          "as numbers, 'on' one of val, pooled, test, epochs a whole number")
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as e:
        raise PluginError(f"{where}: approach {name!r}: constructor does not accept {sorted(kwargs)} ({e}) — "
                          "fix: take configuration as __init__ keyword arguments") from None
    entry = Entry(name, summary.strip(), cls, dict(kwargs), _source_of(cls), reported)
    old = REGISTRY.get(name)
    same = old is not None and (old.source, old.cls.__qualname__, old.kwargs) == (entry.source, cls.__qualname__,
                                                                                    entry.kwargs)
    if old is not None and not same:
        raise PluginError(f"{where}: the name {name!r} is already registered by {old.source} — "
                          "fix: choose another name")
    REGISTRY[name] = entry
    return cls
