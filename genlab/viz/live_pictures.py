"""The live view's charts as pictures: each redrawn only when its figure changed, and no more often than
its drawing cost allows, so that drawing never takes much of the CPU the training thread needs.

Why the cost cap: on a 2-core machine, drawing the 2D scene (heatmap, arrows, points) takes 30-110 ms
and the curves 15-40 ms each; redrawn at every 0.5 s refresh, four charts took about half a core from
the training thread. A chart whose last drawing took t seconds is drawn again at the earliest
REDRAW_COST_RATIO × t later, so each chart takes at most 1/REDRAW_COST_RATIO of the wall time: the
picture rate adapts to the machine (a chart drawn in 15 ms follows every 0.5 s refresh, the scene on a
loaded 2-core server every few seconds). A placeholder (a chart without data yet, "press Start") is
replaced as soon as data comes, whatever its hold: a run's first seconds must not show "no data".
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from genlab.pictures import data_uri_webp
from genlab.viz import raster
from genlab.viz.figures import LightFigure

REDRAW_COST_RATIO = 40.0  # a chart is redrawn at most once per this many times its drawing time


def figure_digest(figure: LightFigure | Mapping, width: int = raster.WIDTH) -> str:
    """A fingerprint of everything a picture of `figure` depends on (data arrays by their bytes)."""
    digest = hashlib.blake2b(str(width).encode(), digest_size=16)

    def feed(node: Any) -> None:
        if isinstance(node, np.ndarray):
            digest.update(f"{node.dtype}{node.shape}".encode())
            digest.update(np.ascontiguousarray(node).tobytes())
        elif isinstance(node, Mapping):
            for key in sorted(node):
                digest.update(str(key).encode())
                feed(node[key])
        elif isinstance(node, (list, tuple)):
            digest.update(b"[")
            for item in node:
                feed(item)
            digest.update(b"]")
        else:
            digest.update(repr(node).encode())

    feed(figure.spec if isinstance(figure, LightFigure) else figure)
    return digest.hexdigest()


@dataclass(frozen=True)
class Drawn:
    digest: str  # of the figure drawn
    uri: str  # its picture as a data: URI
    next_draw: float  # clock time before which it is not redrawn, unless it is a placeholder
    placeholder: bool  # the figure drawn had no traces (e.g. "no data yet")


def has_traces(figure: LightFigure | Mapping) -> bool:
    spec = figure.spec if isinstance(figure, LightFigure) else figure
    return bool(spec.get("data"))


class FigurePictures:
    """The latest picture of each of a page's charts as a data: URI. A chart is redrawn when its figure
    changed (one that did not costs neither the server nor the browser anything) and its last drawing
    is at least REDRAW_COST_RATIO times that drawing's duration ago; until then the last picture stays.
    `clock`: seconds, monotonic (a parameter so that tests can move time)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter, cost_ratio: float = REDRAW_COST_RATIO) -> None:
        self._latest: dict[str, Drawn] = {}
        self._clock = clock
        self._cost_ratio = cost_ratio

    def data_uri(self, key: str, figure: LightFigure | Mapping, width: int = raster.WIDTH, lossy: bool = False,
                 hold: bool = True) -> str:
        """`figure`'s latest picture (WebP: lossy for photo-like figures such as a heatmap). `hold=False`
        draws a changed figure at once: a paused run's page is drawn once and then not again, so a
        picture held there would stay behind the run's step until the next click."""
        digest = figure_digest(figure, width)
        kept = self._latest.get(key)
        began = self._clock()
        if kept is not None and (kept.digest == digest or (hold and began < kept.next_draw and not kept.placeholder)):
            return kept.uri
        uri = data_uri_webp(raster.figure_picture(figure, width), lossless=not lossy)
        took = self._clock() - began
        self._latest[key] = Drawn(digest, uri, began + self._cost_ratio * took, not has_traces(figure))
        return uri
