"""The shared torch training loop: mini-batches from in-memory tensors (no DataLoader, no per-sample
Python), a budget of epochs (or, in equal-time mode, of seconds) with a cosine learning rate that ends
with it (or a constant one until validation stalls), validation every epoch, early stopping on validation
accuracy, the best-validation weights restored at the end, progress, seeds, channels_last and bf16
autocast on a CPU that has native bf16.
With a budget of epochs nothing depends on the clock: the same seed gives the same model.
"""
from __future__ import annotations

import copy
import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F


def images_to_tensor(images, downscale: int = 1, size: tuple[int, int] | None = None) -> torch.Tensor:
    """(N, H, W) images, 0..255 -> uint8 tensor (N, 1, H', W'), shrunk by `downscale` (area average)
    or resized to `size`. uint8 keeps a whole split small; batches become float when they are used."""
    x = torch.from_numpy(np.ascontiguousarray(np.clip(np.asarray(images, np.float32), 0, 255))).unsqueeze(1)
    if downscale > 1:
        x = F.avg_pool2d(x, downscale, ceil_mode=True)
    if size is not None:
        x = F.interpolate(x, size=size, mode="area")
    return x.round().to(torch.uint8)


def as_float(batch: torch.Tensor, device: str, channels_last: bool) -> torch.Tensor:
    x = batch.to(device, non_blocking=True).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """bf16 pays on a CPU with native bf16 instructions (AVX512-BF16 or AMX); without them (AVX2 only)
    PyTorch emulates it and a bf16 convolution runs much slower than float32 (docs/benchmarks.md)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast(device: str, enabled: bool):
    """Mixed precision where it is fast: bf16 on a CPU with native bf16, bf16/fp16 on a GPU; else off."""
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype, enabled=enabled)
    return torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=enabled and cpu_has_fast_bf16())


@torch.inference_mode()
def predict_outputs(model, inputs: torch.Tensor, device: str = "cpu", batch_size: int = 512,
                    channels_last: bool = True, bf16: bool = False) -> torch.Tensor:
    """Model outputs for all inputs, in batches, as float32 on the CPU."""
    model.eval()
    outs = []
    for start in range(0, len(inputs), batch_size):
        with autocast(device, bf16):
            out = model(as_float(inputs[start:start + batch_size], device, channels_last))
        outs.append(out.float().cpu())
    return torch.cat(outs) if outs else torch.empty(0)


@dataclass
class TrainConfig:
    max_epochs: int = 200              # the most epochs in equal-time mode (a budget of epochs sets its own)
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 10                 # epochs without a better validation accuracy before stopping
    warmup_fraction: float = 0.03      # of the budget (or of the epochs), linear learning-rate warm-up
    bf16: bool = True                  # bf16 autocast where the CPU has native bf16
    channels_last: bool = True         # faster convolutions on a CPU
    grad_clip: float | None = 5.0
    ema: float | None = None           # decay of an exponential moving average of the weights; validated and kept
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None   # applied to each float batch
    extra: dict = field(default_factory=dict)


def train_model(model: torch.nn.Module, train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor,
                val_sums, *, loss_fn: Callable, to_sums: Callable, budget, config: TrainConfig | None = None,
                device: str = "cpu", seed: int = 0, label: str = "training") -> list[dict]:
    """Trains `model` in place until the budget (budget.epochs, or budget.seconds capped at max_epochs)
    or early stopping ends it; restores the weights with the best validation exact-sum accuracy. Returns
    the history (one dict per epoch).

    loss_fn(outputs, targets) -> scalar; to_sums(outputs) -> predicted sums (a tensor), for validation.
    """
    cfg = config or TrainConfig()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    averaged = WeightAverage(model, cfg.ema) if cfg.ema else None
    evaluated = averaged.model if averaged else model
    val_sums = torch.as_tensor(np.asarray(val_sums))
    n = len(train_x)
    steps_per_epoch = max(1, math.ceil(n / cfg.batch_size))
    if budget.epochs is None and budget.seconds is None:
        raise ValueError("train_model needs a budget of epochs or seconds; set the approach's `epochs`")
    epochs = cfg.max_epochs if budget.epochs is None else int(budget.epochs)
    total_steps = max(1, epochs * steps_per_epoch)
    started = time.monotonic()

    def progress_fraction(step: int) -> float:
        """How far through the budget: by steps, and in equal-time mode by the clock too."""
        if budget.seconds is None:
            return min(1.0, step / total_steps)
        return min(1.0, max(step / total_steps, (time.monotonic() - started) / max(1e-6, budget.seconds)))

    history, best_acc, best_state, stale, step, train_seconds = [], -1.0, None, 0, 0, 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        epoch_started = time.monotonic()
        order = torch.randperm(n, generator=generator)
        loss_sum, loss_count = 0.0, 0
        for start in range(0, n, cfg.batch_size):
            f = progress_fraction(step)
            if f >= 1.0:
                break
            warm = min(1.0, (f + 1e-9) / cfg.warmup_fraction) if cfg.warmup_fraction > 0 else 1.0
            lr = cfg.lr * warm if budget.until_stalled else cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * f))
            for group in optimizer.param_groups:
                group["lr"] = lr
            idx = order[start:start + cfg.batch_size]
            x = as_float(train_x[idx], device, cfg.channels_last)
            if cfg.augment is not None:
                x = cfg.augment(x)
            y = train_y[idx].to(device)
            with autocast(device, cfg.bf16):
                out = model(x)
            loss = loss_fn(out.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if averaged:
                averaged.update(model, step)
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            loss_count += len(idx)
            if step % 20 == 0:
                budget.progress(f"{label} epoch {epoch}", min(start + cfg.batch_size, n), n,
                                loss=f"{loss_sum / max(1, loss_count):.4f}",
                                best_val=f"{max(best_acc, 0):.4f}")
        if loss_count == 0:
            break
        train_seconds += time.monotonic() - epoch_started
        val_pred = to_sums(predict_outputs(evaluated, val_x, device, channels_last=cfg.channels_last))
        val_acc = float((torch.as_tensor(val_pred).round().long() == val_sums).float().mean())
        history.append({"epoch": epoch, "seconds": round(time.monotonic() - started, 2),
                        "loss": loss_sum / loss_count, "val_accuracy": val_acc, "images_seen": step * cfg.batch_size,
                        "train_seconds": round(train_seconds, 2)})
        budget.progress(f"{label} epoch {epoch}", n, n, loss=f"{loss_sum / loss_count:.4f}", val=f"{val_acc:.4f}")
        if val_acc > best_acc:
            best_acc, best_state, stale = val_acc, copy.deepcopy(evaluated.state_dict()), 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
        if progress_fraction(step) >= 1.0:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


class WeightAverage:
    """An exponential moving average of a model's weights (buffers such as BatchNorm statistics copied),
    updated after every optimizer step; the decay ramps up so early weights fade fast."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model, self.decay = copy.deepcopy(model), decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), 1 - decay)
        for mine, theirs in zip(self.model.buffers(), model.buffers()):
            mine.copy_(theirs)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class TorchApproach:
    """Mixin for approaches built on one torch model: state caching, parameter count and batched
    prediction. A subclass (also an Approach) defines build_model(), preprocess(images) -> uint8
    tensor and outputs_to_sums(outputs), and sets self.model in fit()."""
    model: torch.nn.Module | None = None
    channels_last: bool = True

    def build_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def preprocess(self, images) -> torch.Tensor:
        return images_to_tensor(images)

    def outputs_to_sums(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.reshape(-1)

    def get_state(self) -> dict:
        return {"model": {k: v.cpu() for k, v in self.model.state_dict().items()}}

    def set_state(self, state: dict) -> None:
        self.model = self.build_model().to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.load_state_dict(state["model"])
        self.model.eval()

    def parameter_count(self) -> int | None:
        return count_parameters(self.model) if self.model is not None else None

    def predict_batch(self, images) -> np.ndarray:
        outputs = predict_outputs(self.model, self.preprocess(images), self.device, channels_last=self.channels_last)
        return self.outputs_to_sums(outputs).double().numpy()
