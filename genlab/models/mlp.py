"""Fully connected networks for 2D points and flattened images.

One rule for every family: networks that map data to features (GAN discriminator, VAE encoder) use
LeakyReLU(0.2); networks that map a latent code to data (GAN generator, VAE decoder) use ReLU.
No normalization layers anywhere, so each output depends on its own sample only.

    encoder / D:  (B, *shape) -> flatten (B, n) -> [Linear(., width) + LeakyReLU] x depth -> Linear(width, out)
    decoder / G:  (B, latent) -> [Linear(., width) + ReLU] x depth -> Linear(width, n) -> (B, *shape)
"""
from __future__ import annotations

import math

import torch
from torch import nn


def hidden_layers(in_features: int, width: int, depth: int, activation: type[nn.Module], **kwargs) -> list[nn.Module]:
    """`depth` hidden layers of `width` units, each followed by `activation(inplace=True, **kwargs)`.

    In place, since a Linear's backward pass never reads its output: the activation overwrites it
    instead of writing a copy, and its backward reads the result (the same values and gradients, also
    through R1's double backward). One thread, the ring preset's critic with R1 (a one-off script,
    medians of 9 alternating rounds): 738 against 773 µs a step for LeakyReLU.
    """
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_features if i == 0 else width, width), activation(inplace=True, **kwargs)]
    return layers


class MLPEncoder(nn.Module):
    """x (B, *in_shape) -> features (B, out_features). The VAE encoder (out_features = 2 * latent)."""

    def __init__(self, in_shape: tuple[int, ...], width: int, depth: int, out_features: int):
        super().__init__()
        self.in_shape = tuple(in_shape)
        n_in = math.prod(self.in_shape)
        self.net = nn.Sequential(
            nn.Flatten(),  # (B, n_in); a no-op for points (B, 2)
            *hidden_layers(n_in, width, depth, nn.LeakyReLU, negative_slope=0.2),  # (B, width)
            nn.Linear(width, out_features),  # (B, out_features)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPDiscriminator(MLPEncoder):
    """x (B, *in_shape) -> (B,) raw logits / critic values (no sigmoid: the loss decides)."""

    def __init__(self, in_shape: tuple[int, ...], width: int, depth: int):
        super().__init__(in_shape, width, depth, out_features=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class MLPDecoder(nn.Module):
    """z (B, latent_dim) -> (B, *out_shape), unbounded (VAE logits or means; points for a GAN)."""

    def __init__(self, latent_dim: int, out_shape: tuple[int, ...], width: int, depth: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.out_shape = tuple(out_shape)
        self.net = nn.Sequential(
            *hidden_layers(latent_dim, width, depth, nn.ReLU),  # (B, width)
            nn.Linear(width, math.prod(self.out_shape)),  # (B, n_out)
            nn.Unflatten(1, self.out_shape),  # (B, *out_shape)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPGenerator(MLPDecoder):
    """z (B, latent_dim) -> (B, *out_shape): linear output for points, tanh in [-1, 1] for images."""

    def __init__(self, latent_dim: int, out_shape: tuple[int, ...], width: int, depth: int, tanh: bool):
        super().__init__(latent_dim, out_shape, width, depth)
        if tanh:
            self.net.append(nn.Tanh())
