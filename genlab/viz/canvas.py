"""Drawing for charts as pictures: fonts and cached text labels, colours and colour scales, dashed
lines, and the supersampled Canvas that genlab.viz.raster draws a figure on."""
from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SUPERSAMPLE = 2  # drawn this many times larger, then reduced: smooth lines and text
FONT_SIZE, TITLE_SIZE = 11, 14
GRID_COLOUR, AXIS_COLOUR, TEXT_COLOUR = (235, 235, 235), (170, 170, 170), (60, 60, 60)
DASHES = {"dot": (2, 3), "dash": (7, 4), "dashdot": (7, 3, 2, 3)}  # on/off lengths in line widths
FONT_FILES = ("DejaVuSans.ttf", "Arial.ttf", "arial.ttf")  # with Greek letters and ‖; else Pillow's own


@functools.lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def rgba(colour: Any, opacity: float = 1.0) -> tuple[int, int, int, int]:
    """"#rrggbb", "rgb(r, g, b)" or "rgba(r, g, b, a)" as an RGBA tuple, alpha times `opacity`."""
    text = str(colour).strip()
    if text.startswith("#") and len(text) == 7:
        red, green, blue, alpha = int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16), 1.0
    else:
        numbers = [float(n) for n in re.findall(r"[\d.]+", text)]
        if len(numbers) < 3:
            raise ValueError(f"cannot read the colour {colour!r}")
        red, green, blue = (int(n) for n in numbers[:3])
        alpha = numbers[3] if len(numbers) > 3 else 1.0
    return red, green, blue, int(round(255 * alpha * opacity))


def colour_scale(t: np.ndarray, scale: list) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB by linear interpolation of an explicit [[position, colour], ...] scale."""
    positions = np.array([float(p) for p, _ in scale])
    colours = np.array([rgba(c)[:3] for _, c in scale], dtype=np.float64)
    t = np.clip(np.nan_to_num(t, nan=0.5), 0.0, 1.0)
    channels = [np.interp(t, positions, colours[:, k]) for k in range(3)]
    return np.round(np.stack(channels, axis=-1)).astype(np.uint8)


def text_width(text: str, size: int) -> float:
    return font(size).getlength(text)


@functools.lru_cache(maxsize=1024)
def label(text: str, size: int, anchor: str, fill: tuple, vertical: bool = False) -> tuple[Image.Image, int, int]:
    """(RGBA picture of `text`, x and y offset of its corner from the anchor point). Cached: tick labels
    and titles repeat from one refresh to the next, and drawing text is most of a chart's cost."""
    f = font(size)
    box = f.getbbox(text, anchor=anchor)
    picture = Image.new("RGBA", (max(1, box[2] - box[0]), max(1, box[3] - box[1])), (255, 255, 255, 0))
    ImageDraw.Draw(picture).text((-box[0], -box[1]), text, font=f, anchor=anchor, fill=fill)
    if vertical:  # read bottom to top, centred on the anchor point
        picture = picture.rotate(90, expand=True)
        return picture, -picture.width // 2, -picture.height // 2
    return picture, box[0], box[1]


class Canvas:
    """One picture being drawn, SUPERSAMPLE times larger; coordinates in output pixels."""

    def __init__(self, width: int, height: int):
        self.s = SUPERSAMPLE
        self.image = Image.new("RGB", (width * self.s, height * self.s), "white")
        self.draw = ImageDraw.Draw(self.image, "RGBA")  # RGBA fills blend onto the picture

    @property
    def width(self) -> float:
        return self.image.width / self.s

    def text(self, xy, text: str, size: int = FONT_SIZE, anchor: str = "la", fill=TEXT_COLOUR,
             vertical: bool = False) -> None:
        """`text` placed by `anchor` (Pillow's two letters: l/m/r, a/m/d) at `xy`; `vertical`: rotated
        to read bottom to top, centred at `xy`."""
        picture, dx, dy = label(text, size * self.s, anchor, tuple(fill), vertical)
        self.image.paste(picture, (int(xy[0] * self.s) + dx, int(xy[1] * self.s) + dy), picture)

    def result(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The picture at its own size, or resampled to `size` (width, height)."""
        if size is None or size == (self.image.width // self.s, self.image.height // self.s):
            return np.asarray(self.image.reduce(self.s))
        return np.asarray(self.image.resize(size, Image.Resampling.LANCZOS))


def dashed(points: np.ndarray, pattern: tuple[int, ...], width: int) -> list[np.ndarray]:
    """The "on" pieces of a polyline under a repeating on/off `pattern` (in line widths)."""
    travelled = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])
    period = sum(pattern) * width
    offsets = np.cumsum((0,) + tuple(p * width for p in pattern))
    starts = np.arange(0.0, travelled[-1], period)
    ons = (starts[:, None] + offsets[0:-1:2][None, :]).reshape(-1)
    offs = np.minimum((starts[:, None] + offsets[1::2][None, :]).reshape(-1), travelled[-1])
    keep = offs > ons
    ons, offs = ons[keep], offs[keep]
    xs = np.interp(np.stack([ons, offs]), travelled, points[:, 0])
    ys = np.interp(np.stack([ons, offs]), travelled, points[:, 1])
    first, last = np.searchsorted(travelled, ons, "right"), np.searchsorted(travelled, offs, "left")
    return [np.concatenate([[[xs[0, i], ys[0, i]]], points[a:b], [[xs[1, i], ys[1, i]]]])
            for i, (a, b) in enumerate(zip(first.tolist(), last.tolist()))]
