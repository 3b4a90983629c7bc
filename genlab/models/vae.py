"""Variational autoencoder: an encoder to (mu, logvar), a decoder back to data space (Kingma & Welling 2014).

The decoder returns unbounded values (Bernoulli logits or Gaussian means); the trainer picks the likelihood.
Which networks serve as encoder and decoder (MLP or conv) is decided in `genlab.models.build_vae`.
"""
from __future__ import annotations

import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int):
        super().__init__()
        self.encoder = encoder  # x (B, *data_shape) -> (B, 2 * latent_dim)
        self.decoder = decoder  # z (B, latent_dim) -> (B, *data_shape)
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, *data_shape) -> mu, logvar, each (B, latent_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> (B, *data_shape) logits or means."""
        return self.decoder(z)

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I), so gradients flow to mu and logvar."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x -> (decoded (B, *data_shape), mu, logvar); one posterior sample per input."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode(z), mu, logvar
