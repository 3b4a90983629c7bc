"""`data.path` is only honoured inside the allowed data roots: a config (typed, or inside an imported
run) cannot make the loaders read server files or torchvision create folders elsewhere."""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.config import ConfigError, DataConfig
from genlab.data import DataUnavailableError, load_data
from genlab.data import images as images_module
from genlab.data.roots import allowed_roots, check_in_roots, writable_roots

CPU = torch.device("cpu")


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """work/ (the working directory, its data/ the data area), extra/ (in $GENLAB_DATA_ROOTS) and
    outside/ (allowed nowhere), each holding a points CSV, a folder of images and MNIST IDX files."""
    work, extra, outside = tmp_path / "work", tmp_path / "extra", tmp_path / "outside"
    for root in (work / "data", extra, outside):
        (root / "images").mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8, 3), 40 * i, dtype=np.uint8)).save(root / "images" / f"{i}.png")
        (root / "points.csv").write_text("".join(f"{i},{-i}\n" for i in range(20)))
        write_idx(root / "idx" / "train-images-idx3-ubyte.gz", np.zeros((4, 28, 28), dtype=np.uint8))
        write_idx(root / "idx" / "train-labels-idx1-ubyte.gz", np.arange(4, dtype=np.uint8))
    (work / "data" / "link_out").symlink_to(outside)
    (work / "data" / "link_in").symlink_to(work / "data" / "images")
    (tmp_path / "extra-evil").mkdir()  # shares a prefix with extra/, is not inside it
    monkeypatch.chdir(work)
    monkeypatch.setenv("GENLAB_DATA_ROOTS", os.pathsep.join([str(extra), str(tmp_path / "also-allowed")]))
    monkeypatch.setattr(images_module, "SYSTEM_FASHION_MNIST_DIR", str(tmp_path / "not-installed"))
    return tmp_path


def write_idx(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


PATHS = {
    # data.path: allowed to read from?
    "data/images": True,
    "data": True,
    "../work/data/images": True,  # '..' that stays inside
    "data/link_in": True,  # a symlink whose target is inside
    "{tmp}/extra/images": True,
    "{tmp}/also-allowed/not-made-yet": True,
    "/usr/share/datasets/fashion-mnist": True,
    "/": False,
    "/etc": False,
    "/proc/1": False,
    "data/../../outside/images": False,
    "data/link_out/images": False,  # a symlink whose target is outside
    "{tmp}/outside": False,
    "{tmp}/extra-evil": False,
    ".": False,
    "a\x00b": False,
}


@pytest.mark.parametrize("path", PATHS, ids=[p.replace("\x00", "NUL") for p in PATHS])
def test_paths_are_allowed_only_inside_the_data_roots(layout, path):
    text = path.format(tmp=layout)
    if PATHS[path]:
        assert check_in_roots(text) == Path(text).absolute()
        return
    with pytest.raises(ConfigError) as info:
        check_in_roots(text)
    message = str(info.value)
    assert info.value.field == "data.path" and repr(text) in message and "\n" not in message
    assert str(layout / "work" / "data") in message and "GENLAB_DATA_ROOTS" in message


def test_roots_are_the_data_area_the_listed_folders_and_the_system_datasets(layout):
    assert writable_roots() == [layout / "work" / "data", layout / "extra", layout / "also-allowed"]
    assert allowed_roots() == writable_roots() + [Path("/usr/share/datasets").resolve()]
    with pytest.raises(ConfigError, match="downloads may go to"):
        check_in_roots("/usr/share/datasets/mnist", for_download=True)
    assert check_in_roots("data/mnist", for_download=True) == layout / "work" / "data" / "mnist"


def test_an_upload_name_is_never_taken_for_a_server_path(layout):
    with pytest.raises(ConfigError, match="upload it again"):
        load_data(DataConfig(name="points", path="upload:points.csv"), CPU)


CONFIGS = {
    # name: (config fields, error type); each reads the same kind of data from outside/
    "folder": (dict(name="folder", path="{tmp}/outside/images"), ConfigError),
    "points": (dict(name="points", path="{tmp}/outside/points.csv"), ConfigError),
    "points_via_dotdot": (dict(name="points", path="data/../../outside/points.csv"), ConfigError),
    "folder_via_symlink": (dict(name="folder", path="data/link_out/images"), ConfigError),
    "mnist": (dict(name="mnist", path="{tmp}/outside/idx"), DataUnavailableError),
    "fashion_mnist": (dict(name="fashion_mnist", path="{tmp}/outside/idx"), DataUnavailableError),
    "cifar10": (dict(name="cifar10", path="{tmp}/outside"), DataUnavailableError),
}


@pytest.mark.parametrize("kind", CONFIGS)
def test_configs_cannot_read_data_outside_the_roots(layout, kind):
    fields, error = CONFIGS[kind]
    path = fields["path"].format(tmp=layout)
    with pytest.raises(error) as info:
        load_data(DataConfig(**{**fields, "path": path}), CPU)
    assert path in str(info.value) and "outside the folders data may be read from" in str(info.value)


@pytest.mark.parametrize("kind", ["folder", "points", "mnist"])
def test_the_same_data_inside_the_roots_loads(layout, kind):
    fields = {"folder": dict(name="folder", path="data/link_in"), "mnist": dict(name="mnist", path="data/idx"),
              "points": dict(name="points", path="{tmp}/extra/points.csv")}[kind]
    data = load_data(DataConfig(**{**fields, "path": fields["path"].format(tmp=layout)}), CPU)
    assert len(data) == {"folder": 3, "points": 20, "mnist": 4}[kind]


@pytest.fixture
def fake_torchvision(monkeypatch):
    """torchvision's dataset classes replaced by fakes that record where they would download."""
    import torchvision.datasets

    downloads = []

    class Fake:
        base_folder = "cifar-10-batches-py"

        def __init__(self, root, train, download):
            if not download:
                raise RuntimeError("Dataset not found or corrupted.")
            downloads.append(Path(root))
            self.data = np.zeros((2, 28, 28), dtype=np.uint8)
            self.targets = [0, 1]
            self.classes = [str(i) for i in range(10)]

    class FakeCIFAR10(Fake):
        def __init__(self, root, train, download):
            super().__init__(root, train, download)
            self.data = np.zeros((2, 32, 32, 3), dtype=np.uint8)

    monkeypatch.setattr(torchvision.datasets, "MNIST", Fake)
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Fake)
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    return downloads


DOWNLOADS = {
    # data.path: where the download may go (None: refused)
    "": "{tmp}/work/data",
    "data/sets": "{tmp}/work/data/sets",
    "{tmp}/extra/sets": "{tmp}/extra/sets",
    "{tmp}/outside/sets": None,
    "data/../../outside/sets": None,
    "/usr/share/datasets/sets": None,  # readable, but a system folder: never written
}


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
@pytest.mark.parametrize("path", DOWNLOADS)
def test_torchvision_downloads_only_into_the_data_area(layout, fake_torchvision, name, path):
    text = path.format(tmp=layout)
    expected = DOWNLOADS[path]
    cfg = DataConfig(name=name, path=text, download=True)
    if expected is None:
        with pytest.raises((ConfigError, DataUnavailableError), match="outside the folders"):
            load_data(cfg, CPU)
        assert fake_torchvision == []
        assert not (layout / "outside" / "sets").exists()
        return
    load_data(cfg, CPU)
    assert fake_torchvision == [Path(expected.format(tmp=layout))]
