"""python run_bench.py --predict APPROACH FILE...: the sum of the digits in each given image, with the
approach's cached trained model (the checkpoint a run with the same data options and budget saved)."""
from __future__ import annotations

import numpy as np

from bench.images import ImageError, read_image


class PredictError(Exception):
    """Why --predict cannot run at all (one line)."""


def load_trained(name: str, dataset, budget: float | None, quick: bool, device: str, warn, plugin_dirs=(),
                 seed: int = 0, cache: str | None = None, work: str = "default"):
    """The approach, ready to predict: the checkpoint of training seed `seed` (in the folder `cache`, by
    default data/checkpoints/) loaded when it trains."""
    from bench.approach import budget_for
    from bench.checkpoints import checkpoint_path, load_checkpoint
    from bench.discovery import discover

    registry, broken = discover(plugin_dirs)
    for b in broken:
        if b.name == name:
            raise PredictError(f"{name}: plugin failed to import: {b.error}")
    if name not in registry:
        raise PredictError(f"unknown approach {name!r}; known: {', '.join(sorted(registry))}")
    entry = registry[name]
    approach = entry.create(device=device, seed=seed, digit_range=dataset.digits)
    unmet = [str(r) for r in approach.requirements() if not r.ok]
    if unmet:
        raise PredictError(f"{name}: " + "; ".join(unmet))
    if entry.cls.implements("fit"):
        protocol = entry.protocol(work)
        work_text = budget_for(approach, budget, quick, None, protocol).describe()
        path = checkpoint_path(cache, entry, dataset.hash, work_text, seed, device)
        train_hint = (f"train it first: python run_bench.py --approaches {name}"
                      + (" --quick" if quick else "") + (f" --budget {budget:g}" if budget is not None else "")
                      + (" --work report" if protocol else "") + " (with the same data options)")
        if not entry.cls.implements("get_state"):
            raise PredictError(f"{name} does not save a trained state, so it cannot predict without training")
        if load_checkpoint(path, approach, warn) is None:
            raise PredictError(f"no trained {name} for this data and budget ({path.name} missing or unreadable); "
                               + train_hint)
    return approach


def predict_files(name: str, files: list[str], dataset, budget, quick, device, console, plugin_dirs=(),
                  seed: int = 0, cache: str | None = None, work: str = "default") -> int:
    """Prints one line per file; returns 0 when every file was read, 1 when some could not be."""
    approach = load_trained(name, dataset, budget, quick, device,
                            warn=lambda text: console.print(f"[yellow]{text}[/yellow]"), plugin_dirs=plugin_dirs,
                            seed=seed, cache=cache, work=work)
    size = tuple(dataset.train.images.shape[1:])
    images, readable, failures = [], [], 0
    for f in files:
        try:
            images.append(read_image(f, size))
            readable.append(f)
        except ImageError as e:
            console.print(f"[red]error:[/red] {e}", soft_wrap=True)
            failures += 1
    if not images:
        return 1
    from bench.evaluate import ApproachFault, predict_split
    try:          # the runner's path: images checked, answers checked, digits and confidence where given
        sums, _, digits, confidence = predict_split(approach, np.stack(images), lambda *a, **k: None,
                                                    "images", details=True)
    except ApproachFault as e:
        raise PredictError(f"{name}: {e}") from None
    for i, f in enumerate(readable):
        extra = []
        if digits is not None:
            extra.append(f"digits {' + '.join(str(d) for d in digits[i]) or 'none'}")
        if confidence is not None:
            extra.append(f"confidence {float(confidence[i]):.3f}")
        value = float(sums[i])
        console.print(f"{f}: sum {round(value)}" + (f" (raw {value:.2f})" if abs(value - round(value)) > 1e-6 else "")
                      + (f"; {'; '.join(extra)}" if extra else ""), soft_wrap=True)
    return 1 if failures else 0
