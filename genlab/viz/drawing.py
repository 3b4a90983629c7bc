"""The "Draw your data" chart: a plane to click or lasso on, the drawn points and the data set they make.

A click may land on a grid target, a drawn point or a data point: the page snaps whatever it gets to the
nearest grid node (genlab.drawing_codec.snap), so a click on a drawn point picks that point (to erase it)."""
from __future__ import annotations

import numpy as np

from genlab.viz.figures import DATA_COLOUR, REAL_COLOUR, SQUARE_HEIGHT, LightFigure, figure, heading
from genlab.viz.targets import target_trace

TARGET_SIZE = 9  # px: squares that about tile a 41 × 41 grid at the chart's size


def drawing_figure(nodes: np.ndarray, anchors, samples: np.ndarray | None, extent: float,
                   uirevision: str = "drawing") -> LightFigure:
    """Targets at the grid `nodes`, the drawn `anchors` (blue) and the data set's `samples` (grey) under them."""
    data = [target_trace(nodes, "grid", TARGET_SIZE, "add (%{x:.1f}, %{y:.1f})")]
    if samples is not None and len(samples):
        data.append({"type": "scattergl", "mode": "markers", "x": samples[:, 0], "y": samples[:, 1],
                     "name": "your data set", "marker": {"size": 3, "color": DATA_COLOUR}, "hoverinfo": "skip"})
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    data.append({"type": "scatter", "mode": "markers", "x": anchors[:, 0], "y": anchors[:, 1],
                 "name": "your points", "marker": {"size": 7, "color": REAL_COLOUR}, "hoverinfo": "skip"})
    layout = {
        "title": heading(f"Your points: {len(anchors)}"),
        "uirevision": uirevision,
        "xaxis": {"range": [-extent, extent], "zeroline": False, "constrain": "domain"},
        "yaxis": {"range": [-extent, extent], "scaleanchor": "x", "scaleratio": 1, "zeroline": False,
                  "constrain": "domain"},
        "hovermode": "closest",
        "height": SQUARE_HEIGHT + 60,
        "legend": {"orientation": "h", "y": -0.1},
        "clickmode": "event+select",
        "dragmode": "pan",  # clicks add points only outside lasso mode (Streamlit drops click selection there)
    }
    return figure(data, layout)
