"""FreezeD (Mo et al. 2020, "Freeze the Discriminator"): when fine-tuning a GAN on new data, keep the
discriminator's first layers (its low-level features, learned on the parent's data) fixed and train
only the rest."""
from __future__ import annotations

from torch import nn

from genlab.config import ConfigError
from genlab.models.spectral import weight_layers


def freeze_first_layers(module: nn.Module, k: int) -> list[str]:
    """Stop training the first `k` weight layers (Linear / Conv2d / ConvTranspose2d, in the order the
    network registers them, from the input side) and their biases; returns their names. ConfigError
    when the network has fewer than k."""
    layers = list(weight_layers(module))
    if k > len(layers):
        raise ConfigError("transfer.freeze_d", k, f"D has only {len(layers)} weight layers")
    for _, layer in layers[:k]:
        layer.requires_grad_(False)
    return [name for name, _ in layers[:k]]
