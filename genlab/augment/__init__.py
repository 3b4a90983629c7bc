"""Data augmentation for small data sets: pure, differentiable image operations and the policies
that draw them.

    ops          the operations: brightness, contrast, saturation, x-flip, translation, cutout
    diffaugment  DiffAugment (Zhao et al. 2020): the same random operations on real and fake images
    ada          ADA (Karras et al. 2020): its pipeline, and p adapted from D's overfitting r_t
    inputs       ordinary input augmentation for VAEs

    x_for_d = discriminator_view(x, config.augment, generator, ada.p)   # real and fake batches alike
"""
from __future__ import annotations

import torch
from torch import Tensor

from genlab.augment.ada import ADJUST_EVERY, AdaptiveProbability, ada_augment, adjust_p
from genlab.augment.diffaugment import OPERATIONS, diff_augment
from genlab.augment.inputs import augment_input

__all__ = ["ADJUST_EVERY", "OPERATIONS", "AdaptiveProbability", "ada_augment", "adjust_p", "augment_input",
           "diff_augment", "discriminator_view"]


def discriminator_view(x: Tensor, settings, generator: torch.Generator, adaptive_p: float) -> Tensor:
    """A batch as D sees it under the augment settings (genlab.config.AugmentConfig): unchanged when
    off, through DiffAugment's policy with its strength, or through ADA's pipeline at `adaptive_p`."""
    if settings.policy == "off":
        return x
    if settings.policy == "ada":
        return ada_augment(x, adaptive_p, generator) if adaptive_p > 0 else x
    return diff_augment(x, settings.policy, generator, settings.strength)
