"""Spectral normalization (Miyato et al. 2018) of every weight layer in a network.

Uses torch's parametrization API: `layer.weight` becomes W / sigma(W), where sigma is estimated with one
power iteration per forward pass in train mode (torch runs 15 when the parametrization is registered).
The trained tensor lives at `layer.parametrizations.weight.original`.
"""
from __future__ import annotations

from collections.abc import Iterator

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

WEIGHT_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def weight_layers(module: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """(qualified name, layer) for every Linear / Conv2d / ConvTranspose2d inside `module`."""
    for name, m in module.named_modules():
        if isinstance(m, WEIGHT_LAYERS):
            yield name, m


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalize every Linear / Conv2d / ConvTranspose2d weight in place; returns `module`.

    Initialise weights before calling this: afterwards `layer.weight` is computed, not stored.
    torch picks the output dimension itself (dim=1 for transposed convolutions).
    """
    for _, layer in list(weight_layers(module)):
        if not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer)
    return module
