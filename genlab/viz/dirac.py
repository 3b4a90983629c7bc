"""The Dirac-GAN lab's chart: the game's vector field on the (θ, ψ) plane with gradient-descent paths.

A faint grid of markers covers the plane so that a click anywhere lands on a point (plotly reports
clicks on data only): the page reads the clicked point as the paths' new start (click_point).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from genlab.viz.figures import SQUARE_HEIGHT, LightFigure, figure, heading
from genlab.viz.scene import FIELD_COLOUR, arrow_segments
from genlab.viz.targets import selected_points, target_trace

PATH_COLOURS = {"simultaneous": "#ff7f0e", "alternating": "#2ca02c"}
CLICK_TARGETS = 21  # per axis: a start point is picked to within extent / 10 (the inputs take any value)
CLICK_TRACE_NAME = "click to start here"


def click_targets(extent: float) -> list[tuple[float, float]]:
    """The (θ, ψ) points a click on the plane can pick, rounded as the page rounds a clicked point."""
    axis = [round(float(v), 2) for v in np.linspace(-extent, extent, CLICK_TARGETS)]
    return [(theta, psi) for psi in axis for theta in axis]


def dirac_figure(field: Sequence[np.ndarray], paths: dict[str, np.ndarray], start: tuple[float, float],
                 extent: float, title: str, clip: float = 0.0, uirevision: str = "dirac") -> LightFigure:
    """The field (θ, ψ, v_θ, v_ψ) as arrows, each scheme's path of (θ, ψ) points, the start and the
    equilibrium; a weight-clipping bound c draws the band |ψ| ≤ c the critic is kept in."""
    theta, psi, v_theta, v_psi = (np.asarray(a, dtype=np.float64) for a in field)
    cells = max(1, int(round(np.sqrt(len(theta)))))
    ax, ay = arrow_segments(np.stack([theta, psi], 1), np.stack([v_theta, v_psi], 1), 0.9 * 2 * extent / cells)
    data: list[dict[str, Any]] = [
        target_trace(click_targets(extent), CLICK_TRACE_NAME, 20, "start at θ=%{x:.2f}, ψ=%{y:.2f}"),
        {"type": "scatter", "mode": "lines", "x": ax, "y": ay, "name": "vector field v(θ, ψ)",
         "line": {"width": 1, "color": FIELD_COLOUR}, "hoverinfo": "skip"},
    ]
    for scheme, path in paths.items():
        path = np.asarray(path, dtype=np.float64)
        data.append({"type": "scatter", "mode": "lines", "x": path[:, 0], "y": path[:, 1], "name": f"{scheme} GD",
                     "line": {"width": 2, "color": PATH_COLOURS.get(scheme)},
                     "hovertemplate": f"{scheme}<br>θ=%{{x:.3g}}, ψ=%{{y:.3g}}<extra></extra>"})
    data.append({"type": "scatter", "mode": "markers", "x": [start[0]], "y": [start[1]], "name": "start",
                 "marker": {"size": 11, "color": "black", "symbol": "circle-open", "line": {"width": 2}},
                 "hoverinfo": "skip"})
    data.append({"type": "scatter", "mode": "markers", "x": [0.0], "y": [0.0], "name": "equilibrium (0, 0)",
                 "marker": {"size": 10, "color": "black", "symbol": "x-thin", "line": {"width": 2}},
                 "hoverinfo": "skip"})
    shapes = []
    if clip > 0:
        shapes = [{"type": "rect", "xref": "x", "yref": "y", "x0": -extent, "x1": extent, "y0": -clip, "y1": clip,
                   "fillcolor": "rgba(31, 119, 180, 0.08)", "line": {"width": 0}, "layer": "below"}]
    layout = {
        "title": heading(title),
        "uirevision": uirevision,
        # constrain="domain": equal scales by shrinking the plot, never by widening a range (so the
        # range is exactly the plane, and a click's pixel maps to (θ, ψ) linearly)
        "xaxis": {"range": [-extent, extent], "title": {"text": "θ (generator)"}, "zeroline": False,
                  "constrain": "domain"},
        "yaxis": {"range": [-extent, extent], "title": {"text": "ψ (critic)"}, "scaleanchor": "x", "scaleratio": 1,
                  "zeroline": False, "constrain": "domain"},
        "hovermode": "closest",
        "height": SQUARE_HEIGHT + 60,
        "legend": {"orientation": "h", "y": -0.2, "font": {"size": 10}},
        "shapes": shapes,
        "clickmode": "event+select",
        "dragmode": "pan",
    }
    return figure(data, layout)


def click_point(points: Sequence[dict]) -> tuple[float, float] | None:
    """(θ, ψ) of the first clicked point in a chart's selection event, or None."""
    found = selected_points(points)
    return found[0] if found else None
