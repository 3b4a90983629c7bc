"""The live 2D scene of a run on points: D over a grid, real and generated points, G's field.

The view's geometry (extent, grids, the real points and the noise of the generated ones) is fixed
once per run from the data, with a generator of its own: drawing a scene never moves the run's RNG.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from genlab.training.hooks import PREVIEW_INTERVAL_S, TimedRefresh, read_only

SCENE_POINTS = 512  # real and generated points drawn in the 2D scene
HEATMAP_RESOLUTION = 48  # D evaluated on a HEATMAP_RESOLUTION² grid (smoothed by the browser)
FIELD_RESOLUTION = 15  # G's field drawn on a FIELD_RESOLUTION² grid of arrows
EXTENT_PROBE = 20_000  # the view's extent comes from the quantiles of at most this many data points


@dataclass(frozen=True)
class Scene2D:
    """What the 2D view draws: D over a grid, real and generated points, G's field as arrows."""

    step: int
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1
    real: np.ndarray  # (n, 2)
    fake: np.ndarray  # (m, 2)
    grid_x: np.ndarray | None = None  # (R,)
    grid_y: np.ndarray | None = None  # (R,)
    heat: np.ndarray | None = None  # (R, R): D(x) in [0, 1] for a probability D, else the raw critic
    heat_label: str = ""
    field_xy: np.ndarray | None = None  # (F, 2) arrow tails
    field_uv: np.ndarray | None = None  # (F, 2) arrow directions (−∇_x loss_G), unscaled


@dataclass(frozen=True)
class SceneSetup:
    """The fixed part of a run's scene."""

    extent: tuple[float, float, float, float]
    real: np.ndarray
    noise: torch.Tensor  # latent codes of the generated points, on the trainer's device
    grid_x: np.ndarray
    grid_y: np.ndarray
    mesh: torch.Tensor  # (R², 2) heatmap points
    field_xy: np.ndarray  # (F², 2) arrow tails
    field_points: torch.Tensor  # the same, as the tensor G's field is evaluated at


def scene_setup(trainer) -> SceneSetup | None:
    """The geometry of `trainer`'s scene; None when its data are not 2D points."""
    if trainer.data.kind != "points":
        return None
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(trainer.config.seed) + 1)
    x = trainer.data.x.detach().float().cpu()
    real = x[torch.randint(len(x), (SCENE_POINTS,), generator=gen)].numpy()
    probe = x if len(x) <= EXTENT_PROBE else x[torch.randint(len(x), (EXTENT_PROBE,), generator=gen)]
    lo, hi = torch.quantile(probe, 0.005, dim=0), torch.quantile(probe, 0.995, dim=0)
    centre, half = (lo + hi) / 2, ((hi - lo) / 2).max().clamp_min(1e-3) * 1.3
    x0, x1 = float(centre[0] - half), float(centre[0] + half)
    y0, y1 = float(centre[1] - half), float(centre[1] + half)
    noise = torch.randn(SCENE_POINTS, trainer.latent_dim, generator=gen).to(trainer.device)
    gx = np.linspace(x0, x1, HEATMAP_RESOLUTION, dtype=np.float32)
    gy = np.linspace(y0, y1, HEATMAP_RESOLUTION, dtype=np.float32)
    mesh = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    fx = np.linspace(x0, x1, FIELD_RESOLUTION + 2, dtype=np.float32)[1:-1]  # arrows inside the frame
    fy = np.linspace(y0, y1, FIELD_RESOLUTION + 2, dtype=np.float32)[1:-1]
    field_xy = np.stack(np.meshgrid(fx, fy), -1).reshape(-1, 2)
    return SceneSetup(extent=(x0, x1, y0, y1), real=read_only(real), noise=noise, grid_x=read_only(gx),
                      grid_y=read_only(gy), mesh=torch.from_numpy(mesh), field_xy=read_only(field_xy),
                      field_points=torch.from_numpy(field_xy))


def draw_scene(trainer, setup: SceneSetup) -> Scene2D:
    """The scene at the trainer's current weights (a VAE has no D: points only)."""
    fake = trainer.generate(setup.noise).detach().float().cpu().numpy()
    if not hasattr(trainer, "critic"):
        return Scene2D(step=trainer.step_count, extent=setup.extent, real=setup.real, fake=read_only(fake))
    logits = trainer.critic(setup.mesh).float()
    if trainer.config.objective.gan_loss in ("nonsaturating", "minimax"):
        heat, label = torch.sigmoid(logits), "D(x)"
    else:
        heat, label = logits, "critic D(x)"
    field_uv = trainer.generator_field(setup.field_points).float().numpy()
    return Scene2D(
        step=trainer.step_count, extent=setup.extent, real=setup.real, fake=read_only(fake),
        grid_x=setup.grid_x, grid_y=setup.grid_y,
        heat=read_only(heat.reshape(HEATMAP_RESOLUTION, HEATMAP_RESOLUTION).numpy()), heat_label=label,
        field_xy=setup.field_xy, field_uv=read_only(field_uv),
    )


class SceneHook(TimedRefresh):
    """`publish(Scene2D)` while `wanted()` (a viewer asked for the scene recently)."""

    def __init__(self, setup: SceneSetup, publish: Callable[[Scene2D], None], wanted: Callable[[], bool],
                 every_s: float = PREVIEW_INTERVAL_S):
        super().__init__(publish, every_s)
        self.setup = setup
        self._wanted = wanted

    def wanted(self) -> bool:
        return self._wanted()

    def draw(self, trainer) -> Scene2D:
        return draw_scene(trainer, self.setup)
