"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same random transformations are applied to real and generated images every time D sees them,
in D's update and in G's (so G learns through them: every operation is differentiable). D then
never sees a raw training image, which keeps it from memorizing a small set, and since fakes are
transformed alike, G is not pushed to produce transformed images.

The operations and ranges of the paper, for images in [-1, 1]:
    color        brightness + U(−0.5, 0.5), saturation × U(0, 2), contrast × U(0.5, 1.5)
    translation  shift by up to 1/8 of the side in each direction (whole pixels), zeros moved in
    cutout       a square of half the side set to 0, centred anywhere in the image
A policy names some of them ("translation,cutout"). With strength p < 1 each operation touches each
image with probability p (the paper always applies them: p = 1).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from genlab.augment import ops
from genlab.augment.draws import chosen, integers, uniform, where

TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def color(x: Tensor, p: float, generator: torch.Generator) -> Tensor:
    n = x.shape[0]
    x = ops.brightness(x, uniform(n, -0.5, 0.5, generator) * chosen(n, p, generator))
    x = ops.saturation(x, where(chosen(n, p, generator), uniform(n, 0.0, 2.0, generator), 1.0))
    return ops.contrast(x, where(chosen(n, p, generator), uniform(n, 0.5, 1.5, generator), 1.0))


def translation(x: Tensor, p: float, generator: torch.Generator, ratio: float = TRANSLATION_RATIO) -> Tensor:
    n, _, h, w = x.shape
    apply = chosen(n, p, generator)
    reach_y, reach_x = round(h * ratio), round(w * ratio)
    shift_y = integers(n, -reach_y, reach_y, generator) * apply
    shift_x = integers(n, -reach_x, reach_x, generator) * apply
    return ops.translate(x, shift_y, shift_x)


def cutout(x: Tensor, p: float, generator: torch.Generator, ratio: float = CUTOUT_RATIO) -> Tensor:
    n, _, h, w = x.shape
    apply = chosen(n, p, generator)
    centre_y, centre_x = integers(n, 0, h - 1, generator), integers(n, 0, w - 1, generator)
    return ops.cutout(x, centre_y, centre_x, round(min(h, w) * ratio) * apply)


OPERATIONS: dict[str, Callable[[Tensor, float, torch.Generator], Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout,
}


def diff_augment(x: Tensor, policy: str, generator: torch.Generator, p: float = 1.0) -> Tensor:
    """x through each operation the comma-separated `policy` names, in its order, each touching each
    image with probability p; new random parameters for every image and every call."""
    for name in policy.split(","):
        if name not in OPERATIONS:
            raise ValueError(f"unknown DiffAugment operation {name!r}; allowed: {', '.join(OPERATIONS)}")
        x = OPERATIONS[name](x, p, generator)
    return x
