"""Training curves as plain pictures (Pillow): for a report that must open anywhere, offline, with no
plotting library or script. uint8 (H, W, 3) arrays out, like genlab.pictures.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from genlab.viz.curves import downsample, ema
from genlab.viz.figures import PALETTE

SIZE = (720, 300)
MARGIN = (70, 16, 36, 40)  # left, right, top, bottom, in pixels
POINTS = 600  # per curve at most: about one per pixel column
INK, GRID, PAPER = (20, 20, 20), (225, 225, 225), (255, 255, 255)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def _label(value: float) -> str:
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"


def line_chart(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str,
               size: tuple[int, int] = SIZE, log_y: bool = False, smooth: bool = True) -> np.ndarray:
    """One line per named curve (steps, values), NaN and non-finite values skipped, the EMA of each drawn
    over its faint raw values; the y range from the raw values' 1st to 99th percentile, so one spike
    does not flatten the rest. An empty chart says "no data"."""
    width, height = size
    left, right, top, bottom = MARGIN
    image = Image.new("RGB", size, PAPER)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.text((left, 8), title, fill=INK, font=font)
    prepared = {}
    for name, (steps, values) in curves.items():
        steps, values = np.asarray(steps, np.float64), np.asarray(values, np.float64)
        keep = np.isfinite(steps) & np.isfinite(values) & ((values > 0) if log_y else True)
        if keep.sum() >= 1:
            s, v = downsample(steps[keep], values[keep], POINTS)
            prepared[name] = (s, np.log10(v) if log_y else v)
    box = (left, top, width - right, height - bottom)
    draw.rectangle(box, outline=INK)
    if not prepared:
        draw.text((left + 10, top + 10), "no data", fill=INK, font=font)
        return np.asarray(image)
    all_steps = np.concatenate([s for s, _ in prepared.values()])
    all_values = np.concatenate([v for _, v in prepared.values()])
    x0, x1 = float(all_steps.min()), float(all_steps.max())
    y0, y1 = (float(q) for q in np.percentile(all_values, [1, 99]))
    if x1 <= x0:
        x1 = x0 + 1
    if y1 <= y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def to_pixels(s: np.ndarray, v: np.ndarray) -> list[tuple[float, float]]:
        px = box[0] + (s - x0) / (x1 - x0) * (box[2] - box[0])
        py = box[3] - (np.clip(v, y0, y1) - y0) / (y1 - y0) * (box[3] - box[1])
        return list(zip(px.tolist(), py.tolist()))

    for fraction in (0.0, 0.5, 1.0):
        y = y0 + fraction * (y1 - y0)
        (_, py), = to_pixels(np.array([x0]), np.array([y]))
        draw.line((box[0], py, box[2], py), fill=GRID)
        draw.text((4, py - 8), _label(10 ** y if log_y else y), fill=INK, font=font)
    for fraction in (0.0, 0.5, 1.0):
        step = x0 + fraction * (x1 - x0)
        (px, _), = to_pixels(np.array([step]), np.array([y0]))
        draw.text((px - 12, box[3] + 6), f"{step:,.0f}", fill=INK, font=font)
    legend_x = left + 10 + int(draw.textlength(title, font=font)) + 20
    for i, (name, (s, v)) in enumerate(prepared.items()):
        colour = _rgb(PALETTE[i % len(PALETTE)])
        faint = tuple(int(c + (255 - c) * 0.7) for c in colour)
        if len(s) > 1:
            draw.line(to_pixels(s, v), fill=faint if smooth and len(s) > 5 else colour, width=1)
            if smooth and len(s) > 5:
                draw.line(to_pixels(s, ema(v)), fill=colour, width=3)
        else:
            (px, py), = to_pixels(s, v)
            draw.ellipse((px - 3, py - 3, px + 3, py + 3), fill=colour)
        if legend_x < width - 60:
            draw.line((legend_x, 16, legend_x + 18, 16), fill=colour, width=3)
            draw.text((legend_x + 22, 8), name, fill=INK, font=font)
            legend_x += 30 + int(draw.textlength(name, font=font)) + 12
    return np.asarray(image)


def is_log_friendly(values: Sequence[float]) -> bool:
    """Whether a curve spans more than two decades of positive values (then a log axis reads better)."""
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    return len(finite) > 1 and math.log10(finite.max() / finite.min()) > 2
