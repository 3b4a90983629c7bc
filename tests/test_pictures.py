"""genlab.pictures: uint8 conversion, image grids, 2D scatter pictures, PNG/GIF files and data URIs."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from genlab import pictures


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


# ------------------------------------------------------------------------------------------------
# uint8 frames and grids
# ------------------------------------------------------------------------------------------------
def test_to_uint8_rounds_clips_and_upscales():
    images = torch.rand(6, 1, 8, 8)
    pixels = pictures.to_uint8(images, upscale=3)
    assert pixels.shape == (6, 24, 24) and pixels.dtype == np.uint8
    assert pixels[0, 0, 0] == round(float(images[0, 0, 0, 0]) * 255)
    assert np.array_equal(pixels[:, ::3, ::3], pixels[:, 2::3, 2::3])  # each pixel repeated 3×3
    assert pictures.to_uint8(torch.rand(2, 3, 4, 4)).shape == (2, 4, 4, 3)
    odd = np.array([[[[-0.5, 1.5], [np.nan, 0.5]]]])
    assert pictures.to_uint8(odd)[0].tolist() == [[0, 255], [0, 128]]
    with pytest.raises(ValueError, match="1 or 3 channels"):
        pictures.to_uint8(np.zeros((2, 2, 4, 4)))


def test_image_grid_layout_padding_and_unused_cells():
    images = np.zeros((5, 1, 4, 4))
    images[3] = 1.0
    grid = pictures.image_grid(images, nrow=3, padding=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1) and grid.dtype == np.uint8
    assert grid[6:10, 1:5].min() == 255 and grid[1:5, 1:5].max() == 0  # image 3 is row 1, column 0
    for k in (0, 1, 2, 4):  # every other image is black at its place: row k // 3, column k % 3
        top, left = 1 + (k // 3) * 5, 1 + (k % 3) * 5
        assert grid[top : top + 4, left : left + 4].max() == 0, k
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all() and (grid[5] == 255).all()  # the padding
    assert (grid[6:10, 11:15] == 255).all()  # the sixth cell has no image: it stays white
    rgb = pictures.image_grid(np.random.rand(4, 3, 8, 8), upscale=2)  # default: a near square, 2 per row
    assert rgb.shape == (2 * (2 * 10 + 2), 2 * (2 * 10 + 2), 3)


def test_image_grid_accepts_tensors_and_arrays_alike():
    images = torch.rand(7, 3, 5, 6)
    from_tensor = pictures.image_grid(images, nrow=4, padding=3)
    assert np.array_equal(from_tensor, pictures.image_grid(images.numpy(), nrow=4, padding=3))
    assert from_tensor.shape == (2 * 8 + 3, 4 * 9 + 3, 3)
    # each image's pixels, converted alone, sit at their cell
    cell = pictures.to_uint8(images[5:6])[0]
    assert np.array_equal(from_tensor[3 + 8 : 3 + 8 + 5, 3 + 9 : 3 + 9 + 6], cell)


def test_upscale_for_picks_the_nearest_whole_factor():
    assert pictures.upscale_for(28, 256) == 9 and pictures.upscale_for(28, 84) == 3
    assert pictures.upscale_for(512, 256) == 1 and pictures.upscale_for(0, 256) == 256


# ------------------------------------------------------------------------------------------------
# 2D pictures
# ------------------------------------------------------------------------------------------------
def test_scatter_picture_maps_coordinates_with_y_up_and_draws_dots():
    red, grey = pictures.SAMPLE_COLOUR, pictures.DATA_COLOUR
    corners = np.array([[-1.0, 1.0], [1.0, -1.0], [np.nan, 0.0], [5.0, 0.0]])  # NaN and outside: skipped
    picture = pictures.scatter_picture([(corners, red, 0)], size=11, extent=1.0)
    drawn = np.argwhere((picture != 255).any(axis=2)).tolist()
    assert drawn == [[0, 0], [10, 10]]  # (-1, 1) top left, (1, -1) bottom right
    centre = pictures.scatter_picture([(np.zeros((1, 2)), grey, 0), (np.zeros((1, 2)), red, 1)], size=11, extent=1.0)
    assert (centre[4:7, 4:7] == red).all() and (centre != 255).any(axis=2).sum() == 9  # radius 1: a 3×3 dot on top
    disc = pictures.scatter_picture([(np.zeros((1, 2)), red, 3)], size=21, extent=1.0)
    rows, cols = np.nonzero((disc != 255).any(axis=2))
    assert ((rows - 10) ** 2 + (cols - 10) ** 2 <= 3 * 3 + 3).all() and (disc[10, 7] == red).all()
    assert (disc[7, 7] == 255).all()  # a disc, not a square


def test_default_extent_ignores_outliers_and_non_finite_values():
    points = np.concatenate([np.linspace(-2, 2, 999)[:, None].repeat(2, 1), [[1e6, np.inf]]])
    magnitudes = np.abs(points[np.isfinite(points)])
    assert pictures.default_extent(points) == pytest.approx(np.quantile(magnitudes, 0.99) * 1.1)
    assert pictures.default_extent(np.empty((0, 2))) == 1.0
    assert pictures.default_extent(torch.zeros(5, 2)) == pytest.approx(1e-3)


def test_points_picture_marks_the_current_point():
    reference = torch.randn(200, 2)
    picture = pictures.points_picture(reference, torch.zeros(5, 2), torch.tensor([[0.0, 0.0]]), size=64, extent=3.0)
    assert picture.shape == (64, 64, 3)
    assert tuple(picture[32, 32]) == pictures.SAMPLE_COLOUR  # red marker at the centre
    path = pictures.points_picture(None, torch.tensor([[1.5, 1.5]]), None, size=61, extent=3.0)
    assert tuple(path[15, 45]) == pictures.PATH_COLOUR  # column (1.5/3 + 1)/2·60 = 45, row 60 − 45


def test_samples_picture_draws_grids_for_images_and_scatters_for_points():
    images = torch.rand(6, 1, 4, 4)
    assert np.array_equal(pictures.samples_picture(images, nrow=3), pictures.image_grid(images, nrow=3))
    samples, reference = torch.zeros(3, 2), torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    picture = pictures.samples_picture(samples, reference)
    size = pictures.SCATTER_SIZE
    assert picture.shape == (size, size, 3)
    assert tuple(picture[size // 2, size // 2]) == pictures.SAMPLE_COLOUR
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert pictures.DATA_COLOUR in colours
    with pytest.raises(ValueError, match="cannot draw samples"):
        pictures.samples_picture(torch.zeros(4, 3))


# ------------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fast", [False, True])
def test_png_round_trips_through_pillow(fast):
    rng = np.random.default_rng(0)
    for picture in (rng.integers(0, 256, (9, 13), dtype=np.uint8), rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)):
        data = pictures.png_bytes(picture, fast=fast)
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and np.array_equal(decode(data), picture)
    one_channel = rng.integers(0, 256, (4, 5, 1), dtype=np.uint8)
    assert np.array_equal(decode(pictures.png_bytes(one_channel, fast=fast)), one_channel[:, :, 0])


def test_samples_png_and_data_uri_decode_to_the_picture():
    images = torch.rand(4, 3, 6, 6)
    assert np.array_equal(decode(pictures.samples_png(images, nrow=2)), pictures.image_grid(images, nrow=2))
    picture = pictures.image_grid(images)
    uri = pictures.data_uri_png(picture)
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix) and np.array_equal(decode(base64.b64decode(uri[len(prefix):])), picture)


def test_webp_data_uri_is_exact_when_lossless_and_close_when_lossy():
    """Live charts are lossless WebP (lines and text must stay sharp); the 2D scene's heatmap is lossy."""
    smooth = np.stack(np.meshgrid(np.arange(64), np.arange(48)), -1).sum(-1).astype(np.uint8)
    picture = np.stack([smooth, 255 - smooth, smooth // 2], -1)
    prefix = "data:image/webp;base64,"
    lossless, lossy = pictures.data_uri_webp(picture, lossless=True), pictures.data_uri_webp(picture, lossless=False)
    assert lossless.startswith(prefix) and lossy.startswith(prefix)
    assert np.array_equal(decode(base64.b64decode(lossless[len(prefix):])), picture)
    approximate = decode(base64.b64decode(lossy[len(prefix):])).astype(int)
    assert approximate.shape == picture.shape and np.abs(approximate - picture).mean() < 4


def test_gif_export_is_a_valid_multi_frame_gif():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 12, 10), dtype=np.uint8)
    data = pictures.gif_bytes(frames, duration_ms=50)
    assert data[:6] in (b"GIF87a", b"GIF89a")
    assert pictures.gif_frame_count(data) == 6
    image = Image.open(io.BytesIO(data))
    assert image.size == (10, 12) and image.info.get("loop") == 0
    decoded = [np.asarray(frame.convert("L")) for frame in ImageSequence.Iterator(image)]
    assert all(np.array_equal(back, frame) for back, frame in zip(decoded, frames, strict=True))
    assert pictures.gif_frame_count(pictures.gif_bytes(frames, pingpong=True)) == 10  # 6 forward, 4 back
    colour = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    assert pictures.gif_frame_count(pictures.gif_bytes(colour)) == 3
    with pytest.raises(ValueError):
        pictures.gif_bytes(frames.astype(np.float32))
    with pytest.raises(ValueError, match="not a GIF"):
        pictures.gif_frame_count(pictures.png_bytes(frames[0]))
