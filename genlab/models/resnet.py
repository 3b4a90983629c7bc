"""Residual networks for square images of 28, 32 or 64 pixels, after SNGAN (Miyato et al. 2018) and
BigGAN (Brock et al. 2019), without their conditional batch norm.

Generator (and VAE decoder): z -> Linear -> (w, s, s) -> UpBlock x steps -> [BN] ReLU conv3x3 [tanh] -> (C, S, S)

    UpBlock:   x -> [BN] ReLU -> upsample x2 -> conv3x3 -> [BN] ReLU -> conv3x3  (+ upsample x2 -> conv1x1 of x)

Discriminator (and VAE encoder): x -> DownBlock x steps -> ReLU -> sum over pixels -> Linear

    DownBlock: x -> (ReLU) -> conv3x3 -> ReLU -> conv3x3 -> avg-pool /2  (+ conv1x1 -> avg-pool /2 of x)
               the first block starts without ReLU and pools its shortcut before the 1x1 conv (SNGAN's
               "optimized" block), as its input is the image itself.

The map sizes follow genlab.models.conv.resampling_plan (28 px: 7 -> 14 -> 28; 32 px: 4 -> ... -> 32;
64 px: 4 -> ... -> 64). Every block has `width` channels (SNGAN's CIFAR nets: 256 in G, 128 in D; the
app's CPU default is 32). As in genlab.models.conv, D and the encoder have no BatchNorm (gradient
penalties need per-sample outputs) and the VAE decoder none either; G keeps BatchNorm2d.
Initialisation: Xavier-uniform, gain √2 on the 3x3 convolutions of the residual path, 1 elsewhere.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from genlab.models.conv import check_image_shape, resampling_plan


def _norm(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class UpBlock(nn.Module):
    """(B, c_in, s, s) -> (B, c_out, 2s, 2s)."""

    def __init__(self, c_in: int, c_out: int, batchnorm: bool):
        super().__init__()
        self.residual = nn.Sequential(
            _norm(c_in, batchnorm), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(c_in, c_out, 3, 1, 1), _norm(c_out, batchnorm), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1),
        )
        self.shortcut = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class DownBlock(nn.Module):
    """(B, c_in, s, s) -> (B, c_out, s/2, s/2) (side rounded down: 7 -> 3 is never asked for)."""

    def __init__(self, c_in: int, c_out: int, first: bool):
        super().__init__()
        self.residual = nn.Sequential(
            *([] if first else [nn.ReLU()]), nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1), nn.AvgPool2d(2),
        )
        shortcut = [nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1)] if first else [nn.Conv2d(c_in, c_out, 1), nn.AvgPool2d(2)]
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


def resnet_init_(module: nn.Module) -> None:
    """Xavier-uniform weights (gain √2 for 3x3 convolutions, 1 otherwise), zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            gain = math.sqrt(2.0) if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) else 1.0
            nn.init.xavier_uniform_(m.weight, gain=gain)
            nn.init.zeros_(m.bias)  # every layer here has one


class ResEncoder(nn.Module):
    """x (B, C, S, S) -> features (B, out_features). The VAE encoder (out_features = 2 * latent)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int, out_features: int):
        super().__init__()
        c, side, _ = self.image_shape = check_image_shape(image_shape)
        steps, _ = resampling_plan(side)
        blocks = [DownBlock(c if i == 0 else width, width, first=i == 0) for i in range(steps)]
        self.blocks = nn.Sequential(*blocks)  # (B, w, small, small)
        self.head = nn.Linear(width, out_features)
        resnet_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.blocks(x)).sum(dim=(2, 3))  # (B, w): global sum pooling, as in SNGAN
        return self.head(features)


class ResDiscriminator(ResEncoder):
    """The encoder with one output per image: (B,) raw logits or critic values, no sigmoid."""

    def __init__(self, image_shape: tuple[int, int, int], width: int):
        super().__init__(image_shape, width, out_features=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).squeeze(1)


class ResDecoder(nn.Module):
    """z (B, latent_dim) -> (B, C, S, S). The VAE decoder: unbounded, no BatchNorm. The generator:
    batchnorm=True (BatchNorm2d + ReLU in its blocks) and tanh=True (images in [-1, 1])."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int, batchnorm: bool = False,
                 tanh: bool = False):
        super().__init__()
        c, side, _ = self.image_shape = check_image_shape(image_shape)
        self.latent_dim = latent_dim
        steps, small = resampling_plan(side)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, width * small * small),  # (B, w * s * s)
            nn.Unflatten(1, (width, small, small)),  # (B, w, s, s)
            *[UpBlock(width, width, batchnorm) for _ in range(steps)],  # (B, w, S, S)
            _norm(width, batchnorm), nn.ReLU(),
            nn.Conv2d(width, c, 3, 1, 1),  # (B, C, S, S)
            *([nn.Tanh()] if tanh else []),
        )
        resnet_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
