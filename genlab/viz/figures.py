"""LightFigure and the layout, colours and trace builders every genlab chart shares.

Charts are refreshed about twice a second while a run trains, so they are built for speed and small
payloads:
- figures are plain dicts with plotly's validation off (the dicts are ours and fixed);
- arrays are float32/int32 numpy, which plotly ≥ 6 encodes as compact base64;
- `layout.uirevision` is fixed per chart, so a user's zoom/pan and hidden legend entries survive
  refreshes (a new value, e.g. after a Reset, starts fresh).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

HEIGHT = 300  # a curve chart
SQUARE_HEIGHT = 420  # a chart with equal x and y scales (2D data, latent maps)
MARGIN = {"l": 10, "r": 10, "t": 36, "b": 10}
REAL_COLOUR = "#1f77b4"
FAKE_COLOUR = "#d62728"
DATA_COLOUR = "#bbbbbb"  # data drawn under decoded points
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
SCATTERGL_FROM = 1000  # points in one trace from which WebGL draws it faster than SVG


class LightFigure(go.Figure):
    """A plotly Figure that only carries a ready-made figure dict and hands it out as is.

    Building plotly's object tree for every trace, then deep-copying it back into a dict (what
    st.plotly_chart does with a normal Figure), cost ~20 ms per chart; even an empty Figure costs
    ~1-3 ms (it deep-copies its template). Too much at two refreshes a second while the training
    thread needs the GIL. The dicts come from genlab.viz, so they need no validation.
    `to_dict()` / `to_plotly_json()` return the spec, which is all st.plotly_chart and
    plotly.io.to_json use. Plotly's other Figure methods do not work on it: use `spec` to inspect
    it, or `to_figure()` for a regular, validated Figure.
    """

    def __init__(self, spec: dict):  # noqa: D107 - BaseFigure.__init__ deliberately not called
        object.__setattr__(self, "_spec", spec)

    @property
    def spec(self) -> dict:
        return self._spec

    def to_dict(self) -> dict:
        return self._spec

    def to_plotly_json(self) -> dict:
        return self._spec

    def to_json(self, *args, **kwargs) -> str:
        import plotly.io as pio

        return pio.to_json(self._spec, *args, **{"validate": False, **kwargs})

    def to_figure(self) -> go.Figure:
        return go.Figure(self._spec)

    def show(self, *args, **kwargs) -> None:
        self.to_figure().show(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LightFigure({len(self._spec.get('data', []))} traces)"


def figure(data: list[dict], layout: dict) -> LightFigure:
    """A LightFigure with the common layout (height, margins, legend below, unified hover) under `layout`."""
    base = {
        "height": HEIGHT,
        "margin": MARGIN,
        "legend": {"orientation": "h", "y": -0.18, "font": {"size": 10}},
        "hovermode": "x unified",
    }
    base.update(layout)
    return LightFigure({"data": data, "layout": base})


def heading(text: str) -> dict:
    """A chart title in the common font size."""
    return {"text": text, "font": {"size": 14}}


def square_layout(text: str, uirevision: str, **extra: Any) -> dict:
    """Layout of a chart with equal x and y scales, closest-point hover and a legend close below."""
    layout = {"title": heading(text), "uirevision": uirevision, "height": SQUARE_HEIGHT, "hovermode": "closest",
              "yaxis": {"scaleanchor": "x", "scaleratio": 1},
              "legend": {"orientation": "h", "y": -0.12, "font": {"size": 10}}}
    layout.update(extra)
    return layout


def line(x, y, name: str, colour: str | None = None, *, width: float = 1.5, opacity: float = 1.0,
         legendgroup: str | None = None, showlegend: bool = True, dash: str | None = None) -> dict:
    """A line trace."""
    style = {"width": width}
    if colour:
        style["color"] = colour
    if dash:
        style["dash"] = dash
    trace = {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name, "line": style,
             "opacity": opacity, "showlegend": showlegend}
    if legendgroup:
        trace["legendgroup"] = legendgroup
    return trace


def points(xy: Any, name: str, *, colour: Any, size: float = 4, opacity: float = 1.0, mode: str = "markers",
           **extra: Any) -> dict:
    """A scatter trace of (N, 2) points (WebGL from SCATTERGL_FROM points); `extra` keys go on the trace."""
    xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    trace = {"type": "scattergl" if len(xy) > SCATTERGL_FROM else "scatter", "mode": mode,
             "x": xy[:, 0], "y": xy[:, 1], "name": name,
             "marker": {"size": size, "color": colour, "opacity": opacity}}
    if "lines" in mode:
        trace["line"] = {"color": colour, "width": 2}
    trace.update(extra)
    return trace


def empty(text: str, note: str, uirevision: str) -> LightFigure:
    """A chart with no data: its title and a note in the middle saying why."""
    return figure([], {"title": heading(text), "uirevision": uirevision,
                       "annotations": [{"text": note, "showarrow": False, "xref": "paper", "yref": "paper",
                                        "x": 0.5, "y": 0.5}],
                       "xaxis": {"visible": False}, "yaxis": {"visible": False}})
