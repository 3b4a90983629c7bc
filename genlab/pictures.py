"""Pictures of samples, without a plotting library: uint8 frames, image grids, 2D scatter pictures,
PNG and GIF files, data: URIs.

One place for every picture genlab draws: a run's preview.png, `python -m genlab sample`, the live
view's sample grid and the Latent explorer's frames, strips, grids and GIFs. numpy and Pillow only
(torch tensors are accepted wherever arrays are, and converted on the CPU).

Conventions: images come in as floats (N, C, H, W) in [0, 1] with C = 1 or 3 (NaN draws black, values
outside [0, 1] are clipped); 2D points as (N, 2); pictures go out as uint8 arrays (H, W) for one
channel or (H, W, 3).
"""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

WHITE = 255
DATA_COLOUR = (190, 190, 190)  # real samples: light grey
SAMPLE_COLOUR = (214, 39, 40)  # generated samples, the current point: red
PATH_COLOUR = (31, 119, 180)  # a decoded path: blue
SCATTER_SIZE = 256  # side of a 2D scatter picture, in pixels


def as_array(values: Any, dtype: type = np.float32) -> np.ndarray:
    """An array, or a torch tensor on any device, as a numpy array of `dtype` (copied only when needed)."""
    if hasattr(values, "detach"):  # a torch tensor: no torch import needed here
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def upscale_for(pixels: int, target: int) -> int:
    """The whole-number factor that brings an image `pixels` wide closest to `target` pixels (≥ 1)."""
    return max(1, round(target / max(pixels, 1)))


def _check_images(images: np.ndarray) -> None:
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, C, H, W) with 1 or 3 channels, got shape {images.shape}")


def _to_bytes(values: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (NaN as 0) -> uint8, rounding to the nearest level."""
    return np.round(np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * 255.0).astype(np.uint8)


def _repeat_pixels(picture: np.ndarray, upscale: int, axes: tuple[int, int]) -> np.ndarray:
    # nearest neighbour: small images stay crisp instead of being blurred by the browser's scaling
    if upscale > 1:
        picture = picture.repeat(upscale, axis=axes[0]).repeat(upscale, axis=axes[1])
    return picture


def to_uint8(images: Any, upscale: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> uint8 (N, H·s, W·s) for one channel or (N, H·s, W·s, 3), s = upscale."""
    array = as_array(images)
    _check_images(array)
    out = _repeat_pixels(_to_bytes(array).transpose(0, 2, 3, 1), upscale, (1, 2))
    return out[..., 0] if out.shape[-1] == 1 else out


def image_grid(images: Any, nrow: int | None = None, padding: int = 2, upscale: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one uint8 picture: `nrow` images per row (default: a near square),
    `padding` white pixels around and between them, the whole grid upscaled `upscale` times.

    Size: (rows·(H + p) + p)·s by (nrow·(W + p) + p)·s, rows = ⌈N / nrow⌉; unused cells stay white.
    """
    array = as_array(images)
    _check_images(array)
    n, c, h, w = array.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    cells = np.full((rows * nrow, h + padding, w + padding, c), WHITE, dtype=np.uint8)
    cells[:n, :h, :w] = _to_bytes(array).transpose(0, 2, 3, 1)  # each image, padding below and right
    grid = cells.reshape(rows, nrow, h + padding, w + padding, c).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * (h + padding), nrow * (w + padding), c)
    grid = np.pad(grid, ((padding, 0), (padding, 0), (0, 0)), constant_values=WHITE)  # and above, left
    grid = _repeat_pixels(grid, upscale, (0, 1))
    return grid[:, :, 0] if c == 1 else grid


def default_extent(points: Any) -> float:
    """Half-width of a square view centred at 0 that shows `points`: the 99th percentile of their
    finite |coordinates| plus 10%, so one outlier does not shrink the picture (1 when there are none)."""
    magnitudes = np.abs(as_array(points, np.float64)).reshape(-1)
    magnitudes = magnitudes[np.isfinite(magnitudes)]
    if not len(magnitudes):
        return 1.0
    return max(float(np.quantile(magnitudes, 0.99)) * 1.1, 1e-3)


def scatter_picture(layers: Sequence[tuple[Any, tuple[int, int, int], int]], size: int = SCATTER_SIZE,
                    extent: float = 1.0) -> np.ndarray:
    """uint8 (size, size, 3) white picture of 2D point sets, drawn in order (later ones on top).

    Each layer is (points (N, 2), RGB colour, dot radius in pixels); a dot covers the pixels within
    r² + r of its centre (radius 0: one pixel, 1: a 3×3 square, larger: a disc). The view spans
    [-extent, extent] on both axes, y pointing up; non-finite points and points outside are skipped.
    """
    canvas = np.full((size, size, 3), WHITE, dtype=np.uint8)
    for points, colour, radius in layers:
        xy = as_array(points).reshape(-1, 2)
        xy = xy[np.isfinite(xy).all(axis=1)]
        cols = np.round((xy[:, 0] / extent + 1) / 2 * (size - 1)).astype(np.int64)
        rows = np.round((1 - (xy[:, 1] / extent + 1) / 2) * (size - 1)).astype(np.int64)
        for dr in range(-radius, radius + 1):
            for dc in range(-radius, radius + 1):
                if dr * dr + dc * dc > radius * radius + radius:
                    continue
                r, c = rows + dr, cols + dc
                inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
                canvas[r[inside], c[inside]] = colour
    return canvas


def points_picture(reference: Any | None, path: Any | None, current: Any | None, size: int = SCATTER_SIZE,
                   extent: float | None = None) -> np.ndarray:
    """The Latent explorer's 2D view: data (grey), a decoded path (blue), the current point (red).

    `extent` defaults to default_extent of the data (or of the path when there is no data).
    """
    if extent is None:
        basis = reference if reference is not None and len(reference) else path
        extent = default_extent(basis if basis is not None else np.empty((0, 2)))
    layers = []
    if reference is not None:
        layers.append((reference, DATA_COLOUR, 1))
    if path is not None:
        layers.append((path, PATH_COLOUR, 1 if size < 200 else 2))
    if current is not None:
        layers.append((current, SAMPLE_COLOUR, max(3, size // 32)))
    return scatter_picture(layers, size, extent)


def samples_picture(samples: Any, reference: Any | None = None, nrow: int | None = None) -> np.ndarray:
    """Samples in data space as a picture: a grid for images (N, C, H, W), generated points (red) over
    real ones (grey) for 2D data (N, 2)."""
    shape = tuple(samples.shape)
    if len(shape) == 4:
        return image_grid(samples, nrow=nrow)
    if len(shape) == 2 and shape[1] == 2:
        extent = default_extent(reference if reference is not None and len(reference) else samples)
        layers = [(samples, SAMPLE_COLOUR, 1)]
        if reference is not None:
            layers.insert(0, (reference, DATA_COLOUR, 0))
        return scatter_picture(layers, SCATTER_SIZE, extent)
    raise ValueError(f"cannot draw samples of shape {shape}")


def png_bytes(picture: np.ndarray, fast: bool = False) -> bytes:
    """uint8 (H, W), (H, W, 1) or (H, W, 3) -> PNG file content; `fast` trades size for speed (live frames)."""
    picture = np.ascontiguousarray(picture)
    if picture.ndim == 3 and picture.shape[2] == 1:
        picture = picture[:, :, 0]
    buffer = io.BytesIO()
    options = {"compress_level": 1} if fast else {"optimize": True}
    Image.fromarray(picture).save(buffer, format="PNG", **options)
    return buffer.getvalue()


def samples_png(samples: Any, reference: Any | None = None, nrow: int | None = None) -> bytes:
    """PNG of samples_picture: a run's preview.png and `python -m genlab sample`."""
    return png_bytes(samples_picture(samples, reference, nrow))


def data_uri_png(picture: np.ndarray, fast: bool = False) -> str:
    """A picture as an inline `data:image/png;base64,...` URI (no file for the browser to fetch, so none
    that can be gone by the time it asks); `fast` as for png_bytes."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(picture, fast)).decode()


def data_uri_webp(picture: np.ndarray, lossless: bool) -> str:
    """A picture as an inline `data:image/webp;base64,...` URI, for live frames re-sent twice a second:
    lossless for charts (lines and text: 2-3x smaller than a fast PNG), lossy (quality 85) for photo-like
    pictures such as D's heatmap (about 5x smaller). Encoder effort is kept low (method 0-1): a frame is
    encoded on the server's training CPU."""
    buffer = io.BytesIO()
    options = {"lossless": True, "method": 1} if lossless else {"quality": 85, "method": 0}
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="WEBP", **options)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode()


def gif_bytes(frames: Sequence[np.ndarray] | np.ndarray, duration_ms: int = 100, loop: int = 0,
              pingpong: bool = False) -> bytes:
    """An animated GIF of uint8 frames (T, H, W) or (T, H, W, 3); loops forever by default.

    `pingpong` plays the frames forward then backward (without repeating the two ends), so the loop has
    no jump. Grey frames use an exact 256-grey palette; colour frames are quantized by Pillow.
    """
    frames = [np.ascontiguousarray(f) for f in frames]
    if len(frames) < 1:
        raise ValueError("a GIF needs at least one frame")
    if any(f.dtype != np.uint8 for f in frames):
        raise ValueError("GIF frames must be uint8")
    if pingpong and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    images = [Image.fromarray(f).convert("L" if f.ndim == 2 else "RGB") for f in frames]
    if images[0].mode == "RGB":
        images = [im.quantize(colors=256, dither=Image.Dither.NONE) for im in images]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=int(duration_ms),
                   loop=int(loop), disposal=1, optimize=False)
    return buffer.getvalue()


def gif_frame_count(data: bytes) -> int:
    """Number of frames in a GIF (ValueError if it is not one)."""
    try:
        with Image.open(io.BytesIO(data), formats=["GIF"]) as image:
            return int(getattr(image, "n_frames", 1))
    except (OSError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        raise ValueError(f"not a GIF ({exc})") from None
