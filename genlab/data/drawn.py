"""A 2D data set the user draws: points picked on a grid over the plane, spread into a density.

The drawing is a set of anchors, each a node of a CELLS × CELLS grid over [−EXTENT, EXTENT]² (a click
or a lasso on the page picks nodes). The data set is a Gaussian mixture over them,

    x = a_i + σ·ε,   i uniform over the anchors,  ε ~ N(0, I),

sampled once with a fixed seed (so a drawing always gives the same data set), as many points as a
toy 2D set. Its anchors travel in a link as text: two URL-safe characters per anchor (its column and
row on the grid), e.g. "Ug" is the node in column 20, row 32. A run on a drawing keeps the whole data
set in its config, as data.path = "drawn:<σ>:<that text>" (dataset "points"): a saved run reopens with
its data, and the CLI trains on the same path.
"""
from __future__ import annotations

import numpy as np
import torch

from genlab.config import ConfigError
from genlab.data.points import points_from_array
from genlab.data.source import DataSource
from genlab.drawing_codec import DEFAULT_SPREAD, EXTENT, FIELD, MAX_ANCHORS, snap

SAMPLES = 4096


def drawn_samples(anchors, spread: float = DEFAULT_SPREAD, n: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """n points of the mixture of N(a, σ²I) over the anchors (fixed seed: the same drawing, the same set)."""
    centres = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    if len(centres) == 0:
        raise ConfigError(FIELD, "", "draw at least one point first")
    if len(centres) > MAX_ANCHORS:
        raise ConfigError(FIELD, f"{len(centres)} points", f"at most {MAX_ANCHORS} points can be drawn")
    if not 0.0 <= spread <= EXTENT:
        raise ConfigError("spread", spread, f"must be between 0 and {EXTENT:g}")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(centres), size=n)
    return centres[picks] + spread * rng.standard_normal((n, 2))


def drawn_source(anchors, spread: float = DEFAULT_SPREAD, device: torch.device | str = "cpu") -> DataSource:
    """The DataSource a GAN or VAE trains on for a drawing (genlab.data.points checks the array)."""
    count = len(snap(anchors)) if len(anchors) else 0
    return points_from_array(drawn_samples(anchors, spread), device=device,
                             origin=f"your drawing ({count} points, σ = {spread:g})")
