"""Your own 2D points, moved to the scale the networks are built for, and back.

A user's CSV may be in pixels, metres or millimetres. The networks start out producing values near
the origin at unit scale, and every default (learning rates, R1 γ, the MLP's width) was tuned on the
ring of radius 2 around the origin: the ring moved to (300, −40) gave at most one of its 8 modes in
3,000 steps at any scale from 0.01 to 1,000 (benchmarks/points_scale.py). So the trainers see user points through

    model = (x − centre) / scale,        x = centre + scale · model,

with centre the points' mean and scale their root-mean-square distance from it divided by
TARGET_RMS_RADIUS, one number for both axes so the shape is kept. Samples, plots and metrics stay in the
user's units; penalties on D's input gradient (R1, R2, WGAN-GP) act in the networks' units, as they do
for images in [-1, 1]. The built-in 2D sets are drawn at that scale already and are not moved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

TARGET_RMS_RADIUS = 2.0  # the ring's: 8 modes at radius 2
STANDARDIZED_DATASETS = ("points",)  # an uploaded CSV, a file, a drawing


@dataclass(frozen=True)
class Standardization:
    centre: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0

    @classmethod
    def fit(cls, points: torch.Tensor) -> Standardization:
        """The map that centres `points` (N, 2) and brings their RMS radius to TARGET_RMS_RADIUS; the
        identity's scale for points that all coincide (nothing to scale)."""
        values = points.detach().double().cpu()
        centre = values.mean(0)
        rms_radius = float(((values - centre) ** 2).sum(1).mean().sqrt())
        scale = rms_radius / TARGET_RMS_RADIUS if rms_radius > 0 else 1.0
        return cls((float(centre[0]), float(centre[1])), scale)

    @property
    def is_identity(self) -> bool:
        return self.centre == (0.0, 0.0) and self.scale == 1.0

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_identity:
            return x
        return (x - x.new_tensor(self.centre)) / self.scale

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_identity:
            return x
        return x * self.scale + x.new_tensor(self.centre)

    def to_json(self) -> dict[str, Any]:
        """{"centre": [x, y], "scale": s}: how a run's meta.json keeps it (checked by genlab.runs.meta)."""
        return {"centre": list(self.centre), "scale": self.scale}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Standardization:
        """From to_json's output, once genlab.runs.meta has checked it."""
        return cls((float(value["centre"][0]), float(value["centre"][1])), float(value["scale"]))


def standardization_for(dataset: str, points: torch.Tensor | None) -> Standardization:
    """The map a trainer uses for data set `dataset`: fitted on the user's points, else the identity."""
    if dataset in STANDARDIZED_DATASETS and points is not None:
        return Standardization.fit(points)
    return Standardization()
