"""Image transformations for augmentation, each a pure function of a batch and its per-image parameters.

Every operation is differentiable in the images (it only adds, scales, moves or masks pixels), so a
generator's gradient passes through it: what DiffAugment and ADA need, since generated images are
augmented before D sees them. Drawing the parameters is the caller's job (genlab.augment.diffaugment,
genlab.augment.ada); an identity parameter (shift 0, factor 1, no flip, empty hole) leaves an image as
it was, which is how an operation is skipped for some images of a batch.

Images are (B, C, H, W), in any value range (the GAN trainer works in [-1, 1]).
"""
from __future__ import annotations

import torch
from torch import Tensor


def _per_image(values: Tensor) -> Tensor:
    return values.reshape(-1, 1, 1, 1)


def brightness(x: Tensor, delta: Tensor) -> Tensor:
    """x + δ_b: every pixel of image b shifted by δ_b (delta: (B,))."""
    return x + _per_image(delta).to(x.dtype)


def contrast(x: Tensor, factor: Tensor) -> Tensor:
    """(x − m_b)·c_b + m_b, m_b the mean of image b over channels and pixels (factor: (B,))."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _per_image(factor).to(x.dtype) + mean


def saturation(x: Tensor, factor: Tensor) -> Tensor:
    """(x − g)·s_b + g, g each pixel's mean over the channels (its grey value); no-op on one channel."""
    grey = x.mean(dim=1, keepdim=True)
    return (x - grey) * _per_image(factor).to(x.dtype) + grey


def xflip(x: Tensor, flip: Tensor) -> Tensor:
    """Image b mirrored left-right where flip_b is True (flip: (B,) bool)."""
    return torch.where(_per_image(flip), x.flip(3), x)


def translate(x: Tensor, shift_y: Tensor, shift_x: Tensor) -> Tensor:
    """Image b moved down by shift_y[b] and right by shift_x[b] whole pixels (int tensors (B,)); pixels
    moved in from outside are 0. Made by gathering from a zero-padded copy, so gradients flow back
    to every pixel that stays in view."""
    b, c, h, w = x.shape
    pad = int(max(shift_y.abs().max(), shift_x.abs().max(), 0)) if b else 0
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = torch.arange(h, device=x.device)[None, :] + pad - shift_y.to(x.device)[:, None]  # (B, H)
    cols = torch.arange(w, device=x.device)[None, :] + pad - shift_x.to(x.device)[:, None]  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    moved = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return moved.permute(0, 3, 1, 2)


def cutout(x: Tensor, centre_y: Tensor, centre_x: Tensor, size: Tensor) -> Tensor:
    """Image b with a size[b] × size[b] square centred at (centre_y[b], centre_x[b]) set to 0 (the square
    may reach over the border; size 0 cuts nothing). DeVries & Taylor 2017."""
    _, _, h, w = x.shape
    half = size.to(x.device)[:, None] / 2
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    inside_y = (rows >= centre_y.to(x.device)[:, None] - half) & (rows < centre_y.to(x.device)[:, None] + half)
    inside_x = (cols >= centre_x.to(x.device)[:, None] - half) & (cols < centre_x.to(x.device)[:, None] + half)
    hole = inside_y[:, :, None] & inside_x[:, None, :]  # (B, H, W)
    return x * (~hole)[:, None].to(x.dtype)
