"""DCGAN-style convolutional networks for square images of 28, 32 or 64 pixels.

After Radford et al. 2015 and pytorch/examples `dcgan/main.py`. The generator projects z to a small
feature map and doubles its side with ConvTranspose2d(4, 2, 1) until it reaches the image size; the
discriminator halves the side with Conv2d(4, 2, 1) back down to the same small map.

`width` is the number of channels at the largest feature map; channels double each time the map halves:

    28 px:  7 -> 14 -> 28                 smallest map (2w, 7, 7)
    32 px:  4 -> 8 -> 16 -> 32            smallest map (4w, 4, 4)
    64 px:  4 -> 8 -> 16 -> 32 -> 64      smallest map (8w, 4, 4)

Cost grows with width squared. On 2 CPU cores the app uses width 32 (`DEFAULT_CONV_WIDTH`); 16..128 all
work. `ModelConfig.depth` does not apply here: the depth follows the image size.

The discriminator (and the VAE encoder) has no BatchNorm: gradient penalties (WGAN-GP, R1, R2) need each
output to depend on its own sample only. The generator keeps DCGAN's BatchNorm2d with default eps and
momentum (`BatchNorm2d(n, 0.8)` would set eps=0.8, a known bug in peer code).

Activations work in place (a convolution's or BatchNorm's backward pass reads its input, not its
output), as in genlab.models.mlp.
"""
from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZES = (28, 32, 64)
DEFAULT_CONV_WIDTH = 32  # base channels the app uses for conv image models on CPU


def check_image_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(C, S, S) with S in IMAGE_SIZES, or ValueError saying what the conv models accept."""
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in IMAGE_SIZES or shape[0] < 1:
        raise ValueError(
            f"conv models need square images of shape (C, S, S) with S in {IMAGE_SIZES}; got data shape {shape}. "
            "Use arch 'mlp' for 2D points."
        )
    return shape  # type: ignore[return-value]


def resampling_plan(side: int) -> tuple[int, int]:
    """(number of 2x resampling steps, side of the smallest feature map) for an image of `side` pixels."""
    if side == 28:
        return 2, 7  # 7 -> 14 -> 28
    return {32: 3, 64: 4}[side], 4  # 4 -> 8 -> ... -> side


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN initialisation: conv and linear weights N(0, 0.02), BatchNorm weight N(1, 0.02), biases 0."""
    for m in module.modules():
        if any(p.is_meta for p in m.parameters(recurse=False)):
            continue  # genlab.models.budget sizes models on the meta device: no values to draw there
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class ConvEncoder(nn.Module):
    """x (B, C, S, S) -> features (B, out_features). The VAE encoder (out_features = 2 * latent)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int, out_features: int):
        super().__init__()
        self.image_shape = check_image_shape(image_shape)
        c, side, _ = self.image_shape
        steps, small = resampling_plan(side)
        channels = [c] + [width * 2**i for i in range(steps)]  # 32 px: C, w, 2w, 4w
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]  # side halves, channels grow
        self.net = nn.Sequential(
            *layers,  # (B, channels[-1], small, small)
            nn.Flatten(),  # (B, channels[-1] * small * small)
            nn.Linear(channels[-1] * small * small, out_features),  # (B, out_features)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDiscriminator(ConvEncoder):
    """x (B, C, S, S) -> (B,) raw logits / critic values (no sigmoid, no BatchNorm)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int):
        super().__init__(image_shape, width, out_features=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class ConvDecoder(nn.Module):
    """z (B, latent_dim) -> (B, C, S, S), unbounded. With batchnorm=True it is the DCGAN generator body."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int, batchnorm: bool = False):
        super().__init__()
        self.image_shape = check_image_shape(image_shape)
        c, side, _ = self.image_shape
        self.latent_dim = latent_dim
        steps, small = resampling_plan(side)
        channels = [width * 2**i for i in reversed(range(steps))]  # 32 px: 4w, 2w, w

        def norm_relu(n: int) -> list[nn.Module]:
            return [nn.BatchNorm2d(n), nn.ReLU(inplace=True)] if batchnorm else [nn.ReLU(inplace=True)]

        # A bias just before BatchNorm is cancelled by its mean subtraction, so DCGAN drops it.
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, channels[0] * small * small, bias=not batchnorm),  # (B, 4w * 4 * 4)
            nn.Unflatten(1, (channels[0], small, small)),  # (B, 4w, 4, 4)
            *norm_relu(channels[0]),
        ]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=not batchnorm), *norm_relu(c_out)]  # side doubles
        layers.append(nn.ConvTranspose2d(channels[-1], c, 4, 2, 1))  # (B, C, S, S)
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConvGenerator(ConvDecoder):
    """z (B, latent_dim) -> images (B, C, S, S) in [-1, 1]: DCGAN with BatchNorm2d + ReLU, tanh output."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int):
        super().__init__(latent_dim, image_shape, width, batchnorm=True)
        self.net.append(nn.Tanh())
