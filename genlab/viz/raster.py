"""genlab's plotly figures drawn as pictures with Pillow: what the live view shows while a run trains.

Why: a browser re-creates a plotly chart from scratch whenever its data change (Streamlit 1.67 gives
a changed chart a new identity), which costs its main thread 0.1-0.3 s per chart without a GPU; four
charts refreshed twice a second kept a laptop's browser 100 % busy (issue 16). A picture of the same
figure costs the browser one image decode, off its main thread. Paused, the page shows the
interactive plotly charts (hover, zoom) instead; both come from the same figure.

Draws the part of plotly's figure format that genlab.viz writes: scatter / scattergl traces (lines
with colour, width, dash and opacity, NaN gaps; markers), bars, heatmaps with an explicit colour
scale, linear and log axes, a second y axis on the right (traces with "yaxis": "y2"), fixed ranges,
equal x and y scales (yaxis.scaleanchor), the title, a legend below, notes in paper coordinates, and
layout.font.size above plotly's default as one scale for text and axes (presentation mode's large type).
Everything else (hover text, colour bars' details, other font settings) is plotly's business and ignored here.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from PIL import Image

from genlab.viz.axes import Axis, data_range
from genlab.viz.canvas import (AXIS_COLOUR, DASHES, FONT_SIZE, GRID_COLOUR, TITLE_SIZE, Canvas, colour_scale,
                               dashed, rgba, text_width)
from genlab.viz.figures import HEIGHT, LightFigure

WIDTH = 720  # pixels of a picture when the caller does not say
PLOTLY_FONT_SIZE = 12  # plotly's default layout.font.size: the size this module's text sizes stand for


def figure_picture(figure: LightFigure | Mapping, width: int = WIDTH) -> np.ndarray:
    """uint8 (H, W, 3) picture of a plotly figure dict (a LightFigure's spec); H is layout.height.
    A layout.font.size of k·PLOTLY_FONT_SIZE (k > 1) draws the chart on a canvas k times smaller, scaled
    up to the picture's size: text and axes k times larger, still sharp (drawn supersampled). Traces
    keep the line widths and marker sizes their figure gives, as plotly draws them: presentation mode
    already thickens those, and scaling them again made its curves too heavy to read."""
    spec = figure.spec if isinstance(figure, LightFigure) else figure
    layout, traces = spec.get("layout", {}), list(spec.get("data", []))
    size = (width, int(layout.get("height", HEIGHT)))
    scale = max(1.0, float((layout.get("font") or {}).get("size", PLOTLY_FONT_SIZE)) / PLOTLY_FONT_SIZE)
    width, height = round(size[0] / scale), round(size[1] / scale)
    canvas = Canvas(width, height)
    title = (layout.get("title") or {}).get("text", "")
    if title:
        canvas.text((8, 6), title, TITLE_SIZE)
    legend = legend_entries(traces) if layout.get("showlegend", True) is not False else []
    legend_rows = legend_layout(legend, width - 16)
    xaxis, yaxis, y2axis = (dict(layout.get(k) or {}) for k in ("xaxis", "yaxis", "yaxis2"))
    shown = xaxis.get("visible", True) is not False
    right_traces = [t for t in traces if t.get("yaxis") == "y2"]
    left_traces = [t for t in traces if t.get("yaxis") != "y2"]
    heat = next((t for t in traces if t.get("type") == "heatmap"), None)

    x_log, y_log = xaxis.get("type") == "log", yaxis.get("type") == "log"
    bars = any(t.get("type") == "bar" for t in traces)
    x_low, x_high = axis_range(xaxis, [t for t in traces if t.get("type") != "heatmap"], "x", x_log, pad=0.0, heat=heat)
    if bars:
        x_low, x_high = x_low - 0.6, x_high + 0.6
    y_low, y_high = axis_range(yaxis, left_traces, "y", y_log, include_zero=bars, heat=heat)
    y2_log = y2axis.get("type") == "log"
    y2_range = axis_range(y2axis, right_traces, "y", y2_log) if right_traces else None

    y_labels = [label for _, label in Axis(y_low, y_high, y_log, 0, 1).ticks()] if shown else []
    left = 8 + max((text_width(t, FONT_SIZE) for t in y_labels), default=0) + 6
    left += 16 if axis_title(yaxis) else 0
    right = 12
    if y2_range is not None:
        y2_labels = [label for _, label in Axis(*y2_range, y2_log, 0, 1).ticks()]
        right = 8 + max((text_width(t, FONT_SIZE) for t in y2_labels), default=0) + 6 + (16 if axis_title(y2axis) else 0)
    if heat is not None:
        right = max(right, 58)
    top = 32 if title else 10
    bottom = height - 8 - 16 * len(legend_rows) - (18 if shown else 0) - (16 if shown and axis_title(xaxis) else 0)
    plot = [left, top, width - right, max(top + 20, bottom)]
    if yaxis.get("scaleanchor") == "x":  # equal scales: shrink the longer side, centred
        per_x = (x_high - x_low) / (plot[2] - plot[0])
        per_y = (y_high - y_low) / (plot[3] - plot[1])
        if per_x < per_y:
            keep = (x_high - x_low) / per_y
            plot[0] += ((plot[2] - plot[0]) - keep) / 2
            plot[2] = plot[0] + keep
        else:
            keep = (y_high - y_low) / per_x
            plot[1] += ((plot[3] - plot[1]) - keep) / 2
            plot[3] = plot[1] + keep
    x = Axis(x_low, x_high, x_log, plot[0], plot[2])
    y = Axis(y_low, y_high, y_log, plot[3], plot[1])
    y2 = None if y2_range is None else Axis(*y2_range, y2_log, plot[3], plot[1])

    if shown:
        draw_axes(canvas, plot, x, y, y2, xaxis, yaxis, y2axis)
    for trace in traces:
        draw_trace(canvas, trace, x, y2 if trace.get("yaxis") == "y2" and y2 is not None else y, plot, 1 / scale)
    if shown:
        s = canvas.s
        canvas.draw.rectangle([plot[0] * s, plot[1] * s, plot[2] * s, plot[3] * s], outline=AXIS_COLOUR, width=s)
    if heat is not None:
        draw_colour_bar(canvas, heat, plot)
    for note in layout.get("annotations") or []:
        if note.get("xref") == "paper" and note.get("yref") == "paper":
            px = plot[0] + float(note.get("x", 0.5)) * (plot[2] - plot[0])
            py = plot[3] - float(note.get("y", 0.5)) * (plot[3] - plot[1])
            canvas.text((px, py), str(note.get("text", "")), anchor="mm")
    draw_legend(canvas, legend, legend_rows, height - 6 - 16 * len(legend_rows))
    return canvas.result(size)


def axis_title(axis: Mapping) -> str:
    return ((axis.get("title") or {}).get("text") or "") if isinstance(axis.get("title"), dict) else str(axis.get("title") or "")


def axis_range(axis: Mapping, traces: list[dict], key: str, log: bool, pad: float = 0.05,
               include_zero: bool = False, heat: dict | None = None) -> tuple[float, float]:
    """The axis' fixed range when the layout gives one, else the data's (with a heatmap's cells)."""
    fixed = axis.get("range")
    if fixed is not None and None not in fixed:
        low, high = (float(v) for v in fixed)
        return (np.log10(low), np.log10(high)) if log else (low, high)
    values = [np.asarray(t.get(key, []), dtype=np.float64).reshape(-1) for t in traces if t.get(key) is not None]
    if heat is not None and heat.get(key) is not None:
        centres = np.asarray(heat[key], dtype=np.float64)
        half = (centres[1] - centres[0]) / 2 if centres.size > 1 else 0.5
        values.append(np.array([centres[0] - half, centres[-1] + half]))
        pad = 0.0
    return data_range(np.concatenate(values) if values else np.zeros(0), log, pad, include_zero)


def draw_axes(canvas: Canvas, plot, x: Axis, y: Axis, y2: Axis | None, xaxis, yaxis, y2axis) -> None:
    s = canvas.s
    for px, text in x.ticks(xaxis.get("dtick")):
        canvas.draw.line([(px * s, plot[1] * s), (px * s, plot[3] * s)], fill=GRID_COLOUR, width=s)
        canvas.text((px, plot[3] + 4), text, anchor="ma")
    for py, text in y.ticks(yaxis.get("dtick")):
        canvas.draw.line([(plot[0] * s, py * s), (plot[2] * s, py * s)], fill=GRID_COLOUR, width=s)
        canvas.text((plot[0] - 5, py), text, anchor="rm")
    if y2 is not None:
        colour = rgba(((y2axis.get("title") or {}).get("font") or {}).get("color", "#3c3c3c"))[:3]
        for py, text in y2.ticks():
            canvas.text((plot[2] + 5, py), text, anchor="lm", fill=colour)
        if axis_title(y2axis):
            canvas.text((canvas.width - 10, (plot[1] + plot[3]) / 2), axis_title(y2axis), fill=colour, vertical=True)
    if axis_title(xaxis):
        canvas.text(((plot[0] + plot[2]) / 2, plot[3] + 20), axis_title(xaxis), anchor="ma")
    if axis_title(yaxis):
        canvas.text((10, (plot[1] + plot[3]) / 2), axis_title(yaxis), vertical=True)


def draw_trace(canvas: Canvas, trace: dict, x: Axis, y: Axis, plot, thickness: float = 1.0) -> None:
    """One trace; its line widths and marker sizes times `thickness`."""
    kind = trace.get("type", "scatter")
    opacity = float(trace.get("opacity", 1.0))
    if kind == "heatmap":
        return draw_heatmap(canvas, trace, x, y, plot)
    px, py = x.pixels(trace.get("x", [])), y.pixels(trace.get("y", []))
    if kind == "bar":
        colour = rgba((trace.get("marker") or {}).get("color", "#1f77b4"), opacity)
        gaps = np.diff(np.sort(px)) if px.size > 1 else np.array([plot[2] - plot[0]])
        half = 0.4 * float(gaps.min() if gaps.size else 10)
        zero = float(np.clip(y.pixels(0.0), plot[1], plot[3]))
        for bx, by in zip(px, py):
            if np.isfinite(bx) and np.isfinite(by):
                top, base = sorted((float(by), zero))
                canvas.draw.rectangle(clip_box(canvas, [bx - half, top, bx + half, base], plot), fill=colour)
        return
    mode = trace.get("mode", "lines")
    if "lines" in mode:
        style = trace.get("line") or {}
        colour = rgba(style.get("color", "#1f77b4"), opacity)
        draw_polyline(canvas, px, py, colour, float(style.get("width", 2)) * thickness, style.get("dash"), plot)
    if "markers" in mode:
        marker = trace.get("marker") or {}
        colour = rgba(marker.get("color", "#1f77b4"), opacity * float(marker.get("opacity", 1.0)))
        draw_markers(canvas, px, py, colour, float(marker.get("size", 6)) / 2 * thickness, plot)


def clip_box(canvas: Canvas, box, plot) -> list[float]:
    left, top, right, bottom = box
    left, right = max(left, plot[0]), min(right, plot[2])
    top, bottom = max(top, plot[1]), min(bottom, plot[3])
    return [left * canvas.s, top * canvas.s, max(left, right) * canvas.s, max(top, bottom) * canvas.s]


def draw_polyline(canvas: Canvas, px: np.ndarray, py: np.ndarray, colour, width: float, dash: str | None, plot) -> None:
    """Runs of finite points as lines (NaN breaks a line), clipped to the plot area."""
    s = canvas.s
    inside = np.isfinite(px) & np.isfinite(py)
    points = np.stack([np.clip(px, plot[0] - 1, plot[2] + 1), np.clip(py, plot[1] - 1, plot[3] + 1)], axis=1) * s
    line_width = max(1, round(width * s))
    # runs of consecutive finite points: [start, stop) from the edges of `inside` (a gradient field
    # is thousands of two-point runs, so no per-point Python work)
    edges = np.diff(np.concatenate(([0], inside.astype(np.int8), [0])))
    for start, stop in zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()):
        if stop - start < 2:
            continue
        run = points[start:stop]
        for piece in (dashed(run, DASHES[dash], line_width) if dash in DASHES else [run]):
            canvas.draw.line(piece.ravel().tolist(), fill=colour, width=line_width, joint="curve")


def draw_markers(canvas: Canvas, px: np.ndarray, py: np.ndarray, colour, radius: float, plot) -> None:
    s = canvas.s
    keep = np.isfinite(px) & np.isfinite(py) & (px >= plot[0]) & (px <= plot[2]) & (py >= plot[1]) & (py <= plot[3])
    r = radius * s
    for cx, cy in zip((px[keep] * s).tolist(), (py[keep] * s).tolist()):
        canvas.draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)


def heat_colours(trace: dict) -> tuple[np.ndarray, float, float]:
    """(uint8 RGB cells, z low, z high) of a heatmap trace: zmin/zmax when given, else symmetric
    about zmid when given, else the data's range."""
    z = np.asarray(trace["z"], dtype=np.float64)
    values = z[np.isfinite(z)]
    low = trace.get("zmin")
    high = trace.get("zmax")
    if low is None or high is None:
        if trace.get("zmid") is not None and values.size:
            reach = float(np.max(np.abs(values - trace["zmid"]))) or 1.0
            low, high = trace["zmid"] - reach, trace["zmid"] + reach
        else:
            low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    span = (high - low) or 1.0
    return colour_scale((z - low) / span, trace["colorscale"]), float(low), float(high)


def draw_heatmap(canvas: Canvas, trace: dict, x: Axis, y: Axis, plot) -> None:
    """Cells centred at the trace's x and y, smoothed (plotly's zsmooth "best") and blended by opacity."""
    cells, _, _ = heat_colours(trace)
    xs, ys = np.asarray(trace["x"], dtype=np.float64), np.asarray(trace["y"], dtype=np.float64)
    half_x = (xs[1] - xs[0]) / 2 if xs.size > 1 else 0.5
    half_y = (ys[1] - ys[0]) / 2 if ys.size > 1 else 0.5
    left, right = x.pixels([xs[0] - half_x, xs[-1] + half_x])
    bottom, top = y.pixels([ys[0] - half_y, ys[-1] + half_y])
    s, opacity = canvas.s, float(trace.get("opacity", 1.0))
    size = (max(1, int(round((right - left) * s))), max(1, int(round((bottom - top) * s))))
    picture = Image.fromarray(cells[::-1]).resize(size, Image.BILINEAR if trace.get("zsmooth") else Image.NEAREST)
    alpha = Image.new("L", size, int(round(255 * opacity)))
    box = (int(round(left * s)), int(round(top * s)))
    region = canvas.image.crop((*box, box[0] + size[0], box[1] + size[1]))
    canvas.image.paste(Image.composite(picture, region, alpha), box)


def draw_colour_bar(canvas: Canvas, trace: dict, plot) -> None:
    """A vertical colour bar right of the plot with its low, middle and high values and title."""
    _, low, high = heat_colours(trace)
    s = canvas.s
    top, bottom = plot[1] + 0.1 * (plot[3] - plot[1]), plot[3] - 0.1 * (plot[3] - plot[1])
    left = plot[2] + 10
    steps = np.linspace(1.0, 0.0, max(2, int((bottom - top) * s)))
    strip = colour_scale(steps, trace["colorscale"])[:, None, :].repeat(10 * s, axis=1)
    canvas.image.paste(Image.fromarray(strip), (int(left * s), int(top * s)))
    for value, py in ((high, top), ((low + high) / 2, (top + bottom) / 2), (low, bottom)):
        canvas.text((left + 13, py), f"{value:.3g}", size=FONT_SIZE - 1, anchor="lm")
    label = ((trace.get("colorbar") or {}).get("title") or {}).get("text") or trace.get("name", "")
    canvas.text((left, top - 4), label, size=FONT_SIZE - 1, anchor="ld")


def legend_entries(traces: list[dict]) -> list[tuple[str, tuple, str]]:
    """(name, RGBA colour, "line" | a dash name | "marker") of the traces shown in the legend, each name once."""
    entries, seen = [], set()
    for trace in traces:
        name = trace.get("name")
        if not name or trace.get("showlegend") is False or trace.get("type") == "heatmap" or name in seen:
            continue
        seen.add(name)
        lines = "lines" in trace.get("mode", "") and trace.get("type") != "bar"
        style = (trace.get("line") if lines else trace.get("marker")) or {}
        colour = style.get("color", "#1f77b4")
        kind = (style.get("dash") or "line") if lines else "marker"
        entries.append((str(name), rgba(colour if isinstance(colour, str) else "#1f77b4"), kind))
    return entries if len(entries) > 1 or any(t.get("showlegend") for t in traces) else []


def legend_layout(entries, width: float) -> list[list[int]]:
    """Entry indices per legend row, wrapping at `width`."""
    rows, used = [], width
    for i, (name, _, _) in enumerate(entries):
        need = 26 + text_width(name, FONT_SIZE - 1) + 14
        if used + need > width:
            rows.append([])
            used = 0
        rows[-1].append(i)
        used += need
    return rows


def draw_legend(canvas: Canvas, entries, rows, top: float) -> None:
    s = canvas.s
    for r, row in enumerate(rows):
        widths = [26 + text_width(entries[i][0], FONT_SIZE - 1) + 14 for i in row]
        px, py = max(8.0, (canvas.width - sum(widths)) / 2), top + 16 * r + 8
        for i, w in zip(row, widths):
            name, colour, kind = entries[i]
            solid = colour[:3] + (255,)
            if kind != "marker":
                sample = np.array([[px * s, py * s], [(px + 20) * s, py * s]])
                for piece in dashed(sample, DASHES[kind], 2 * s) if kind in DASHES else [sample]:
                    canvas.draw.line([tuple(p) for p in piece.tolist()], fill=solid, width=2 * s)
            else:
                canvas.draw.ellipse([(px + 7) * s, (py - 4) * s, (px + 13) * s, (py + 2) * s], fill=solid)
            canvas.text((px + 24, py), name, size=FONT_SIZE - 1, anchor="lm")
            px += w
