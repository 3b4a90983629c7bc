"""Ordinary input augmentation for a VAE: the ELBO is taken on a randomly transformed training image
(encoder input and reconstruction target alike), so the model learns the augmented distribution. Each
operation of a policy touches half the images: "xflip" mirrors left-right, "translation" shifts by up
to 1/8 of the side (genlab.augment.diffaugment's shift, zeros moved in)."""
from __future__ import annotations

import torch
from torch import Tensor

from genlab.augment import ops
from genlab.augment.diffaugment import translation
from genlab.augment.draws import chosen

INPUT_PROBABILITY = 0.5


def augment_input(x: Tensor, policy: str, generator: torch.Generator) -> Tensor:
    """x with each operation of the comma-separated `policy` ("xflip", "translation") on half the images."""
    for name in policy.split(","):
        if name == "xflip":
            x = ops.xflip(x, chosen(x.shape[0], INPUT_PROBABILITY, generator))
        elif name == "translation":
            x = translation(x, INPUT_PROBABILITY, generator)
        else:
            raise ValueError(f"unknown input augmentation {name!r}; allowed: xflip, translation")
    return x
