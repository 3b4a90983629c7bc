"""Data sets for genlab, each returned as a DataSource held on the training device.

    from genlab.data import load_data, DataSource, DataUnavailableError
    data = load_data(cfg.data, device, seed=cfg.seed)
    batch = data.sample(256)          # float32 on device; images in [0, 1]

Synthetic sets (2D, shapes) are drawn from the seed; the "test" split is an independent draw of the
same distribution (another seed stream). MNIST, Fashion-MNIST and CIFAR-10 use their official test
sets; a copy without test files, and a user's images (folder or zip), get a seeded held-out split of
their training files instead (genlab.data.split). User points have no held-out part: "test" returns
the same data. `data.train_size` keeps a fixed seeded subset of the training split. A drawing
(genlab.data.drawn) lives in data.path itself: "drawn:<σ>:<points>", for dataset points.

User data is never trusted: `data.path` must lie inside the allowed data roots (genlab.data.roots),
uploads arrive as bytes, and every limit is in genlab.data.limits. Pictures from users are decoded only
through `open_untrusted_image`.
"""
from __future__ import annotations

import numpy as np
import torch

from genlab.config import TOY2D_DATASETS, ConfigError, DataConfig
from genlab.data import toy2d
from genlab.data.drawn import drawn_source
from genlab.drawing_codec import is_drawing, parse_drawing_path
from genlab.data.folder import images_from_folder
from genlab.data.image_zip import images_from_zip_bytes
from genlab.data.images import MNIST_LIKE, load_cifar10, load_mnist_like
from genlab.data.limits import MAX_IMAGE_DATA_BYTES
from genlab.data.points import points_from_array, points_from_csv_bytes, points_from_file
from genlab.data.shapes import FACTOR_NAMES, SHAPE_NAMES, make_shapes
from genlab.data.source import DataSource, DataUnavailableError
from genlab.data.split import carve_heldout, heldout_part, training_subset
from genlab.data.untrusted_image import ImageRefused, open_untrusted_image
from genlab.data.uploads import UPLOADS, missing_upload, offline_sets, source_from_upload, upload_path

__all__ = [
    "DataSource",
    "DataUnavailableError",
    "load_data",
    "split_seed",
    "carve_heldout",
    "heldout_part",
    "training_subset",
    "points_from_array",
    "points_from_csv_bytes",
    "points_from_file",
    "images_from_folder",
    "images_from_zip_bytes",
    "open_untrusted_image",
    "ImageRefused",
    "UPLOADS",
    "missing_upload",
    "offline_sets",
    "source_from_upload",
    "upload_path",
]

SPLITS = ("train", "test")


def split_seed(seed: int, split: str) -> int:
    """Seed of a split's draw: train and test get independent, well-mixed streams of the same seed."""
    state = np.random.SeedSequence([seed, SPLITS.index(split)]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))  # torch seeds must fit in a signed 64-bit integer


def load_data(cfg: DataConfig, device: torch.device | str = "cpu", seed: int = 0, split: str = "train") -> DataSource:
    """The data set `cfg` describes, on `device`.

    Raises ConfigError for bad settings or unusable user files (field "data.path" for files) and
    DataUnavailableError when a standard set is neither found offline nor downloadable.
    """
    cfg.validate()
    if split not in SPLITS:
        raise ConfigError("split", split, f"must be one of {', '.join(SPLITS)}")
    source = _load(cfg, torch.device(device), seed, split)
    return training_subset(source, cfg.train_size, cfg.subset_seed) if split == "train" else source


def folder_split(source: DataSource, cfg: DataConfig, split: str) -> DataSource:
    """A user's images, which have no test split: the training part, or the seeded held-out part."""
    train = carve_heldout(source, cfg.subset_seed, "a user's images have no test split")
    return train if split == "train" else heldout_part(train)


def _load(cfg: DataConfig, device: torch.device, seed: int, split: str) -> DataSource:
    name = cfg.name

    if name == "points":
        if is_drawing(cfg.path):
            return drawn_source(*parse_drawing_path(cfg.path), device=device)
        return points_from_file(cfg.path, device=device)
    if name in TOY2D_DATASETS:
        x = toy2d.make_points(name, cfg.n_samples, split_seed(seed, split)).to(device)
        modes, mode_std = None, None
        if name in toy2d.MODES:
            make_modes, mode_std = toy2d.MODES[name]
            modes = make_modes().to(device)
        return DataSource(name=name, kind="points", x=x, modes=modes, mode_std=mode_std,
                          origin=f"{cfg.n_samples} points of {name} ({split}, seed {seed})")
    if name == "shapes":
        size = cfg.image_size
        limit = MAX_IMAGE_DATA_BYTES // (size * size)  # one channel, uint8: 262k images at 64 px
        if cfg.n_samples > limit:
            raise ConfigError("data.n_samples", cfg.n_samples, f"shapes at {size} px allow at most {limit:,} images (memory)")
        images, factors, labels = make_shapes(cfg.n_samples, size, split_seed(seed, split), device)
        return DataSource(name=name, kind="images", x=images, labels=labels, factors=factors,
                          factor_names=FACTOR_NAMES, class_names=SHAPE_NAMES,
                          origin=f"{cfg.n_samples} shapes of {size}x{size} px ({split}, seed {seed})")
    if name in MNIST_LIKE:
        return load_mnist_like(name, cfg.path, cfg.download, split, device, cfg.subset_seed)
    if name == "cifar10":
        return load_cifar10(cfg.path, cfg.download, split, device)
    if name == "folder":
        return folder_split(images_from_folder(cfg.path, cfg.image_size, device=device), cfg, split)
    raise ConfigError("data.name", name, "has no loader")  # unreachable while config and data agree
