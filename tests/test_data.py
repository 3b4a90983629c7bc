"""Tests for genlab.data: synthetic sets, shapes, IDX / torchvision sets, user points, folders and zips."""
from __future__ import annotations

import gzip
import io
import math
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.config import ConfigError, DataConfig
from genlab.data import (
    DataSource,
    DataUnavailableError,
    images_from_folder,
    images_from_zip_bytes,
    load_data,
    points_from_array,
    points_from_csv_bytes,
    points_from_file,
)
from genlab.data import images as images_module
from genlab.data import shapes
from genlab.data.idx import read_idx

TOY_SETS = ("ring", "grid", "spiral", "moons", "circles", "checkerboard", "swissroll")
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def data_root(tmp_path, monkeypatch):
    """These tests keep their data files in tmp_path: make it an allowed data root (genlab.data.roots)."""
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(tmp_path))


# --- helpers -------------------------------------------------------------------------------------

def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes, written independently of genlab's reader."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    header = bytes([0, 0, codes[big.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + big.tobytes()


def write_mnist_split(folder: Path, prefix: str, n: int, seed: int, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        data = idx_bytes(array)
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return images, labels


def nearest_mode(points: torch.Tensor, modes: torch.Tensor) -> torch.Tensor:
    return torch.cdist(points, modes).argmin(dim=1)


def render_one(shape_id, scale, rotation, pos_x, pos_y, size=64) -> torch.Tensor:
    factors = torch.tensor([[shape_id, scale, rotation, pos_x, pos_y]], dtype=torch.float32)
    return shapes.render_shapes(factors, size)[0, 0]


def centroid(image: torch.Tensor) -> tuple[float, float]:
    """(column, row) centre of mass of the white pixels."""
    rows, cols = (image > 0).nonzero(as_tuple=True)
    return cols.float().mean().item(), rows.float().mean().item()


def reference_render(factors: torch.Tensor, size: int) -> torch.Tensor:
    """Whole-image, float64, one-image-at-a-time renderer of the same shape definitions."""
    out = torch.zeros(len(factors), size, size, dtype=torch.uint8)
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    gy, gx = torch.meshgrid(centres, centres, indexing="ij")
    for i, (shape_id, scale, rotation, pos_x, pos_y) in enumerate(factors.double().tolist()):
        span = 1 - 2 * shapes.MARGIN
        dx = gx - (shapes.MARGIN + pos_x * span)
        dy = (shapes.MARGIN + pos_y * span) - gy
        half = scale * shapes.HALF_SIZE
        u = (math.cos(rotation) * dx + math.sin(rotation) * dy) / half
        w = (-math.sin(rotation) * dx + math.cos(rotation) * dy) / half
        if shape_id == 0:
            inside = torch.maximum(u.abs(), w.abs()) <= 1
        elif shape_id == 1:
            inside = u**2 + (w / shapes.ELLIPSE_MINOR) ** 2 <= 1
        else:
            x, y = u * shapes.HEART_SCALE, w * shapes.HEART_SCALE + shapes.HEART_SHIFT
            inside = (x**2 + y**2 - 1) ** 3 - x**2 * y**3 <= 0
        out[i] = inside.to(torch.uint8) * 255
    return out


def png_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def good_csv(n: int = 32, header: bool = True, sep: str = ",") -> bytes:
    rows = [f"{i * 0.5}{sep}{-i * 0.25}" for i in range(n)]
    return ("\n".join((["x,y"] if header else []) + rows) + "\n").encode()


# --- 2D sets -------------------------------------------------------------------------------------

def test_ring_geometry_follows_pacgan():
    data = load_data(DataConfig(name="ring", n_samples=40_000), CPU, seed=1)
    angles = torch.arange(8) * (2 * math.pi / 8)
    expected = torch.stack([angles.cos(), angles.sin()], dim=1)
    assert data.kind == "points" and data.shape == (2,)
    assert torch.allclose(data.modes, expected, atol=1e-6)
    assert data.mode_std == 0.01
    which = nearest_mode(data.x, data.modes)
    counts = torch.bincount(which, minlength=8)
    assert counts.min() > 0.9 * len(data) / 8  # equal mixture weights
    residual = data.x - data.modes[which]
    assert residual.std(dim=0) == pytest.approx([0.01, 0.01], rel=0.05)


def test_grid_geometry_follows_pacgan():
    data = load_data(DataConfig(name="grid", n_samples=50_000), CPU, seed=2)
    values = sorted({round(v, 6) for v in data.modes.flatten().tolist()})
    assert values == [-4.0, -2.0, 0.0, 2.0, 4.0] and len(data.modes) == 25
    assert len({tuple(m) for m in data.modes.tolist()}) == 25
    assert data.mode_std == 0.05
    which = nearest_mode(data.x, data.modes)
    assert torch.bincount(which, minlength=25).min() > 0.85 * len(data) / 25
    residual = data.x - data.modes[which]
    assert residual.std(dim=0) == pytest.approx([0.05, 0.05], rel=0.05)


@pytest.mark.parametrize("name", TOY_SETS)
def test_toy_sets_are_finite_bounded_and_deterministic(name):
    cfg = DataConfig(name=name, n_samples=5000)
    a = load_data(cfg, CPU, seed=7)
    b = load_data(cfg, CPU, seed=7)
    c = load_data(cfg, CPU, seed=8)
    test = load_data(cfg, CPU, seed=7, split="test")
    assert a.x.shape == (5000, 2) and a.x.dtype == torch.float32 and a.x.device == CPU
    assert torch.isfinite(a.x).all()
    assert a.x.abs().max() < 5.0  # roughly within [-4, 4]
    assert a.x.std(dim=0).min() > 0.3  # spread out, not collapsed
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, c.x)
    assert not torch.equal(a.x, test.x)  # the test split is an independent draw...
    assert (a.x.mean(0) - test.x.mean(0)).abs().max() < 0.15  # ...of the same distribution
    if name not in ("ring", "grid"):
        assert a.modes is None and a.mode_std is None


def test_circles_and_checkerboard_have_their_structure():
    circles = load_data(DataConfig(name="circles", n_samples=4000), CPU).x
    radius = circles.norm(dim=1)
    assert ((radius - 1.5).abs() < 0.5).sum() == 2000 and ((radius - 3.0).abs() < 0.5).sum() == 2000
    board = load_data(DataConfig(name="checkerboard", n_samples=4000), CPU).x
    cell_parity = (torch.floor(board[:, 0] / 2) + torch.floor(board[:, 1] / 2)) % 2
    assert torch.unique(cell_parity).numel() == 1  # only one colour of the board is populated
    assert len(torch.unique(torch.floor(board / 2), dim=0)) == 8  # 8 of the 16 squares


# --- shapes --------------------------------------------------------------------------------------

def test_shapes_are_deterministic_with_lattice_factors():
    cfg = DataConfig(name="shapes", n_samples=600, image_size=32)
    a = load_data(cfg, CPU, seed=3)
    b = load_data(cfg, CPU, seed=3)
    c = load_data(cfg, CPU, seed=4)
    test = load_data(cfg, CPU, seed=3, split="test")
    assert a.x.shape == (600, 1, 32, 32) and a.x.dtype == torch.uint8
    assert set(torch.unique(a.x).tolist()) == {0, 255}
    assert torch.equal(a.x, b.x) and torch.equal(a.factors, b.factors)
    assert not torch.equal(a.x, c.x) and not torch.equal(a.x, test.x)
    assert a.factor_names == ("shape", "scale", "rotation", "pos_x", "pos_y")
    assert a.class_names == ("square", "ellipse", "heart")
    assert torch.equal(a.labels, a.factors[:, 0].long())
    f = a.factors
    assert set(f[:, 0].tolist()) == {0.0, 1.0, 2.0}
    assert torch.isin(f[:, 1], shapes.SCALES).all() and len(torch.unique(f[:, 1])) == 6
    assert f[:, 1].min() == 0.5 and f[:, 1].max() == 1.0
    assert torch.isin(f[:, 2], shapes.ROTATIONS).all() and (f[:, 2] >= 0).all() and (f[:, 2] < 2 * math.pi).all()
    assert ((f[:, 3:] >= 0) & (f[:, 3:] <= 1)).all() and len(torch.unique(f[:, 3])) == 32
    assert (a.x.flatten(1).amax(1) == 255).all()  # no empty image


@pytest.mark.parametrize("scale", [0.5, 0.8, 1.0])
def test_square_pixel_count_matches_its_scale(scale):
    side = 2 * scale * shapes.HALF_SIZE * 64  # pixels
    upright = render_one(0, scale, 0.0, 0.5, 0.5).count_nonzero().item()
    rotated = render_one(0, scale, math.pi / 5, 0.5, 0.5).count_nonzero().item()
    assert upright == pytest.approx(side**2, abs=2 * side + 1)  # at most one boundary row/column off
    assert rotated == pytest.approx(side**2, rel=0.08)  # area does not depend on rotation


def test_ellipse_and_heart_areas_match_their_formulas():
    half = 1.0 * shapes.HALF_SIZE * 64
    ellipse = render_one(1, 1.0, 0.3, 0.5, 0.5).count_nonzero().item()
    assert ellipse == pytest.approx(math.pi * half * half * shapes.ELLIPSE_MINOR, rel=0.05)
    heart = render_one(2, 1.0, 0.0, 0.5, 0.5).count_nonzero().item()
    heart_area = 3.66 / shapes.HEART_SCALE**2  # area inside (x^2+y^2-1)^3 = x^2 y^3 is about 3.66
    assert heart == pytest.approx(heart_area * half * half, rel=0.05)


def test_position_moves_the_centroid_and_rotation_turns_the_shape():
    span = (1 - 2 * shapes.MARGIN) * 64
    left, right = render_one(0, 0.7, 0.0, 0.0, 0.5), render_one(0, 0.7, 0.0, 1.0, 0.5)
    assert centroid(right)[0] - centroid(left)[0] == pytest.approx(span, abs=1.0)
    assert centroid(right)[1] == pytest.approx(centroid(left)[1], abs=0.5)
    top, bottom = render_one(0, 0.7, 0.0, 0.5, 0.0), render_one(0, 0.7, 0.0, 0.5, 1.0)
    assert centroid(bottom)[1] - centroid(top)[1] == pytest.approx(span, abs=1.0)  # pos_y grows downwards

    def extent(image):
        rows, cols = (image > 0).nonzero(as_tuple=True)
        return (cols.max() - cols.min()).item(), (rows.max() - rows.min()).item()

    wide_w, wide_h = extent(render_one(1, 1.0, 0.0, 0.5, 0.5))
    tall_w, tall_h = extent(render_one(1, 1.0, math.pi / 2, 0.5, 0.5))
    assert wide_w > 1.5 * wide_h and tall_h > 1.5 * tall_w
    # A square turned by a quarter turn is the same square.
    assert torch.equal(render_one(0, 0.9, 0.0, 0.3, 0.6), render_one(0, 0.9, math.pi / 2, 0.3, 0.6))
    # The heart is upright at rotation 0 (wide lobes on top, point at the bottom) and flips at pi.
    upright = render_one(2, 1.0, 0.0, 0.5, 0.5)
    flipped = render_one(2, 1.0, math.pi, 0.5, 0.5)
    assert upright[:32].count_nonzero() > 1.2 * upright[32:].count_nonzero()
    assert flipped[32:].count_nonzero() > 1.2 * flipped[:32].count_nonzero()


@pytest.mark.parametrize("size", [28, 32, 64])
def test_windowed_rendering_matches_a_whole_image_reference(size):
    factors = shapes.sample_factors(150, seed=size)
    factors[:20, 1] = 1.0  # largest scale, worst case for the window and the margins
    factors[:10, 3:] = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.0]] * 2)
    fast = shapes.render_shapes(factors, size)[:, 0]
    slow = reference_render(factors, size)
    # Float32 vs float64 may flip a pixel lying exactly on an edge, nothing more.
    assert (fast != slow).float().mean() < 2e-4
    # Shapes never touch the image border, so none is clipped.
    border = torch.cat([slow[:, 0], slow[:, -1], slow[:, :, 0], slow[:, :, -1]], dim=1)
    assert border.count_nonzero() == 0


def test_shapes_render_ten_thousand_images():
    images = shapes.render_shapes(shapes.sample_factors(10_000, seed=0), 32)
    assert images.shape == (10_000, 1, 32, 32)
    assert (images.flatten(1).amax(1) == 255).all()


def test_shapes_refuse_more_images_than_the_memory_cap():
    with pytest.raises(ConfigError) as info:
        load_data(DataConfig(name="shapes", n_samples=2_000_000, image_size=64), CPU)
    assert info.value.field == "data.n_samples"


# --- IDX files, MNIST-like sets, CIFAR-10 ----------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_idx_reader_round_trips(tmp_path, gz):
    rng = np.random.default_rng(0)
    arrays = {
        "u8": rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        "i32": rng.integers(-(2**31), 2**31 - 1, size=(7, 3), dtype=np.int64).astype(np.int32),
        "f32": rng.standard_normal(11).astype(np.float32),
    }
    for name, array in arrays.items():
        data = idx_bytes(array)
        path = tmp_path / f"{name}.idx"
        path.write_bytes(gzip.compress(data) if gz else data)
        read = read_idx(path)
        assert read.dtype == array.dtype and np.array_equal(read, array)
        assert read.flags.writeable


@pytest.mark.parametrize(
    "damage",
    ["truncated", "trailing", "magic", "header", "bad_gzip"],
)
def test_idx_reader_refuses_corrupt_files_naming_them(tmp_path, damage):
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))
    bad = {
        "truncated": data[:-10],
        "trailing": data + b"\x00",
        "magic": b"\x01" + data[1:],
        "header": data[:6],
        "bad_gzip": gzip.compress(data)[:40],
    }[damage]
    path = tmp_path / f"broken-{damage}-idx3-ubyte"
    path.write_bytes(bad)
    with pytest.raises(DataUnavailableError, match=str(path)):
        read_idx(path)


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_mnist_loads_offline_from_idx_files(tmp_path, monkeypatch, layout):
    monkeypatch.chdir(tmp_path)  # no ./data to find by accident
    root = tmp_path / "mnist_root"
    folder = root if layout == "flat" else root / "MNIST" / "raw"
    train_images, train_labels = write_mnist_split(folder, "train", 40, seed=0, gz=True)
    test_images, test_labels = write_mnist_split(folder, "t10k", 20, seed=1, gz=False)
    cfg = DataConfig(name="mnist", path=str(root))
    train = load_data(cfg, CPU)
    test = load_data(cfg, CPU, split="test")
    assert train.kind == "images" and train.x.shape == (40, 1, 28, 28) and train.x.dtype == torch.uint8
    assert np.array_equal(train.x[:, 0].numpy(), train_images)
    assert np.array_equal(train.labels.numpy(), train_labels) and train.labels.dtype == torch.int64
    assert np.array_equal(test.x[:, 0].numpy(), test_images) and np.array_equal(test.labels.numpy(), test_labels)
    assert train.class_names == tuple("0123456789")
    assert str(folder) in train.origin


def test_mnist_with_mismatched_files_is_refused(tmp_path):
    write_mnist_split(tmp_path, "train", 10, seed=0, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(9, dtype=np.uint8)))
    with pytest.raises(DataUnavailableError, match="matching"):
        load_data(DataConfig(name="mnist", path=str(tmp_path)), CPU)


def test_fashion_mnist_from_debian_package():
    folder = Path(images_module.SYSTEM_FASHION_MNIST_DIR)
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({folder} missing)")
    train = load_data(DataConfig(name="fashion_mnist"), CPU)
    test = load_data(DataConfig(name="fashion_mnist"), CPU, split="test")
    assert train.x.shape == (60_000, 1, 28, 28) and test.x.shape == (10_000, 1, 28, 28)
    assert train.labels[:3].tolist() == [9, 0, 0]  # the first three training items of Fashion-MNIST
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert train.class_names[9] == "Ankle boot"
    batch = train.sample(64, torch.Generator().manual_seed(0))
    assert batch.shape == (64, 1, 28, 28) and 0.0 <= batch.min() and batch.max() <= 1.0


def test_missing_mnist_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataUnavailableError) as info:
        load_data(DataConfig(name="mnist", path=str(empty), download=False), CPU)
    message = str(info.value)
    assert str(empty) in message and "train-images-idx3-ubyte.gz" in message
    assert "download" in message and "internet" in message


def test_missing_fashion_mnist_mentions_debian_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(images_module, "SYSTEM_FASHION_MNIST_DIR", str(tmp_path / "not-installed"))
    with pytest.raises(DataUnavailableError, match="dataset-fashion-mnist"):
        load_data(DataConfig(name="fashion_mnist", path=str(tmp_path)), CPU, split="test")


def test_failed_download_is_reported_as_unavailable(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataUnavailableError) as info:
        load_data(DataConfig(name="mnist", path=str(tmp_path), download=True), CPU)
    assert "Name or service not known" in str(info.value) and "internet" in str(info.value)


def test_download_path_uses_torchvision(tmp_path, monkeypatch):
    import torchvision.datasets

    calls = []

    class FakeFashionMNIST:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            self.data = torch.full((12, 28, 28), 7, dtype=torch.uint8)
            self.targets = torch.arange(12) % 10

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(images_module, "SYSTEM_FASHION_MNIST_DIR", str(tmp_path / "not-installed"))
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashionMNIST)
    data = load_data(DataConfig(name="fashion_mnist", path=str(tmp_path / "dl"), download=True), CPU, split="test")
    assert calls == [(str(tmp_path / "dl"), False, True)]
    assert data.x.shape == (12, 1, 28, 28) and data.labels.tolist() == (torch.arange(12) % 10).tolist()


def test_cifar10_missing_or_unofficial_files_are_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    marker = tmp_path / "pwned"

    class Exploit:  # unpickling this would create the marker file
        def __reduce__(self):
            return (Path.touch, (marker,))

    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
                 "batches.meta"]:
        (batches / name).write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(DataUnavailableError) as info:
        load_data(DataConfig(name="cifar10", path=str(tmp_path)), CPU)
    assert not marker.exists()
    assert str(batches) in str(info.value) and "download" in str(info.value)


def test_cifar10_download_path_uses_torchvision(tmp_path, monkeypatch):
    import torchvision.datasets

    class FakeCIFAR10:
        base_folder = "cifar-10-batches-py"

        def __init__(self, root, train, download):
            if not download:
                raise RuntimeError("Dataset not found or corrupted.")
            self.data = np.arange(5 * 32 * 32 * 3, dtype=np.uint8).reshape(5, 32, 32, 3)
            self.targets = [0, 1, 2, 3, 4]
            self.classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    data = load_data(DataConfig(name="cifar10", download=True), CPU)
    assert data.x.shape == (5, 3, 32, 32)
    assert torch.equal(data.x.permute(0, 2, 3, 1), torch.from_numpy(FakeCIFAR10(None, True, True).data))
    assert data.class_names[3] == "cat" and data.labels.tolist() == [0, 1, 2, 3, 4]


# --- folder of images and uploaded zips --------------------------------------------------------------

def test_folder_of_images_is_cropped_resized_and_skips_bad_files(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    wide = np.zeros((30, 90, 3), dtype=np.uint8)
    wide[:, :30] = (255, 0, 0)
    wide[:, 30:60] = (0, 0, 255)  # the centre third, all that survives the square crop
    wide[:, 60:] = (255, 0, 0)
    Image.fromarray(wide).save(tmp_path / "a_wide.png")
    Image.fromarray(rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)).save(tmp_path / "sub" / "b.jpg", quality=95)
    Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(tmp_path / "sub" / "deeper" / "c.bmp")
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[..., 1] = 255  # green, but fully transparent: composited onto black
    Image.fromarray(rgba).save(tmp_path / "sub" / "d.png")
    (tmp_path / "sub" / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "notes.txt").write_text("not an image")

    data = images_from_folder(tmp_path, 32)
    assert data.kind == "images" and data.x.shape == (4, 3, 32, 32) and data.x.dtype == torch.uint8
    assert data.skipped == 1 and "1 unreadable" in data.origin
    first = data.x[0].float()  # files are sorted: a_wide.png first
    assert first[2].mean() > 240 and first[0].mean() < 15  # blue centre kept, red sides cropped away
    # Walk order: a_wide.png, sub/b.jpg, sub/d.png, sub/deeper/c.bmp.
    assert data.x[2].max() == 0  # transparent green -> black
    via_config = load_data(DataConfig(name="folder", path=str(tmp_path), image_size=28), CPU)
    assert via_config.x.shape == (4, 3, 28, 28)


def test_folder_of_grey_images_keeps_one_channel(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((10, 12), 40 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    Image.fromarray(np.full((10, 12, 3), 99, dtype=np.uint8)).save(tmp_path / "rgb_but_grey.png")
    data = images_from_folder(tmp_path, 64)
    assert data.x.shape == (4, 1, 64, 64)
    assert data.x[2].float().mean() == pytest.approx(80, abs=1)


@pytest.mark.parametrize("kind", ["empty", "missing", "only_broken"])
def test_folder_without_readable_images_is_a_config_error(tmp_path, kind):
    folder = tmp_path / "images"
    if kind != "missing":
        folder.mkdir()
    if kind == "only_broken":
        (folder / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(ConfigError) as info:
        images_from_folder(folder, 32)
    assert info.value.field == "data.path"
    if kind == "only_broken":
        assert "1 files could not be read" in str(info.value)


def test_zip_upload_loads_images_in_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    entries = {f"set/img{i}.png": png_bytes(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)) for i in range(5)}
    entries["set/photo.jpg"] = png_bytes(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8), "JPEG")
    entries["__MACOSX/set/._img0.png"] = b"resource fork"
    entries["set/readme.txt"] = b"hello"
    entries["set/bad.png"] = b"not a png"
    data = images_from_zip_bytes(zip_bytes(entries), 32)
    assert data.x.shape == (6, 3, 32, 32) and data.skipped == 1
    assert os.listdir(tmp_path) == []  # nothing was written to disk


@pytest.mark.parametrize("name", ["../evil.png", "set/../../evil.png", "/etc/evil.png", "C:/evil.png", "..\\evil.png"])
def test_zip_upload_refuses_escaping_paths(name):
    archive = zip_bytes({"ok.png": png_bytes(np.zeros((8, 8), dtype=np.uint8)), name: b"x"})
    with pytest.raises(ConfigError) as info:
        images_from_zip_bytes(archive, 32)
    assert info.value.field == "data.path" and "refused" in str(info.value)


def test_zip_upload_refuses_a_bomb_like_entry():
    bomb = b"\x00" * (4 * 1024 * 1024)  # compresses to a few KB
    archive = zip_bytes({"ok.png": png_bytes(np.zeros((8, 8), dtype=np.uint8)), "bomb.png": bomb})
    assert len(archive) < 50_000
    with pytest.raises(ConfigError) as info:
        images_from_zip_bytes(archive, 32, max_bytes=1024 * 1024)
    assert info.value.field == "data.path" and "unpacks to" in str(info.value)


@pytest.mark.parametrize("payload", [b"definitely not a zip", zip_bytes({"a.txt": b"no images"})], ids=["not_zip", "no_images"])
def test_zip_upload_without_images_is_a_config_error(payload):
    with pytest.raises(ConfigError) as info:
        images_from_zip_bytes(payload, 32)
    assert info.value.field == "data.path"


# --- user points ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "payload",
    [
        good_csv(header=True),
        good_csv(header=False),
        good_csv(sep=";"),
        good_csv(sep="\t"),
        good_csv(header=False, sep="  "),
        b"\xef\xbb\xbf# exported points\n" + good_csv() + b"\n\n",  # BOM, comment, blank lines
    ],
    ids=["header", "no_header", "semicolon", "tab", "spaces", "bom_comment_blank"],
)
def test_points_from_csv_bytes(payload):
    data = points_from_csv_bytes(payload)
    assert data.kind == "points" and data.x.shape == (32, 2) and data.x.dtype == torch.float32
    assert data.x[3].tolist() == [1.5, -0.75]


@pytest.mark.parametrize(
    "payload, words",
    [
        (good_csv() + b"1.0,abc\n", "not two numbers"),
        (good_csv() + b"1,2,3\n", "3 columns"),
        (good_csv() + b"nan,1\n", "not finite"),
        (good_csv() + b"1,inf\n", "not finite"),
        (good_csv(n=15), "at least 16"),
        (b"0,0\n" * 1_000_001, "at most 1,000,000"),
        (b"\xff\xfe\x00bad", "UTF-8"),
        (b"", "at least 16"),
    ],
    ids=["text", "three_columns", "nan", "inf", "too_few", "too_many", "not_utf8", "empty"],
)
def test_bad_points_csv_is_a_config_error(payload, words):
    with pytest.raises(ConfigError) as info:
        points_from_csv_bytes(payload)
    assert info.value.field == "data.path" and words in str(info.value)


def test_points_from_files_and_arrays(tmp_path):
    csv_path = tmp_path / "pts.csv"
    csv_path.write_bytes(good_csv(n=20))
    from_config = load_data(DataConfig(name="points", path=str(csv_path)), CPU)
    assert from_config.x.shape == (20, 2) and from_config.modes is None
    npy_path = tmp_path / "pts.npy"
    np.save(npy_path, np.arange(40.0).reshape(20, 2))
    assert points_from_file(npy_path).x[1].tolist() == [2.0, 3.0]
    assert torch.equal(points_from_array(torch.arange(40.0).reshape(20, 2)).x, points_from_file(npy_path).x)
    assert points_from_array([[i, -i] for i in range(16)]).x.shape == (16, 2)
    for bad in ([[1, 2, 3]] * 20, np.zeros((20, 2, 1)), [["a", "b"]] * 20):
        with pytest.raises(ConfigError) as info:
            points_from_array(bad)
        assert info.value.field == "data.path"
    with pytest.raises(ConfigError) as info:
        load_data(DataConfig(name="points", path=str(tmp_path / "absent.csv")), CPU)
    assert info.value.field == "data.path"


# --- sampling ------------------------------------------------------------------------------------

def test_sample_points_uses_random_rows_on_the_device():
    data = points_from_array(np.stack([np.arange(20.0), np.arange(20.0) * 10], axis=1))
    batch, idx = data.sample_with_index(500, torch.Generator().manual_seed(0))
    assert batch.dtype == torch.float32 and batch.device == data.x.device and batch.shape == (500, 2)
    assert torch.equal(batch, data.x[idx])
    assert len(torch.unique(idx)) == 20  # random indices with replacement cover the set
    again = data.sample(500, torch.Generator().manual_seed(0))
    other = data.sample(500, torch.Generator().manual_seed(1))
    assert torch.equal(batch, again) and not torch.equal(batch, other)
    counts = torch.bincount(data.random_index(20_000, torch.Generator().manual_seed(2)), minlength=20)
    assert counts.min() > 850 and counts.max() < 1150  # uniform: 1000 each


def test_sample_images_are_float_in_unit_range():
    data = load_data(DataConfig(name="shapes", n_samples=64, image_size=28), CPU)
    batch, idx = data.sample_with_index(32, torch.Generator().manual_seed(0))
    assert batch.dtype == torch.float32 and batch.shape == (32, 1, 28, 28) and data.shape == (1, 28, 28)
    assert batch.min() == 0.0 and batch.max() == 1.0
    assert torch.equal(batch, data.x[idx].float() / 255)
    assert data.x.dtype == torch.uint8  # storage stays uint8
    assert torch.equal(data.batch(idx), batch)
    assert len(data) == 64


def test_data_source_rejects_malformed_tensors_and_bad_splits():
    with pytest.raises(ValueError):
        DataSource(name="p", kind="points", x=torch.zeros(4, 3))
    with pytest.raises(ValueError):
        DataSource(name="i", kind="images", x=torch.zeros(4, 1, 8, 8))  # float storage
    with pytest.raises(ValueError):
        DataSource(name="i", kind="images", x=torch.zeros(4, 1, 8, 8, dtype=torch.uint8), labels=torch.zeros(3))
    with pytest.raises(ConfigError):
        load_data(DataConfig(name="ring"), CPU, split="validation")
    with pytest.raises(ConfigError):
        load_data(DataConfig(name="nope"), CPU)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_sources_live_on_the_requested_device(device):
    device = torch.device(device)
    points = load_data(DataConfig(name="ring", n_samples=256), device)
    images = load_data(DataConfig(name="shapes", n_samples=256, image_size=32), device)
    assert points.x.device.type == device.type and points.modes.device.type == device.type
    assert images.x.device.type == device.type and images.factors.device.type == device.type
    for data in (points, images):
        # A CPU generator works whatever the data's device: indices are drawn on the CPU, then moved.
        batch = data.sample(16, torch.Generator().manual_seed(0))
        assert batch.device.type == device.type and batch.dtype == torch.float32
    if device.type == "cuda":
        cpu_images = load_data(DataConfig(name="shapes", n_samples=256, image_size=32), CPU)
        assert (cpu_images.x != images.x.cpu()).float().mean() < 1e-3  # same factors, same pictures
