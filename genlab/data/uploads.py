"""Data sets a user uploads in the app (bytes in memory, never a server path) and which standard sets
are on this machine already."""
from __future__ import annotations

from typing import NamedTuple

import torch

from genlab.config import ConfigError, DataConfig
from genlab.data.image_zip import images_from_zip_bytes
from genlab.data.images import MNIST_LIKE, candidate_dirs, find_idx_files
from genlab.data.points import points_from_csv_bytes
from genlab.data.roots import UPLOAD_PREFIX, data_area
from genlab.data.source import DataSource



class Upload(NamedTuple):
    what: str  # for messages: "upload <what> first"
    label: str  # for the upload widget
    extensions: tuple[str, ...]


UPLOADS = {"points": Upload("a CSV file", "CSV of 2D points (two numeric columns)", ("csv", "txt")),
           "folder": Upload("a zip of images", "Zip of images", ("zip",))}
CIFAR_FOLDER = "cifar-10-batches-py"  # torchvision's folder of the CIFAR-10 batches


def upload_path(filename: str) -> str:
    """data.path of an uploaded file: it names the upload, it is not a path anything can read."""
    return f"{UPLOAD_PREFIX}{filename}"


def missing_upload(dataset: str) -> ConfigError:
    """The error of a run on an uploaded data set whose file is not uploaded yet."""
    return ConfigError("data.path", "", f"upload {UPLOADS[dataset].what} first")


def source_from_upload(data: DataConfig, filename: str, payload: bytes,
                       device: torch.device | str = "cpu") -> DataSource:
    """The DataSource of an uploaded file for `data` (points: a CSV; folder: a zip of images, whose
    training part it is, the seeded held-out part attached, cut to `data.train_size`)."""
    if data.name == "points":
        return points_from_csv_bytes(payload, device=device, origin=filename)
    if data.name == "folder":
        from genlab.data import folder_split, training_subset

        train = folder_split(images_from_zip_bytes(payload, data.image_size, device=device), data, "train")
        return training_subset(train, data.train_size, data.subset_seed)
    raise ConfigError("data.name", data.name, f"takes no upload; uploads are for {', '.join(UPLOADS)}")


def offline_sets() -> dict[str, bool]:
    """Whether each standard image set is on this machine (else it needs data.download and the internet)."""
    found = {name: any(find_idx_files(d, "train") for d in candidate_dirs(name)) for name in MNIST_LIKE}
    found["cifar10"] = (data_area() / CIFAR_FOLDER).is_dir()
    return found
