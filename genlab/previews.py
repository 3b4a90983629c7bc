"""Small PNG pictures of samples without a plotting library: image grids and 2D scatter plots.

Used for a run's preview.png and for `python -m genlab sample`. Pure tensor code plus Pillow's PNG encoder.
"""
from __future__ import annotations

import io
import math

import torch
from PIL import Image

BACKGROUND = 255
DATA_COLOUR = (190, 190, 190)  # real samples: light grey
SAMPLE_COLOUR = (214, 39, 40)  # generated samples: red


def image_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """(N, C, H, W) floats in [0, 1] -> uint8 (H', W', C) grid, `nrow` images per row (default ~square)."""
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), 1.0)
    for i, image in enumerate(images.detach().float().cpu()):
        top = padding + (i // nrow) * (h + padding)
        left = padding + (i % nrow) * (w + padding)
        grid[:, top : top + h, left : left + w] = image
    return (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous()


def scatter(
    points: torch.Tensor,
    reference: torch.Tensor | None = None,
    size: int = 256,
    extent: float | None = None,
) -> torch.Tensor:
    """uint8 (size, size, 3) picture of 2D `points` (red) over optional `reference` points (grey).

    The square view is centred at 0 and spans [-extent, extent]; by default it covers the reference
    (or the points) with a 10% margin, ignoring the farthest 1% so one outlier does not shrink the plot.
    """
    points = points.detach().float().cpu().reshape(-1, 2)
    if extent is None:
        basis = reference if reference is not None and len(reference) else points
        magnitudes = basis.detach().float().cpu().abs().reshape(-1)
        magnitudes = magnitudes[torch.isfinite(magnitudes)]
        extent = float(torch.quantile(magnitudes, 0.99)) * 1.1 if len(magnitudes) else 1.0
        extent = max(extent, 1e-3)
    canvas = torch.full((size, size, 3), BACKGROUND, dtype=torch.uint8)

    def draw(xy: torch.Tensor, colour: tuple[int, int, int], radius: int) -> None:
        xy = xy.detach().float().cpu().reshape(-1, 2)
        xy = xy[torch.isfinite(xy).all(dim=1)]
        cols = ((xy[:, 0] / extent + 1) / 2 * (size - 1)).round().long()
        rows = ((1 - (xy[:, 1] / extent + 1) / 2) * (size - 1)).round().long()  # y axis points up
        for dr in range(-radius, radius + 1):
            for dc in range(-radius, radius + 1):
                r, c = rows + dr, cols + dc
                keep = (r >= 0) & (r < size) & (c >= 0) & (c < size)
                canvas[r[keep], c[keep]] = torch.tensor(colour, dtype=torch.uint8)

    if reference is not None:
        draw(reference, DATA_COLOUR, 0)
    draw(points, SAMPLE_COLOUR, 1)
    return canvas


def png_bytes(pixels: torch.Tensor) -> bytes:
    """uint8 (H, W, C) with C in 1 or 3 -> PNG file content."""
    array = pixels.detach().cpu().numpy()
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def samples_png(samples: torch.Tensor, reference: torch.Tensor | None = None, nrow: int | None = None) -> bytes:
    """PNG of samples in data space: a grid for images (N, C, H, W) in [0, 1], a scatter for points (N, 2)."""
    if samples.dim() == 4:
        return png_bytes(image_grid(samples, nrow=nrow))
    if samples.dim() == 2 and samples.shape[1] == 2:
        return png_bytes(scatter(samples, reference))
    raise ValueError(f"cannot draw samples of shape {tuple(samples.shape)}")
