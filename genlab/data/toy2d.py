"""Synthetic 2D data sets, drawn with a seeded CPU generator so a seed gives the same points everywhere.

Ring and grid follow PacGAN's geometry (Lin et al. 2018, after VEEGAN): 8 modes on a circle of radius 1
with sigma = 0.01, and 25 modes at {-4, -2, 0, 2, 4}^2 with sigma = 0.05. Their centres and sigma are
returned so the mode-coverage metric can use them. The other sets follow the FFJORD / scikit-learn toy
distributions, scaled to lie roughly within [-4, 4]^2.
"""
from __future__ import annotations

import math

import torch

RING_MODES = 8
RING_RADIUS = 1.0
RING_STD = 0.01
GRID_VALUES = (-4.0, -2.0, 0.0, 2.0, 4.0)
GRID_STD = 0.05


def ring_modes() -> torch.Tensor:
    angles = torch.arange(RING_MODES, dtype=torch.float64) * (2 * math.pi / RING_MODES)
    return (RING_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_modes() -> torch.Tensor:
    values = torch.tensor(GRID_VALUES)
    return torch.cartesian_prod(values, values)  # (25, 2), row-major over (x, y)


def _mixture(modes: torch.Tensor, std: float, n: int, g: torch.Generator) -> torch.Tensor:
    which = torch.randint(len(modes), (n,), generator=g)
    return modes[which] + std * torch.randn(n, 2, generator=g)


def _uniform(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g)


def ring(n: int, g: torch.Generator) -> torch.Tensor:
    return _mixture(ring_modes(), RING_STD, n, g)


def grid(n: int, g: torch.Generator) -> torch.Tensor:
    return _mixture(grid_modes(), GRID_STD, n, g)


def spiral(n: int, g: torch.Generator) -> torch.Tensor:
    """Two interleaved spiral arms (FFJORD's "2spirals"), radius up to about 3.3."""
    half = (n + 1) // 2
    t = _uniform(half, g).sqrt() * 3 * math.pi  # sqrt: uniform density along the arm's area
    arm = torch.stack([-t.cos() * t, t.sin() * t], dim=1) + 0.5 * torch.rand(half, 2, generator=g)
    points = torch.cat([arm, -arm])[:n]
    return points / 3 + 0.1 * torch.randn(n, 2, generator=g)


def moons(n: int, g: torch.Generator) -> torch.Tensor:
    """scikit-learn's two moons (noise 0.1 before scaling), centred and scaled by 2: about [-3, 3] x [-1.7, 1.7]."""
    outer = n // 2
    t = _uniform(n, g) * math.pi
    x = torch.where(torch.arange(n) < outer, t.cos(), 1 - t.cos())
    y = torch.where(torch.arange(n) < outer, t.sin(), 0.5 - t.sin())
    points = torch.stack([x, y], dim=1) + 0.1 * torch.randn(n, 2, generator=g)
    return 2 * (points - torch.tensor([0.5, 0.25]))


def circles(n: int, g: torch.Generator) -> torch.Tensor:
    """Two concentric circles of radius 1.5 and 3 with Gaussian noise of std 0.1."""
    radius = torch.where(torch.arange(n) < n // 2, 3.0, 1.5)
    t = _uniform(n, g) * 2 * math.pi
    points = radius[:, None] * torch.stack([t.cos(), t.sin()], dim=1)
    return points + 0.1 * torch.randn(n, 2, generator=g)


def checkerboard(n: int, g: torch.Generator) -> torch.Tensor:
    """Uniform on the black squares of a 4x4 checkerboard over [-4, 4]^2 (FFJORD)."""
    x1 = _uniform(n, g) * 4 - 2
    x2 = _uniform(n, g) - torch.randint(0, 2, (n,), generator=g).float() * 2
    x2 = x2 + torch.floor(x1) % 2
    return 2 * torch.stack([x1, x2], dim=1)


def swissroll(n: int, g: torch.Generator) -> torch.Tensor:
    """scikit-learn's swiss roll (noise 1.0) seen from the side (x, z), divided by 5: about [-3, 3]^2."""
    t = 1.5 * math.pi * (1 + 2 * _uniform(n, g))
    points = torch.stack([t * t.cos(), t * t.sin()], dim=1) + torch.randn(n, 2, generator=g)
    return points / 5


GENERATORS = {
    "ring": ring,
    "grid": grid,
    "spiral": spiral,
    "moons": moons,
    "circles": circles,
    "checkerboard": checkerboard,
    "swissroll": swissroll,
}

# Mixture geometry of the sets that have discrete modes (for mode-coverage metrics).
MODES = {"ring": (ring_modes, RING_STD), "grid": (grid_modes, GRID_STD)}


def make_points(name: str, n: int, seed: int) -> torch.Tensor:
    """`n` points of the named set as float32 (n, 2) on the CPU; the same seed gives the same points."""
    if name not in GENERATORS:
        raise ValueError(f"unknown 2D data set {name!r}; choose one of {', '.join(GENERATORS)}")
    g = torch.Generator().manual_seed(seed)
    return GENERATORS[name](n, g).float().contiguous()
