"""What the Latent explorer shows, ready for the page: PNG frames, strips, GIFs, traversal rows, grids,
thumbnails and the latent map's coordinates and colours. pages/latent.py adds widgets and caching.

Image models give pictures of their decoded images; 2D-point models give pictures of the decoded points
drawn over the data (genlab.pictures.points_picture), which a browser redraws faster than a chart.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genlab import pictures
from genlab.latent.analysis import Analysis, describe_dims
from genlab.latent.grids import Traversal, manifold, traverse
from genlab.latent.interpolation import interpolate, interpolation_path
from genlab.latent.model import ExploreData, LatentModel
from genlab.latent.uploads import image_from_bytes

FRAME_PX = 256  # on-screen size of the interpolated image (pixels repeated, not blurred)
STRIP_PX = 84  # size of one frame of the strip, and of a data set endpoint's picture
GIF_PX = 160  # size of one GIF frame
GRID_PX = 56  # size of one image of the traversal and manifold grids
POINTS_GRID_PX = 384  # side of a 2D model's traversal and grid pictures
SELECTION_PX = 48  # size of one selected map sample
SELECTION_MAX = 48  # selected samples shown at most
SELECTION_PER_ROW = 12
THUMB_COUNT = 40  # data images drawn on the latent map
GIF_FRAME_MS = 120
SHIPPED_FIRST = ("shapes-beta-vae", "fashion-vae", "fashion-gan", "ring-gan")  # default pick, in this order
MNIST_LIKE = ("mnist", "fashion_mnist", "shapes")  # white on black: uploaded drawings are inverted by default


def default_run(names: Sequence[str]) -> str:
    """The run to open first: a shipped one (in SHIPPED_FIRST's order) when present, else the first."""
    return next((name for name in SHIPPED_FIRST if name in names), names[0])


def inverts_uploads(config: Any) -> bool:
    """Whether uploaded drawings should be inverted by default: the data set is light on dark."""
    return config.data.name in MNIST_LIKE


def encode_upload(model: LatentModel, content: bytes, invert: bool) -> np.ndarray:
    """An uploaded picture's posterior mean (d,) (VAE); ValueError saying why for an unusable picture."""
    x = image_from_bytes(content, model.data_shape, invert=invert)
    return model.encode(x[None])[0].numpy()


def data_picture(data: ExploreData, index: int) -> np.ndarray:
    """One data image as a uint8 picture about STRIP_PX wide."""
    up = pictures.upscale_for(data.x.shape[-1], STRIP_PX)
    return pictures.to_uint8(data.x[index : index + 1], upscale=up)[0]


# ------------------------------------------------------------------------------------------------
# interpolation
# ------------------------------------------------------------------------------------------------
@dataclass
class Strip:
    png: bytes  # the n frames side by side
    gif: bytes  # the same frames, animated forward and back
    decoded: Tensor | None  # (n, 2) the decoded path of a 2D model (drawn under the moving point)


def interpolation_strip(model: LatentModel, reference: Tensor | None, a: np.ndarray, b: np.ndarray, method: str,
                        n: int) -> Strip:
    """The n-frame strip from a to b, its GIF and (2D models) the decoded path; one decode for all."""
    decoded = model.decode(interpolation_path(torch.from_numpy(a), torch.from_numpy(b), n, method))
    if model.data_kind == "images":
        size = decoded.shape[-1]
        strip = pictures.image_grid(decoded, nrow=n, upscale=pictures.upscale_for(size, STRIP_PX))
        frames = pictures.to_uint8(decoded, upscale=pictures.upscale_for(size, GIF_PX))
        path = None
    else:
        frames = np.stack([pictures.points_picture(reference, decoded, decoded[i : i + 1], size=GIF_PX)
                           for i in range(n)])
        gap = np.full((GIF_PX, 4, 3), pictures.WHITE, dtype=np.uint8)  # white between frames
        strip = np.concatenate([part for frame in frames for part in (frame, gap)][:-1], axis=1)
        path = decoded
    return Strip(pictures.png_bytes(strip), pictures.gif_bytes(frames, duration_ms=GIF_FRAME_MS, pingpong=True), path)


def frame_png(model: LatentModel, reference: Tensor | None, path: Tensor | None, a: np.ndarray, b: np.ndarray,
              t: float, method: str) -> tuple[bytes, str]:
    """(PNG, caption) of the latent at t on the path from a to b: the one decode per slider move."""
    x = model.decode(interpolate(torch.from_numpy(a), torch.from_numpy(b), float(t), method))
    caption = f"decoded at t = {t:.2f}"
    if model.data_kind == "images":
        picture = pictures.to_uint8(x, upscale=pictures.upscale_for(x.shape[-1], FRAME_PX))[0]
    else:
        picture = pictures.points_picture(reference, path, x, size=FRAME_PX)
        caption += f": ({float(x[0, 0]):.3f}, {float(x[0, 1]):.3f})"
    return pictures.png_bytes(picture, fast=True), caption


# ------------------------------------------------------------------------------------------------
# traversals and the decoded grid
# ------------------------------------------------------------------------------------------------
def traversal_caption(model: LatentModel, analysis: Analysis) -> str:
    """What the traversal rows show and in which order."""
    if not model.has_encoder:
        return "One row per latent dimension, in index order (a GAN has no KL to rank them by)."
    source = "measured on the data" if analysis.data is not None else "from the run's last training step"
    factors = (" Labels name the ground-truth factor each dimension follows most (|correlation|, η for shape)."
               if analysis.association is not None else "")
    return (f"One row per latent dimension, most informative first (KL per dimension {source}). "
            "A dimension with KL ≈ 0 is unused: its posterior equals the prior, so it changes nothing." + factors)


@dataclass
class TraversalView:
    labels: list[str]  # one per row: dimension, KL, the factor it follows
    rows: list[bytes]  # one PNG per row (image models)
    grid_png: bytes  # all rows in one picture (the download)
    traversal: Traversal | None  # the decoded curves (2D models, drawn as a chart)


def traversal_view(model: LatentModel, analysis: Analysis, base: np.ndarray, dims: Sequence[int], low: float,
                   high: float, steps: int) -> TraversalView:
    """One decoded row per dimension in dims, sweeping it from low to high around `base`."""
    trav = traverse(model, torch.from_numpy(base), dims, low, high, steps, kl=analysis.kl)
    names = analysis.data.factor_names if analysis.data is not None else ()
    labels = describe_dims(analysis.kl, analysis.association, names, dims)
    if model.data_kind == "images":
        flat = trav.decoded.reshape(-1, *trav.decoded.shape[2:])
        up = pictures.upscale_for(flat.shape[-1], GRID_PX)
        rows = [pictures.png_bytes(pictures.image_grid(row, nrow=steps, upscale=up)) for row in trav.decoded]
        grid = pictures.png_bytes(pictures.image_grid(flat, nrow=steps, upscale=up))
        return TraversalView(labels, rows, grid, None)
    picture = pictures.points_picture(analysis.reference, trav.decoded.reshape(-1, 2), None, size=POINTS_GRID_PX)
    return TraversalView(labels, [], pictures.png_bytes(picture), trav)


def grid_caption(d: int, dims: tuple[int, int]) -> str:
    """What the decoded grid of a d-dimensional latent over dims (x, y) shows."""
    if d == 1:
        return "A 1-D latent: the decoded line over prior quantiles."
    if d == 2:
        return f"The whole 2-D latent space, decoded on a grid: z{dims[0]} grows to the right, z{dims[1]} upwards."
    return (f"A 2-D slice of the {d}-D latent space: z{dims[0]} grows to the right, z{dims[1]} upwards, "
            "the other dimensions are 0.")


@dataclass
class ManifoldView:
    png: bytes  # the decoded grid (image models) or the decoded points over the data (2D models)
    decoded: Tensor | None  # (n·n, 2) the decoded points (2D models, drawn as a chart)


def manifold_view(model: LatentModel, reference: Tensor | None, n: int, dims: tuple[int, int], low_q: float,
                  high_q: float) -> ManifoldView:
    """The decoded n×n grid over prior quantiles of dims (a line for a 1-D latent)."""
    decoded = manifold(model, n, dims, None, low_q, high_q)
    if model.data_kind == "images":
        grid = pictures.image_grid(decoded, nrow=n, upscale=pictures.upscale_for(decoded.shape[-1], GRID_PX))
        return ManifoldView(pictures.png_bytes(grid), None)
    picture = pictures.points_picture(reference, decoded, None, size=POINTS_GRID_PX)
    return ManifoldView(pictures.png_bytes(picture), decoded)


# ------------------------------------------------------------------------------------------------
# the latent map of encoded data
# ------------------------------------------------------------------------------------------------
def map_coordinates(analysis: Analysis, latent_dim: int) -> tuple[Tensor, tuple[str, str]]:
    """(N, 2) map positions of the encoded data and the axes' titles: the latent itself when it is 2-D,
    else its first two principal components (with their share of the variance)."""
    if latent_dim == 2:
        return analysis.data.mu, ("z0", "z1")
    ratio = analysis.pca_ratio
    return analysis.pca, (f"PC 1 ({float(ratio[0]):.0%} of variance)", f"PC 2 ({float(ratio[1]):.0%})")


def colour_options(data: ExploreData) -> list[str]:
    """What the map can be coloured by: the class label (when known), each factor, or nothing."""
    options = ["label"] if data.labels is not None and data.class_names else []
    return options + list(data.factor_names) + ["none"]


def map_colours(data: ExploreData, colour_by: str) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """(value per sample, category names): categories for labels and shapes, a colour scale otherwise."""
    if colour_by == "label":
        return data.labels.numpy(), data.class_names
    if colour_by == "shape" and data.class_names:
        return data.factors[:, data.factor_names.index("shape")].numpy(), data.class_names
    if colour_by == "none":
        return None, ()
    return data.factors[:, data.factor_names.index(colour_by)].numpy(), ()


Placed = list[tuple[float, float, str]]  # (x, y, data-URI PNG) pictures on the latent map


def thumbnails(data: ExploreData, coords: Tensor, count: int = THUMB_COUNT) -> tuple[Placed, float]:
    """`count` data images (a fixed random pick) as (x, y, data URI) at their map position, and the size
    to draw them at in map units (1/14 of the map's wider side)."""
    pick = torch.randperm(len(coords), generator=torch.Generator().manual_seed(0))[:count]
    images = pictures.to_uint8(data.x[pick])
    placed = [(float(coords[i, 0]), float(coords[i, 1]), pictures.data_uri_png(p))
              for i, p in zip(pick.tolist(), images)]
    span = float((coords.max(0).values - coords.min(0).values).max())
    return placed, span / 14


def selection_picture(data: ExploreData, chosen: Sequence[int]) -> tuple[np.ndarray, str]:
    """A grid of the first SELECTION_MAX selected data images and its caption."""
    shown = list(chosen[:SELECTION_MAX])
    up = pictures.upscale_for(data.x.shape[-1], SELECTION_PX)
    grid = pictures.image_grid(data.x[shown], nrow=min(SELECTION_PER_ROW, len(shown)), upscale=up)
    extra = f" (first {SELECTION_MAX} shown)" if len(chosen) > SELECTION_MAX else ""
    return grid, f"{len(chosen)} selected{extra}"
