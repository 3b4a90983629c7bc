"""ADA, adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data").

Each augmentation of a pipeline is applied to each image with one probability p, and p follows D's
overfitting: r_t = E[sign(D(x_real))] over the real images D saw in the last 4 batches is near 0 while
D cannot tell real images from fakes and tends to 1 as it memorizes the training set. Every 4 batches

    p ← clamp(p + sign(r_t − target) · (batch · 4) / speed, 0, 1)

with target 0.6 and speed 500k images (p can move from 0 to 1 within 500k real images). The paper
shows that with p below about 0.8 the augmentations do not leak into the generated images.

genlab's pipeline is a small subset of the paper's 18 operations, in this order, each with
probability p per image: x-flip (mirrored with probability ½ once chosen), integer translation by
up to 1/8 of the side (zeros moved in, where the paper reflects), brightness + N(0, 0.2), contrast
× lognormal(0, (0.5 ln 2)²), and cutout of a square of half the side (the paper's "corruption" group).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.augment import ops
from genlab.augment.diffaugment import TRANSLATION_RATIO, cutout
from genlab.augment.draws import chosen, integers, normal, where

ADJUST_EVERY = 4  # batches between two adjustments of p
BRIGHTNESS_STD = 0.2
CONTRAST_LOG2_STD = 0.5


def ada_augment(x: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """x through genlab's ADA pipeline, each operation touching each image with probability p."""
    n, _, h, w = x.shape
    x = ops.xflip(x, chosen(n, p, generator) & chosen(n, 0.5, generator))
    apply = chosen(n, p, generator)
    reach_y, reach_x = round(h * TRANSLATION_RATIO), round(w * TRANSLATION_RATIO)
    x = ops.translate(x, integers(n, -reach_y, reach_y, generator) * apply,
                      integers(n, -reach_x, reach_x, generator) * apply)
    x = ops.brightness(x, normal(n, BRIGHTNESS_STD, generator) * chosen(n, p, generator))
    x = ops.contrast(x, where(chosen(n, p, generator), torch.exp2(normal(n, CONTRAST_LOG2_STD, generator)), 1.0))
    return cutout(x, p, generator)


def adjust_p(p: float, r_t: float, target: float, images: int, speed: int) -> float:
    """p + sign(r_t − target) · images / speed, clamped to [0, 1]: ADA's step after `images` real images."""
    step = math.copysign(images / speed, r_t - target) if r_t != target else 0.0
    return min(1.0, max(0.0, p + step))


@dataclass
class AdaptiveProbability:
    """ADA's p and the overfitting heuristic r_t, fed with D's verdicts on the real images it trains on."""

    p: float = 0.0
    r_t: float = math.nan  # of the last completed interval
    _sign_sum: Tensor | float = 0.0
    _images: int = 0
    _batches: int = 0

    def observe(self, real_margin: Tensor, target: float, speed: int) -> None:
        """One batch of D's outputs on (augmented) real images, as margins (> 0: judged real); after
        every ADJUST_EVERY batches r_t is their mean sign and p takes one step towards the target."""
        self._sign_sum = self._sign_sum + real_margin.detach().sign().sum()
        self._images += real_margin.shape[0]
        self._batches += 1
        if self._batches == ADJUST_EVERY:
            self.r_t = float(self._sign_sum) / self._images
            self.p = adjust_p(self.p, self.r_t, target, self._images, speed)
            self._sign_sum, self._images, self._batches = 0.0, 0, 0

    def state(self) -> Tensor:
        """(p, r_t, whether r_t was measured yet) as a tensor of finite values, for a checkpoint."""
        measured = not math.isnan(self.r_t)
        return torch.tensor([self.p, self.r_t if measured else 0.0, float(measured)], dtype=torch.float64)

    def load(self, state: Tensor) -> None:
        self.p = float(state[0])
        self.r_t = float(state[1]) if len(state) > 2 and float(state[2]) else math.nan
