"""Model builders: `build_gan(cfg, data_shape) -> (G, D)` and `build_vae(cfg, data_shape) -> VAE`.

data_shape is the per-sample shape: (2,) for 2D points, (C, S, S) for images with S in 28, 32, 64.
arch "mlp" works for both (images are flattened); arch "conv" is DCGAN-style and "resnet" SNGAN-style
(residual blocks, genlab.models.resnet); both need images.
cfg.width is hidden units for MLPs and base channels for conv nets (the app uses DEFAULT_CONV_WIDTH = 32
for conv image models on CPU); cfg.depth is the number of hidden layers of an MLP.
Spectral normalization: cfg.spectral_norm_<network> for each of generator, discriminator, encoder, decoder.
"""
from __future__ import annotations

from torch import nn

from genlab.config import ModelConfig
from genlab.models.conv import (
    DEFAULT_CONV_WIDTH,
    ConvDecoder,
    ConvDiscriminator,
    ConvEncoder,
    ConvGenerator,
    check_image_shape,
    dcgan_init_,
)
from genlab.models.mlp import MLPDecoder, MLPDiscriminator, MLPEncoder, MLPGenerator
from genlab.models.resnet import ResDecoder, ResDiscriminator, ResEncoder
from genlab.models.spectral import apply_spectral_norm, weight_layers
from genlab.models.vae import VAE

__all__ = [
    "DEFAULT_CONV_WIDTH",
    "VAE",
    "apply_spectral_norm",
    "build_gan",
    "build_vae",
    "weight_layers",
]


def _check_data_shape(arch: str, data_shape: tuple) -> tuple[int, ...]:
    shape = tuple(int(n) for n in data_shape)
    if arch in ("conv", "resnet"):
        return check_image_shape(shape)
    if arch == "mlp":
        if len(shape) not in (1, 3) or min(shape, default=0) < 1:
            raise ValueError(f"mlp models need data of shape (D,) or (C, H, W); got {shape}")
        return shape
    raise ValueError(f"unknown model arch {arch!r}; allowed: mlp, conv, resnet")


def build_gan(cfg: ModelConfig, data_shape: tuple) -> tuple[nn.Module, nn.Module]:
    """(G, D): G(z (B, latent_dim)) -> (B, *data_shape); D(x (B, *data_shape)) -> (B,) raw logits."""
    shape = _check_data_shape(cfg.arch, data_shape)
    if cfg.arch == "conv":
        G: nn.Module = ConvGenerator(cfg.latent_dim, shape, cfg.width)
        D: nn.Module = ConvDiscriminator(shape, cfg.width)
        dcgan_init_(G)
        dcgan_init_(D)
    elif cfg.arch == "resnet":
        G = ResDecoder(cfg.latent_dim, shape, cfg.width, batchnorm=True, tanh=True)
        D = ResDiscriminator(shape, cfg.width)
    else:
        is_image = len(shape) == 3
        G = MLPGenerator(cfg.latent_dim, shape, cfg.width, cfg.depth, tanh=is_image)
        D = MLPDiscriminator(shape, cfg.width, cfg.depth)
    # Spectral norm goes last: it must see the initialised weights.
    if cfg.spectral_norm_generator:
        apply_spectral_norm(G)
    if cfg.spectral_norm_discriminator:
        apply_spectral_norm(D)
    return G, D


def build_vae(cfg: ModelConfig, data_shape: tuple) -> VAE:
    """VAE whose decoder outputs unbounded (B, *data_shape) values; PyTorch's default initialisation."""
    shape = _check_data_shape(cfg.arch, data_shape)
    if cfg.arch == "conv":
        encoder: nn.Module = ConvEncoder(shape, cfg.width, out_features=2 * cfg.latent_dim)
        decoder: nn.Module = ConvDecoder(cfg.latent_dim, shape, cfg.width, batchnorm=False)
    elif cfg.arch == "resnet":
        encoder = ResEncoder(shape, cfg.width, out_features=2 * cfg.latent_dim)
        decoder = ResDecoder(cfg.latent_dim, shape, cfg.width)
    else:
        encoder = MLPEncoder(shape, cfg.width, cfg.depth, out_features=2 * cfg.latent_dim)
        decoder = MLPDecoder(cfg.latent_dim, shape, cfg.width, cfg.depth)
    if cfg.spectral_norm_encoder:
        apply_spectral_norm(encoder)
    if cfg.spectral_norm_decoder:
        apply_spectral_norm(decoder)
    return VAE(encoder, decoder, cfg.latent_dim)
