"""Where the standard image sets' files go, and whether they are there: what the Train page's data-folder
field says and checks (the loaders in genlab.data.images search the same folders)."""
from __future__ import annotations

from typing import NamedTuple

from genlab.config import ConfigError
from genlab.data.images import MNIST_LIKE, candidate_dirs, find_idx_files
from genlab.data.roots import check_in_roots, data_area
from genlab.data.uploads import CIFAR_FOLDER

FOLDER_SETS = (*MNIST_LIKE, "cifar10")  # the sets a data folder can hold


class FolderCheck(NamedTuple):
    found: bool  # the training files are there
    note: str  # where the files go, or what is wrong with the folder


def _searched(name: str, folder: str) -> list:
    if name == "cifar10":
        roots = [check_in_roots(folder)] if folder else [data_area()]
        return [root / CIFAR_FOLDER for root in roots]
    return candidate_dirs(name, str(check_in_roots(folder)) if folder else "")


def check_data_folder(name: str, folder: str = "") -> FolderCheck:
    """Whether data set `name` is found offline with the data folder `folder` ("" = the usual places),
    and a note saying where its files go; a folder outside the allowed roots is reported, not read."""
    try:
        searched = _searched(name, folder.strip())
    except ConfigError as exc:  # outside the allowed roots (the message names them)
        return FolderCheck(False, f"This folder {exc.allowed}.")
    if name == "cifar10":
        found = any(folder.is_dir() for folder in searched)
        files = "the folder cifar-10-batches-py of CIFAR-10's python version"
    else:
        found = any(find_idx_files(folder, "train") for folder in searched)
        files = ("train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz (plus the t10k-… pair for a test "
                 "split; .gz optional)")
    where = ", ".join(str(folder) for folder in searched)
    return FolderCheck(found, f"Put {files} in one of: {where}.")
