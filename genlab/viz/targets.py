"""Click targets: plotly reports clicks and lasso selections on data points only, so a chart that
takes clicks anywhere covers its plane with a grid of nearly invisible markers to land on."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def target_trace(targets, name: str, size: float, hover: str) -> dict:
    """A scatter trace of faint squares of `size` px at the (x, y) `targets`; `hover` is its hover template."""
    targets = np.asarray(targets, dtype=np.float32).reshape(-1, 2)
    return {"type": "scatter", "mode": "markers", "x": targets[:, 0], "y": targets[:, 1], "name": name,
            "marker": {"size": size, "symbol": "square", "color": "rgba(0, 0, 0, 0.01)"}, "showlegend": False,
            # a selection must not dim the other targets (they would show as a grey grid)
            "unselected": {"marker": {"opacity": 1}}, "selected": {"marker": {"opacity": 1}},
            "hovertemplate": hover + "<extra></extra>"}


def selected_points(points: Sequence[dict]) -> list[tuple[float, float]]:
    """(x, y) of every point in a chart's selection event (Streamlit's "points" list), in order."""
    found = []
    for point in points:
        x, y = point.get("x"), point.get("y")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            found.append((float(x), float(y)))
    return found
