"""dSprites-style shapes (Matthey et al. 2017), rendered procedurally and vectorized in torch.

Each image is one white shape on black, defined by five ground-truth factors:
  shape    0 square, 1 ellipse, 2 heart
  scale    one of 6 values in [0.5, 1] (as in dSprites)
  rotation one of 40 angles in [0, 2*pi), counter-clockwise on screen
  pos_x    one of 32 values in [0, 1], left to right
  pos_y    one of 32 values in [0, 1], top to bottom
Factors are drawn at random from this lattice (seeded), not enumerated as a full grid, so any number of
images can be asked for while the factors stay discrete, as disentanglement metrics expect.

Rendering: every pixel centre is mapped into the shape's own frame (undo translation, rotation and
scale) and an implicit inside/outside function is evaluated there, on the window of pixels around each
shape, for a whole chunk of images at once.
Images are binary, stored as uint8 0/255, one channel.
"""
from __future__ import annotations

import math

import torch

SHAPE_NAMES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "rotation", "pos_x", "pos_y")
SCALES = torch.linspace(0.5, 1.0, 6)
ROTATIONS = torch.arange(40) * (2 * math.pi / 40)
POSITIONS = torch.linspace(0.0, 1.0, 32)

# Half the side of the square at scale 1, as a fraction of the image width.
HALF_SIZE = 0.16
# The shape centre moves in [MARGIN, 1 - MARGIN] so that even a rotated square at scale 1 (circumradius
# HALF_SIZE * sqrt(2) = 0.226) stays inside the image, clear of the border pixels even at 28 px.
MARGIN = 0.25
ELLIPSE_MINOR = 0.6  # semi-minor axis relative to the semi-major axis (which is 1 in shape units)
# The implicit heart (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 spans x in [-1.139, 1.139], y in [-1, 1.236]:
# shift it to be centred and shrink it so its half-extent is about 1, like the square's.
HEART_SCALE = 1.13
HEART_SHIFT = 0.118

# Elements per float working tensor in one rendering chunk (8M floats = 32 MB): bounds peak memory.
CHUNK_ELEMENTS = 8 * 1024 * 1024


def sample_factors(n: int, seed: int) -> torch.Tensor:
    """(n, 5) float32 factors drawn uniformly from the dSprites-style lattice; deterministic by seed."""
    g = torch.Generator().manual_seed(seed)
    shape = torch.randint(len(SHAPE_NAMES), (n,), generator=g).float()
    scale = SCALES[torch.randint(len(SCALES), (n,), generator=g)]
    rotation = ROTATIONS[torch.randint(len(ROTATIONS), (n,), generator=g)]
    pos_x = POSITIONS[torch.randint(len(POSITIONS), (n,), generator=g)]
    pos_y = POSITIONS[torch.randint(len(POSITIONS), (n,), generator=g)]
    return torch.stack([shape, scale, rotation, pos_x, pos_y], dim=1).float()


def _inside(shape_id: int, u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Implicit shape test in shape units (u right, w up; the square is [-1, 1]^2)."""
    if shape_id == 0:
        return torch.maximum(u.abs(), w.abs()) <= 1.0
    if shape_id == 1:
        return u.square() + (w / ELLIPSE_MINOR).square() <= 1.0
    x2 = (u * HEART_SCALE).square_()
    y = w.mul(HEART_SCALE).add_(HEART_SHIFT)
    r = (x2 + y.square()).sub_(1.0)
    return r.pow_(3) <= x2.mul_(y.pow_(3))


def window_size(image_size: int) -> int:
    """Side of the square window that always contains a shape (circumradius of the largest square, + 1 px)."""
    radius = HALF_SIZE * math.sqrt(2) * image_size
    return min(image_size, math.ceil(2 * radius) + 2)


def render_shapes(factors: torch.Tensor, image_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Render (N, 5) factors into uint8 (N, 1, image_size, image_size) images on `device`.

    Only a window around each shape is evaluated (about a quarter of the image): the shape always lies
    inside it and the rest of the image stays 0. Work goes in chunks of images, per shape within a
    chunk, so memory stays bounded whatever N is.
    """
    device = torch.device(device)
    n = factors.shape[0]
    out = torch.zeros(n, 1, image_size, image_size, dtype=torch.uint8, device=device)
    plane = out[:, 0]  # (N, H, W) view written through advanced indexing
    k = window_size(image_size)
    offsets = torch.arange(k, device=device)
    chunk = max(1, CHUNK_ELEMENTS // (k * k))
    for start in range(0, n, chunk):
        f = factors[start : start + chunk].to(device=device, dtype=torch.float32)
        for shape_id in range(len(SHAPE_NAMES)):
            idx = (f[:, 0] == shape_id).nonzero().squeeze(1)
            if idx.numel() == 0:
                continue
            scale, rotation, pos_x, pos_y = f[idx, 1:].unbind(1)
            cx = (MARGIN + pos_x * (1 - 2 * MARGIN)) * image_size  # shape centre in pixels
            cy = (MARGIN + pos_y * (1 - 2 * MARGIN)) * image_size
            left = (cx - k / 2).floor().long().clamp_(0, image_size - k)
            top = (cy - k / 2).floor().long().clamp_(0, image_size - k)
            cols = left[:, None] + offsets  # (b, k) pixel columns of each window
            rows = top[:, None] + offsets
            dx = (cols.float() + 0.5 - cx[:, None])[:, None, :]  # (b, 1, k), pointing right
            dy = (cy[:, None] - rows.float() - 0.5)[:, :, None]  # (b, k, 1), pointing up (rows go down)
            size = (scale * HALF_SIZE * image_size)[:, None, None]
            cos = rotation.cos()[:, None, None] / size
            sin = rotation.sin()[:, None, None] / size
            # Inverse rotation by `rotation`, then inverse scaling: pixel -> shape frame.
            u = cos * dx + sin * dy
            w = cos * dy - sin * dx
            mask = _inside(shape_id, u, w).to(torch.uint8).mul_(255)
            plane[(start + idx)[:, None, None], rows[:, :, None], cols[:, None, :]] = mask
    return out


def make_shapes(n: int, image_size: int, seed: int, device: torch.device | str = "cpu"):
    """(images uint8 (n, 1, S, S) on device, factors float32 (n, 5) on device, labels int64 (n,))."""
    factors = sample_factors(n, seed)
    images = render_shapes(factors, image_size, device)
    factors = factors.to(device)
    return images, factors, factors[:, 0].long()
