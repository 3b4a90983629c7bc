"""Charts for a projector: `presentation(figure)` restyles any genlab chart to be read from the back of a
room: large type, thick lines and big markers, strong colours, only the smoothed curves.

A copy is made (the input figure is untouched); the data arrays are shared, not copied, so restyling
costs microseconds at any size.
"""
from __future__ import annotations

from typing import Any

from genlab.viz.figures import PALETTE, LightFigure

FONT_SIZE = 20
TITLE_SIZE = 24
LINE_SCALE, MIN_LINE_WIDTH = 2.5, 3.0
MARKER_SCALE = 1.75
HEIGHT_SCALE = 1.3
INK = "#000000"
# the charts' colours, each replaced by a darker, more saturated one that survives a washed-out projector
STRONG = dict(zip(PALETTE, ("#0033cc", "#cc0000", "#007a00", "#e66700", "#6a00b8", "#6b3a1f", "#c2007a", "#333333",
                            "#8a8a00", "#00838f")))
STRONG.update({"#bbbbbb": "#888888"})


def presentation(figure: LightFigure) -> LightFigure:
    """`figure` restyled for a projector (see the module docstring)."""
    spec = figure.spec
    data = [_trace(trace) for trace in spec.get("data", []) if not _faint(trace)]
    layout = dict(spec.get("layout", {}))
    layout["font"] = {**layout.get("font", {}), "size": FONT_SIZE, "color": INK}
    if isinstance(layout.get("title"), dict):
        layout["title"] = {**layout["title"], "font": {**layout["title"].get("font", {}), "size": TITLE_SIZE}}
    legend = dict(layout.get("legend", {}))
    legend["font"] = {**legend.get("font", {}), "size": FONT_SIZE}
    layout["legend"] = legend
    for axis in ("xaxis", "yaxis"):
        settings = dict(layout.get(axis, {}))
        settings["tickfont"] = {"size": FONT_SIZE, "color": INK}
        settings["linewidth"], settings["linecolor"], settings["showline"] = 2, INK, True
        if isinstance(settings.get("title"), dict):
            settings["title"] = {**settings["title"], "font": {"size": FONT_SIZE}}
        layout[axis] = settings
    layout["height"] = round(layout.get("height", 300) * HEIGHT_SCALE)
    margin = dict(layout.get("margin", {}))
    margin["t"] = max(margin.get("t", 0), 56)
    layout["margin"] = margin
    if "annotations" in layout:
        layout["annotations"] = [{**note, "font": {"size": FONT_SIZE}} for note in layout["annotations"]]
    return LightFigure({**spec, "data": data, "layout": layout})


def _faint(trace: dict) -> bool:
    """The raw curve drawn faintly under its smoothed one: noise on a projector."""
    return trace.get("type") == "scatter" and trace.get("opacity", 1.0) < 0.5 and not trace.get("showlegend", True)


def _colour(colour: Any) -> Any:
    return STRONG.get(colour, colour) if isinstance(colour, str) else colour


def _trace(trace: dict) -> dict:
    trace = dict(trace)
    if "line" in trace:
        line = dict(trace["line"])
        line["width"] = max(MIN_LINE_WIDTH, line.get("width", 1.5) * LINE_SCALE)
        if "color" in line:
            line["color"] = _colour(line["color"])
        trace["line"] = line
    if "marker" in trace:
        marker = dict(trace["marker"])
        if isinstance(marker.get("size"), (int, float)):
            marker["size"] = marker["size"] * MARKER_SCALE
        if "color" in marker:
            marker["color"] = _colour(marker["color"])
        trace["marker"] = marker
    return trace
