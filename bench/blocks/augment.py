"""Training augmentation of digit crops."""
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
