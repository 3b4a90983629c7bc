"""MNIST, Fashion-MNIST and CIFAR-10: found offline first, downloaded through torchvision on request.

MNIST-like sets are read with genlab's own IDX reader from, in order: `cfg.path`, torchvision's layout
under it (`<path>/MNIST/raw`, `<path>/FashionMNIST/raw`), `./data/<name>`, torchvision's layout under
`./data`, and for Fashion-MNIST Debian's `/usr/share/datasets/fashion-mnist` (package
dataset-fashion-mnist). Only when nothing is found and `cfg.download` is set does torchvision download.
Both splits come from the first folder with the training files; a copy there without the t10k test
files gets a seeded held-out split of its training files (genlab.data.split), labelled as such.
`cfg.path` must lie inside the allowed data roots, and downloads go only into the writable ones
(genlab.data.roots): a config cannot make genlab read or create folders elsewhere.

CIFAR-10 is only ever opened through torchvision (`<root>/cifar-10-batches-py`, root = `cfg.path` or
`./data`). Its batches are Python pickles, and unpickling can run code; torchvision checks each file's
MD5 against the official release before unpickling it, so only the genuine files are ever loaded.
genlab never unpickles a file itself.

Images keep their native size (28 px for the MNIST-like sets, 32 px for CIFAR-10), stored as uint8.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genlab.config import ConfigError
from genlab.data.idx import read_idx
from genlab.data.roots import check_in_roots, data_area
from genlab.data.source import DataSource, DataUnavailableError
from genlab.data.split import carve_heldout, heldout_part

SYSTEM_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
# name -> (title for messages, torchvision class name, class names)
MNIST_LIKE = {
    "mnist": ("MNIST", "MNIST", MNIST_CLASSES),
    "fashion_mnist": ("Fashion-MNIST", "FashionMNIST", FASHION_MNIST_CLASSES),
}
IDX_PREFIX = {"train": "train", "test": "t10k"}


def _user_root(path: str, title: str, split: str) -> Path | None:
    """`data.path` as an absolute folder once it is known to lie inside the allowed roots."""
    if not path:
        return None
    try:
        return check_in_roots(path)
    except ConfigError as exc:
        raise DataUnavailableError(f"{title} ({split} split) was not found: {exc}") from None


def _download_root(path: str) -> Path:
    return check_in_roots(path, for_download=True) if path else data_area()


def candidate_dirs(name: str, path: str = "") -> list[Path]:
    """Folders searched, in order, for the IDX files of an MNIST-like set (`path` already checked)."""
    tv_class = MNIST_LIKE[name][1]
    dirs = []
    if path:
        dirs += [Path(path).absolute(), Path(path).absolute() / tv_class / "raw"]
    data = data_area()
    dirs += [data / name, data / tv_class / "raw"]
    if name == "fashion_mnist":
        dirs.append(Path(SYSTEM_FASHION_MNIST_DIR))
    unique = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _find_file(folder: Path, stem: str) -> Path | None:
    # Original names are "train-images-idx3-ubyte"; some copies use "train-images.idx3-ubyte".
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            candidate = folder / (name + suffix)
            if candidate.is_file():
                return candidate
    return None


def find_idx_files(folder: Path, split: str) -> tuple[Path, Path] | None:
    """(images file, labels file) of `split` in `folder`, or None unless both are there."""
    prefix = IDX_PREFIX[split]
    images = _find_file(folder, f"{prefix}-images-idx3-ubyte")
    labels = _find_file(folder, f"{prefix}-labels-idx1-ubyte")
    return (images, labels) if images and labels else None


def _images_source(name: str, images: np.ndarray | torch.Tensor, labels, class_names, origin: str,
                   device: torch.device) -> DataSource:
    x = torch.as_tensor(images)
    if x.dim() == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    return DataSource(
        name=name,
        kind="images",
        x=x.to(device=device, dtype=torch.uint8).contiguous(),
        labels=torch.as_tensor(np.asarray(labels)).long().to(device),
        class_names=tuple(class_names),
        origin=origin,
    )


def _read_mnist_like(name: str, folder: Path, split: str, device: torch.device) -> DataSource:
    title, _, classes = MNIST_LIKE[name]
    images_file, labels_file = find_idx_files(folder, split)
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(images) != len(labels):
        raise DataUnavailableError(
            f"{images_file} and {labels_file} do not hold matching {title} images (N, 28, 28) uint8 and labels (N,):"
            f" got {images.dtype} {images.shape} and {labels.dtype} {labels.shape}. Replace them with good copies."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DataUnavailableError(f"{labels_file} holds labels outside 0..{len(classes) - 1}.")
    origin = f"{title} {split} ({len(images)} images) from {folder}"
    return _images_source(name, images, labels, classes, origin, device)


def load_mnist_like(name: str, path: str, download: bool, split: str, device: torch.device,
                    subset_seed: int = 0) -> DataSource:
    """The split of the first folder holding the set's training files. A copy without the t10k test
    files gets a seeded held-out split of its training files instead (genlab.data.split): the
    training split is the rest, with the held-out part attached."""
    title, tv_class, classes = MNIST_LIKE[name]
    _user_root(path, title, split)
    dirs = candidate_dirs(name, path)
    train_dir = next((folder for folder in dirs if find_idx_files(folder, "train")), None)
    if train_dir is not None and find_idx_files(train_dir, "test") is None:
        whole = _read_mnist_like(name, train_dir, "train", device)
        train = carve_heldout(whole, subset_seed, f"no t10k test files in {train_dir}")
        return train if split == "train" else heldout_part(train)
    found = train_dir if train_dir is not None else next(
        (folder for folder in dirs if find_idx_files(folder, split)), None)
    if found is not None:
        return _read_mnist_like(name, found, split, device)

    prefix = IDX_PREFIX[split]
    where = ", ".join(str(d) for d in dirs)
    files = f"{prefix}-images-idx3-ubyte.gz and {prefix}-labels-idx1-ubyte.gz"
    debian = ", install Debian's dataset-fashion-mnist package" if name == "fashion_mnist" else ""
    missing = f"{title} ({split} split) was not found in: {where}."
    put_files = f"put the IDX files ({files}) in one of these folders (or point data.path at them){debian}"
    if not download:
        raise DataUnavailableError(f"{missing} To fix: {put_files}, or enable download (data.download; needs internet).")
    root = _download_root(path)
    try:
        import torchvision.datasets as tv_datasets

        dataset = getattr(tv_datasets, tv_class)(str(root), train=split == "train", download=True)
    except Exception as exc:  # network errors come in many types; all mean "not available"
        raise DataUnavailableError(
            f"{missing} Downloading it into {root} failed ({exc}). To fix: check the internet connection, or {put_files}."
        ) from exc
    origin = f"{title} {split} ({len(dataset.data)} images) downloaded into {root}"
    return _images_source(name, dataset.data, dataset.targets, classes, origin, device)


def load_cifar10(path: str, download: bool, split: str, device: torch.device) -> DataSource:
    """CIFAR-10 through torchvision only (it verifies the files' MD5 before unpickling them)."""
    import torchvision.datasets as tv_datasets

    user_root = _user_root(path, "CIFAR-10", split)
    roots = [user_root] if user_root else []
    if data_area() not in roots:
        roots.append(data_area())
    train = split == "train"
    for root in roots:
        if not (root / tv_datasets.CIFAR10.base_folder).is_dir():
            continue
        try:
            dataset = tv_datasets.CIFAR10(str(root), train=train, download=False)
        except RuntimeError:  # "Dataset not found or corrupted": a file is missing or fails its MD5 check
            continue
        return _cifar_source(dataset, f"from {root}", split, device)

    where = ", ".join(str(r / tv_datasets.CIFAR10.base_folder) for r in roots)
    missing = f"No complete, official CIFAR-10 ({split} split) was found in: {where}."
    copy = "copy the official cifar-10-batches-py folder to one of those places (files must pass torchvision's MD5 check)"
    if not download:
        raise DataUnavailableError(
            f"{missing} To fix: enable download (data.download; needs internet) to fetch it into {roots[0]}, or {copy}."
        )
    root = _download_root(path)
    try:
        dataset = tv_datasets.CIFAR10(str(root), train=train, download=True)
    except Exception as exc:
        raise DataUnavailableError(
            f"{missing} Downloading it into {root} failed ({exc}). To fix: check the internet connection, or {copy}."
        ) from exc
    return _cifar_source(dataset, f"downloaded into {root}", split, device)


def _cifar_source(dataset, where: str, split: str, device: torch.device) -> DataSource:
    images = np.ascontiguousarray(np.asarray(dataset.data).transpose(0, 3, 1, 2))  # NHWC -> NCHW
    origin = f"CIFAR-10 {split} ({len(images)} images) {where}"
    return _images_source("cifar10", images, dataset.targets, dataset.classes, origin, device)

