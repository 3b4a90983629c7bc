"""A folder of images on the server as a DataSource (uploads come as a zip: genlab.data.image_zip).

The folder must lie inside the allowed data roots (genlab.data.roots). It is walked recursively in
sorted order; symlinked folders are not followed, and a symlinked file is only read when its target
lies inside the allowed roots as well. Every file goes through genlab.data.untrusted_image, so the
limits of genlab.data.limits hold for files on disk as for uploads.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from genlab.config import ConfigError
from genlab.data.image_set import FIELD, IMAGE_EXTENSIONS, ImageCollector
from genlab.data.limits import MAX_IMAGE_FILE_BYTES, max_images
from genlab.data.roots import allowed_roots, check_in_roots, is_inside
from genlab.data.source import DataSource
from genlab.data.untrusted_image import UNREADABLE

OUTSIDE_LINK = "link to outside the data folders"


def image_files(folder: str | os.PathLike, limit: int) -> list[Path]:
    """Image files under `folder` (recursive, sorted, symlinked folders not followed), at most `limit`."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("."):
                found.append(Path(root) / name)
                if len(found) > limit:
                    raise ConfigError(FIELD, str(folder), f"holds more than {limit:,} images; use a smaller folder")
    return found


def images_from_folder(folder: str | os.PathLike, image_size: int, device: torch.device | str = "cpu") -> DataSource:
    origin = str(folder)
    folder = check_in_roots(folder)
    if not folder.is_dir():
        raise ConfigError(FIELD, origin, "no such folder; give a folder of images")
    files = image_files(folder, max_images(image_size))
    collector = ImageCollector(image_size, len(files), origin)
    roots = allowed_roots()
    for path in files:
        if path.is_symlink() and not is_inside(path, roots):
            collector.skip(OUTSIDE_LINK)
            continue
        try:
            if not path.is_file():  # a FIFO or device named like an image would block or never end
                raise OSError("not a regular file")
            with open(path, "rb") as f:
                data = f.read(MAX_IMAGE_FILE_BYTES + 1)  # one byte more reveals a file over the limit
        except OSError:
            collector.skip(UNREADABLE)
            continue
        collector.add(data, str(path.relative_to(folder)))
    return collector.source(device)
