"""The 2D scene of a GAN on 2D data (GAN Lab style): real and generated points over D's heatmap, with
arrows showing where the generator's loss pushes generated samples.
"""
from __future__ import annotations

import math

import numpy as np

from genlab.viz.figures import FAKE_COLOUR, REAL_COLOUR, SQUARE_HEIGHT, LightFigure, figure, heading

FIELD_COLOUR = "rgba(40, 40, 40, 0.75)"
# plotly's RdBu reversed, spelled out so that genlab.viz.raster can draw it too: D's "fake" red at
# the low end, its "real" blue at the high end (the colours of the generated and real points)
HEAT_SCALE = [[0.0, "rgb(178,10,28)"], [0.3, "rgb(230,145,90)"], [0.4, "rgb(220,170,132)"],
              [0.5, "rgb(190,190,190)"], [0.65, "rgb(106,137,247)"], [1.0, "rgb(5,10,172)"]]


def arrow_segments(xy: np.ndarray, uv: np.ndarray, length: float, head: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (NaN-separated x and y arrays) drawing an arrow from each point along uv.

    Arrows are scaled so the longest is `length`; the others keep their relative magnitude (with a
    square-root compression, so weak regions stay visible)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    if len(xy) == 0:
        return np.empty(0, np.float32), np.empty(0, np.float32)
    norms = np.linalg.norm(uv, axis=1)
    peak = norms.max() if np.isfinite(norms).all() and norms.max() > 0 else 1.0
    scale = np.sqrt(norms / peak) * length / np.maximum(norms, 1e-12)
    d = uv * scale[:, None]
    tip = xy + d
    # arrow head: two short strokes back from the tip, ±25° from the shaft
    cos, sin = math.cos(math.radians(25)), math.sin(math.radians(25))
    back = -d * head
    left = np.stack([back[:, 0] * cos - back[:, 1] * sin, back[:, 0] * sin + back[:, 1] * cos], 1)
    right = np.stack([back[:, 0] * cos + back[:, 1] * sin, -back[:, 0] * sin + back[:, 1] * cos], 1)
    nan = np.full((len(xy), 2), np.nan)
    # per arrow: tail, tip, NaN, tip+left, tip, tip+right, NaN
    pts = np.stack([xy, tip, nan, tip + left, tip, tip + right, nan], axis=1).reshape(-1, 2)
    return pts[:, 0].astype(np.float32), pts[:, 1].astype(np.float32)


def scene_figure(scene, *, show_field: bool = True, show_heat: bool = True, uirevision: str = "scene") -> LightFigure:
    """Real (blue) vs generated (red) points over the discriminator's heatmap, with arrows showing
    where the generator's loss pushes a generated sample at each place (−∇_x loss_G)."""
    x0, x1, y0, y1 = scene.extent
    data: list[dict] = []
    if show_heat and scene.heat is not None:
        probability = scene.heat_label == "D(x)"
        data.append({
            "type": "heatmap", "x": scene.grid_x, "y": scene.grid_y, "z": np.asarray(scene.heat, dtype=np.float32),
            "colorscale": HEAT_SCALE, "opacity": 0.55, "name": scene.heat_label, "zsmooth": "best",
            "zmin": 0.0 if probability else None, "zmax": 1.0 if probability else None,
            "zmid": None if probability else 0.0,
            "colorbar": {"title": {"text": scene.heat_label}, "thickness": 10, "len": 0.8},
            "hovertemplate": "x=%{x:.2f}<br>y=%{y:.2f}<br>" + scene.heat_label + "=%{z:.3f}<extra></extra>",
            "showlegend": False,
        })
    data.append({"type": "scatter", "mode": "markers", "x": scene.real[:, 0], "y": scene.real[:, 1], "name": "real",
                 "marker": {"size": 4, "color": REAL_COLOUR, "opacity": 0.7}})
    data.append({"type": "scatter", "mode": "markers", "x": scene.fake[:, 0], "y": scene.fake[:, 1],
                 "name": "generated", "marker": {"size": 4, "color": FAKE_COLOUR, "opacity": 0.8}})
    if show_field and scene.field_xy is not None and scene.field_uv is not None:
        cells = max(1, int(round(math.sqrt(len(scene.field_xy)))))
        length = 0.9 * (x1 - x0) / (cells + 1)
        ax, ay = arrow_segments(scene.field_xy, scene.field_uv, length)
        data.append({"type": "scatter", "mode": "lines", "x": ax, "y": ay, "name": "G's gradient field",
                     "line": {"width": 1, "color": FIELD_COLOUR}, "hoverinfo": "skip", "connectgaps": False})
    layout = {
        "title": heading(f"Real vs generated, step {scene.step}"),
        "uirevision": uirevision,
        "xaxis": {"range": [x0, x1], "constrain": "domain", "zeroline": False},
        "yaxis": {"range": [y0, y1], "scaleanchor": "x", "scaleratio": 1, "zeroline": False},
        "hovermode": "closest",
        "height": SQUARE_HEIGHT,
    }
    return figure(data, layout)


def points_figure(
    real: np.ndarray | None, fake: np.ndarray, *, title: str = "Samples", uirevision: str = "points"
) -> LightFigure:
    """Generated points (red) over real ones (blue), for 2D runs without a scene yet."""
    data = []
    if real is not None:
        data.append({"type": "scatter", "mode": "markers", "x": real[:, 0], "y": real[:, 1], "name": "real",
                     "marker": {"size": 4, "color": REAL_COLOUR, "opacity": 0.6}})
    data.append({"type": "scatter", "mode": "markers", "x": fake[:, 0], "y": fake[:, 1], "name": "generated",
                 "marker": {"size": 5, "color": FAKE_COLOUR}})
    layout = {"title": heading(title), "uirevision": uirevision,
              "yaxis": {"scaleanchor": "x", "scaleratio": 1}, "hovermode": "closest", "height": SQUARE_HEIGHT}
    return figure(data, layout)
