"""Latents on grids, decoded in one batch: traversals (one dimension swept per row, the others fixed)
and manifold grids (two dimensions over prior quantiles, laid out like an image).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.latent.model import LatentModel


def traversal_values(low: float, high: float, steps: int) -> Tensor:
    """`steps` (≥ 2) evenly spaced values from low to high (< high): what each traversal row sweeps."""
    if steps < 2:
        raise ValueError(f"a traversal needs at least 2 steps, got {steps}")
    if not low < high:
        raise ValueError(f"the traversal range must have low < high, got [{low}, {high}]")
    return torch.linspace(float(low), float(high), int(steps))


def traversal_latents(base: Tensor, dims: Sequence[int], values: Tensor) -> Tensor:
    """(len(dims), k, d): row r is `base` with dimension dims[r] set to each of the k values."""
    base = torch.as_tensor(base, dtype=torch.float32).reshape(-1)
    z = base.repeat(len(dims), len(values), 1)
    for row, dim in enumerate(dims):
        z[row, :, dim] = values
    return z


@dataclass
class Traversal:
    dims: list[int]  # latent dimension of each row, in display order
    values: Tensor  # (k,) the values each row sweeps
    decoded: Tensor  # (rows, k, *data_shape) in data space
    kl: Tensor | None  # (latent_dim,) per-dimension KL (VAE), for row labels


def traverse(model: LatentModel, base: Tensor, dims: Sequence[int], low: float = -3.0, high: float = 3.0,
             steps: int = 9, kl: Tensor | None = None) -> Traversal:
    """Decode one row per dimension in `dims` (one batch for all rows)."""
    values = traversal_values(low, high, steps)
    z = traversal_latents(base, dims, values)
    decoded = model.decode(z.reshape(-1, model.latent_dim))
    return Traversal(list(dims), values, decoded.reshape(len(dims), len(values), *decoded.shape[1:]), kl)


def prior_quantile_values(n: int, low_q: float = 0.05, high_q: float = 0.95) -> Tensor:
    """n latent values evenly spaced in probability under N(0, 1): Φ⁻¹(linspace(low_q, high_q, n))."""
    if n < 2:
        raise ValueError(f"a grid needs at least 2 values per axis, got {n}")
    if not 0.0 < low_q < high_q < 1.0:
        raise ValueError(f"quantiles must satisfy 0 < low < high < 1, got {low_q}, {high_q}")
    p = torch.linspace(low_q, high_q, n, dtype=torch.float64)
    return torch.distributions.Normal(0.0, 1.0).icdf(p).float()


def manifold_latents(latent_dim: int, n: int, dims: tuple[int, int] = (0, 1), base: Tensor | None = None,
                     low_q: float = 0.05, high_q: float = 0.95) -> Tensor:
    """(n·n, d) latents on an n×n grid over prior quantiles of dims (x, y), the others at `base` (0).

    Row-major like an image: row 0 is the top (highest y), column 0 the left (lowest x).
    """
    dx, dy = dims
    if latent_dim < 2 or dx == dy or not (0 <= dx < latent_dim and 0 <= dy < latent_dim):
        raise ValueError(f"a manifold grid needs two different dimensions of a latent of size {latent_dim}, got {dims}")
    values = prior_quantile_values(n, low_q, high_q)
    base = torch.zeros(latent_dim) if base is None else torch.as_tensor(base, dtype=torch.float32).reshape(-1)
    z = base.repeat(n, n, 1)
    z[:, :, dx] = values[None, :]
    z[:, :, dy] = values.flip(0)[:, None]
    return z.reshape(n * n, latent_dim)


def manifold(model: LatentModel, n: int = 12, dims: tuple[int, int] = (0, 1), base: Tensor | None = None,
             low_q: float = 0.05, high_q: float = 0.95) -> Tensor:
    """(n·n, *data_shape) decoded manifold grid (see manifold_latents).

    A 1-D latent has no grid: its n decoded prior quantiles (a line) come back instead.
    """
    if model.latent_dim == 1:
        return model.decode(prior_quantile_values(n, low_q, high_q)[:, None])
    return model.decode(manifold_latents(model.latent_dim, n, dims, base, low_q, high_q))
