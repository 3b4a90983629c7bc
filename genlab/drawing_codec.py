"""A drawing as text, without torch: the grid it is drawn on, its anchors, and the two forms it travels in,
link text (two URL-safe characters per anchor: column then row on the grid, e.g. "Ug" is column 20,
row 32) and a run's data.path, "drawn:<σ>:<link text>". genlab.data.drawn makes the data set from it;
genlab.share puts it in Train links (a share link must not import torch)."""
from __future__ import annotations

import numpy as np

from genlab.config import ConfigError

EXTENT = 4.0  # the plane drawn on: the toy 2D sets lie roughly within [−4, 4]²
CELLS = 41  # grid nodes per axis: 0.2 apart
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # base64url's, one per index
MAX_ANCHORS = 2000
DEFAULT_SPREAD = 0.1  # σ of each anchor's Gaussian
FIELD = "drawing"
PATH_FIELD = "data.path"
DRAWN_PREFIX = "drawn:"

assert CELLS <= len(ALPHABET)


def grid_axis() -> np.ndarray:
    """The CELLS coordinates of the grid's nodes along either axis."""
    return np.round(np.linspace(-EXTENT, EXTENT, CELLS), 6)


def grid_nodes() -> np.ndarray:
    """Every node of the grid, (CELLS², 2), row by row."""
    xs, ys = np.meshgrid(grid_axis(), grid_axis())
    return np.stack([xs.ravel(), ys.ravel()], 1)


def snap(points) -> list[tuple[float, float]]:
    """Each point moved to its nearest grid node (inside the plane), duplicates dropped, order kept."""
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    step = 2 * EXTENT / (CELLS - 1)
    indices = np.clip(np.round((array + EXTENT) / step), 0, CELLS - 1).astype(int)
    axis = grid_axis()
    return list(dict.fromkeys((float(axis[i]), float(axis[j])) for i, j in indices))


def add_anchors(current, picked) -> list[tuple[float, float]]:
    """The drawing with the grid nodes nearest to `picked` added (each node once, in the order drawn)."""
    return snap(list(current) + list(picked))


def remove_anchors(current, picked) -> list[tuple[float, float]]:
    """The drawing without the grid nodes nearest to `picked` (an eraser)."""
    erased = set(snap(picked)) if len(picked) else set()
    return [anchor for anchor in snap(current) if anchor not in erased]


def encode_anchors(anchors) -> str:
    """The anchors (grid nodes) as text for a link: column then row character per anchor."""
    step = 2 * EXTENT / (CELLS - 1)
    text = []
    for x, y in snap(anchors):
        text.append(ALPHABET[int(round((x + EXTENT) / step))] + ALPHABET[int(round((y + EXTENT) / step))])
    return "".join(text)


def decode_anchors(text: str) -> list[tuple[float, float]]:
    """The anchors a link's text names; ConfigError naming the first character that is not a grid index."""
    if len(text) % 2:
        raise ConfigError(FIELD, text[:40], "must hold two characters per point (an odd count was given)")
    if len(text) // 2 > MAX_ANCHORS:
        raise ConfigError(FIELD, text[:40], f"has more than {MAX_ANCHORS} points")
    axis = grid_axis()
    indices = []
    for position, char in enumerate(text):
        index = ALPHABET.find(char)
        if not 0 <= index < CELLS:
            raise ConfigError(FIELD, text[:40], f"character {position + 1} ({char!r}) is not a grid index")
        indices.append(index)
    return snap([(axis[indices[k]], axis[indices[k + 1]]) for k in range(0, len(indices), 2)])


def drawing_path(anchors, spread: float = DEFAULT_SPREAD) -> str:
    """The data.path that holds a drawing: "drawn:<σ>:<anchors as link text>"."""
    return f"{DRAWN_PREFIX}{float(spread)!r}:{encode_anchors(anchors)}"


def is_drawing(path: str) -> bool:
    return isinstance(path, str) and path.startswith(DRAWN_PREFIX)


def parse_drawing_path(path: str) -> tuple[list[tuple[float, float]], float]:
    """(anchors, σ) of a drawing's data.path; ConfigError naming what is malformed."""
    spread_text, colon, text = path[len(DRAWN_PREFIX):].partition(":")
    if not colon:
        raise ConfigError(PATH_FIELD, path[:40], "a drawing's path reads drawn:<σ>:<points>")
    try:
        spread = float(spread_text)
    except ValueError:
        raise ConfigError(PATH_FIELD, path[:40], f"the drawing's σ ({spread_text!r}) is not a number") from None
    return decode_anchors(text), spread
