"""The Latent explorer's charts: decoded traversals and grids of 2D-point models over their data, and the
map of encoded data, whose selections map back to samples.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genlab.viz.figures import DATA_COLOUR, PALETTE, REAL_COLOUR, LightFigure, figure, points, square_layout

if TYPE_CHECKING:
    from genlab.latent.grids import Traversal


def _data_trace(reference: Any) -> dict:
    return points(reference, "data", colour=DATA_COLOUR, size=3, opacity=0.6, hoverinfo="skip")


def points_traversal_figure(reference: Any | None, traversal: Traversal, labels: Sequence[str],
                            uirevision: str = "trav") -> LightFigure:
    """One decoded curve per traversed dimension over the 2D data."""
    data = [] if reference is None else [_data_trace(reference)]
    values = np.asarray(traversal.values)
    for row, label in enumerate(labels):
        colour = PALETTE[row % len(PALETTE)]
        data.append(points(traversal.decoded[row], label, colour=colour, size=6, mode="lines+markers",
                           text=[f"{label}: {v:+.2f}" for v in values], hoverinfo="text"))
    return figure(data, square_layout("Traversals: one curve per latent dimension", uirevision))


def points_manifold_figure(reference: Any | None, decoded: Any, n: int, uirevision: str = "manifold") -> LightFigure:
    """Decoded n×n latent grid over the 2D data, coloured by the grid column (z_x)."""
    column = np.tile(np.arange(n), n).astype(np.float32)
    data = [] if reference is None else [_data_trace(reference)]
    grid = points(decoded, "decoded grid", colour=column, size=7, type="scatter")
    grid["marker"].update(colorscale="Viridis", colorbar={"title": {"text": "z_x"}, "thickness": 10})
    data.append(grid)
    return figure(data, square_layout("Decoded latent grid", uirevision))


def latent_map_figure(coords: Any, colour: np.ndarray | None, colour_name: str, categories: Sequence[str] = (),
                      hover: Sequence[str] | None = None, axis_titles: tuple[str, str] = ("PC 1", "PC 2"),
                      thumbnails: Sequence[tuple[float, float, str]] = (), thumb_size: float = 0.0,
                      uirevision: str = "map") -> LightFigure:
    """Scatter of encoded data; one trace per category (legend) or one with a colour scale.

    Each trace carries `customdata` = the sample's index, so a selection can be mapped back to samples
    (selected_indices). `thumbnails` are (x, y, data-URI PNG) pictures drawn at their points (plotly
    hovers cannot show images).
    """
    xy = np.asarray(coords, dtype=np.float32)
    index = np.arange(len(xy), dtype=np.int32)
    hover = list(hover) if hover is not None else [f"#{i}" for i in index]

    def trace(keep: np.ndarray, name: str, colour_value: Any) -> dict:
        return points(xy[keep], name, colour=colour_value, size=6, opacity=0.8, type="scatter",
                      customdata=index[keep], text=[hover[i] for i in index[keep]], hoverinfo="text")

    data = []
    if colour is not None and categories:
        codes = np.asarray(colour).astype(np.int64)
        for k, label in enumerate(categories):
            keep = codes == k
            if keep.any():
                data.append(trace(keep, label, PALETTE[k % len(PALETTE)]))
    else:
        everything = np.ones(len(xy), dtype=bool)
        scale = REAL_COLOUR if colour is None else np.asarray(colour, np.float32)
        data.append(trace(everything, "encoded data", scale))
        if colour is not None:
            data[0]["marker"].update(colorscale="Viridis", colorbar={"title": {"text": colour_name}, "thickness": 10})
    layout = square_layout(f"Encoded data (posterior means), coloured by {colour_name}", uirevision,
                           dragmode="lasso", xaxis={"title": {"text": axis_titles[0]}},
                           yaxis={"title": {"text": axis_titles[1]}})
    if thumbnails:
        layout["images"] = [{"source": uri, "x": float(x), "y": float(y), "xref": "x", "yref": "y",
                             "sizex": thumb_size, "sizey": thumb_size, "xanchor": "center", "yanchor": "middle",
                             "layer": "above"} for x, y, uri in thumbnails]
    return figure(data, layout)


def selected_indices(points_selected: Sequence[dict] | None, map_figure: LightFigure) -> list[int]:
    """Sample indices of the points selected on a latent_map_figure (plotly selection events give each
    point's trace as curve_number and its place in the trace as point_index), sorted, without repeats."""
    traces = map_figure.spec["data"]
    chosen = []
    for point in points_selected or []:
        curve = point.get("curve_number", 0)
        index = point.get("point_index", point.get("point_number"))
        if index is None or not 0 <= curve < len(traces):
            continue
        custom = traces[curve].get("customdata")
        if custom is not None and 0 <= index < len(custom):
            chosen.append(int(custom[index]))
    return sorted(set(chosen))
