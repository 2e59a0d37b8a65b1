"""Training augmentation of digit crops, and the low-pass filter a reader may see every image through."""
import torch
from torch.nn import functional as F


def random_affine(crops: torch.Tensor, degrees=10.0, scale=0.1, shift=0.08) -> torch.Tensor:
    """(B, slots, H, W) crops, each rotated, scaled and shifted a little (one grid_sample per batch);
    empty slots stay empty."""
    b, k, h, w = crops.shape
    n = b * k
    angle = (torch.rand(n) * 2 - 1) * degrees * torch.pi / 180
    zoom = 1 + (torch.rand(n) * 2 - 1) * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, (torch.rand(n) * 2 - 1) * shift], 1),
                         torch.stack([sin, cos, (torch.rand(n) * 2 - 1) * shift], 1)], 1)
    grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)
    out = F.grid_sample(crops.reshape(n, 1, h, w), grid.to(crops.dtype), align_corners=False)
    return out.reshape(b, k, h, w) * (crops.amax((2, 3), keepdim=True) > 0)


def soften(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) float images through a fixed 3x3 low-pass filter, [1, 6, 1] / 8 along each axis. Every digit
    the composer draws is resampled (turned and scaled), so a reader trained on its images alone learns
    that softness and misreads digits drawn without resampling, such as MNIST's own pixels. A reader that
    predicts through this filter and trains on a share of its images filtered reads both."""
    taps = images.new_tensor([1 / 8, 6 / 8, 1 / 8])
    kernel = (taps[:, None] * taps[None]).reshape(1, 1, 3, 3)
    return F.conv2d(images, kernel, padding=1)
