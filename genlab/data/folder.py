"""Any folder of images, or a zip of images uploaded through the app, as a DataSource.

Each image is centre-cropped to a square and resized to `image_size` with PIL. Colour images stay RGB
(3 channels); when every image turns out grey (R = G = B everywhere) one channel is kept. Transparent
pixels are composited onto black. Files that cannot be decoded are skipped and counted
(`DataSource.skipped`); when none can be read, ConfigError("data.path", ...) says so.

Uploaded zips are read in memory only (nothing is written to disk). An archive with an absolute or
'..' member name, too many files, or more uncompressed bytes than allowed is refused as a whole:
such an archive is either broken or hostile, and half-accepting it would hide that.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageOps

from genlab.config import ConfigError
from genlab.data.source import DataSource

FIELD = "data.path"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MAX_FILES = 100_000
MAX_PIXELS = 50_000_000  # per image, checked from the header before decoding; larger ones are skipped
MAX_ZIP_BYTES = 200 * 1024 * 1024  # total uncompressed size of an uploaded zip


def _load_image(source, image_size: int) -> np.ndarray:
    """(S, S, 3) uint8 from a path or file object; raises on anything PIL cannot decode."""
    with Image.open(source) as image:  # reads the header only; pixels are decoded below
        if image.width * image.height > MAX_PIXELS:
            raise ValueError("image too large")
        image.draft("RGB", (2 * image_size, 2 * image_size))  # JPEG: decode at reduced size, faster
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
        image = image.convert("RGB")
        square = ImageOps.fit(image, (image_size, image_size), method=Image.Resampling.LANCZOS)
        return np.asarray(square, dtype=np.uint8)


def _stack(arrays: list[np.ndarray], device) -> torch.Tensor:
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # (N, S, S, 3) -> (N, 3, S, S)
    if bool((x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all()):
        x = x[:, :1]  # all grey: one channel
    return x.contiguous().to(device)


def _source(arrays: list[np.ndarray], skipped: int, origin: str, image_size: int, device) -> DataSource:
    if not arrays:
        raise ConfigError(
            FIELD, origin,
            f"no readable images ({', '.join(IMAGE_EXTENSIONS)}) found" + (f"; {skipped} files could not be read" if skipped else ""),
        )
    x = _stack(arrays, device)
    note = f" ({skipped} unreadable files skipped)" if skipped else ""
    return DataSource(
        name="folder", kind="images", x=x, skipped=skipped,
        origin=f"{len(arrays)} images of {image_size}x{image_size} px from {origin}{note}",
    )


def image_files(folder: str | os.PathLike) -> list[Path]:
    """Image files under `folder` (recursive, sorted, symlinked folders not followed)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("."):
                found.append(Path(root) / name)
                if len(found) > MAX_FILES:
                    raise ConfigError(FIELD, str(folder), f"holds more than {MAX_FILES:,} images; use a smaller folder")
    return found


def images_from_folder(folder: str | os.PathLike, image_size: int, device: torch.device | str = "cpu") -> DataSource:
    origin = str(folder)
    if not Path(folder).is_dir():
        raise ConfigError(FIELD, origin, "no such folder; give a folder of images")
    arrays, skipped = [], 0
    for path in image_files(folder):
        try:
            arrays.append(_load_image(path, image_size))
        except Exception:  # PIL raises many types for broken files; a bad file is skipped, not fatal
            skipped += 1
    return _source(arrays, skipped, origin, image_size, device)


def _unsafe_name(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts


def images_from_zip_bytes(data: bytes, image_size: int, max_bytes: int = MAX_ZIP_BYTES,
                          device: torch.device | str = "cpu", max_files: int = MAX_FILES) -> DataSource:
    """A DataSource from the bytes of a zip of images, read entirely in memory."""
    origin = "the uploaded zip"
    if len(data) > max_bytes:
        raise ConfigError(FIELD, origin, f"the zip is larger than {max_bytes:,} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ConfigError(FIELD, origin, f"is not a valid zip file ({exc})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        for member in members:
            if _unsafe_name(member.filename):
                raise ConfigError(FIELD, origin, f"refused: member {member.filename!r} has an absolute or '..' path")
        images = [m for m in members if _wanted(m.filename)]
        if len(images) > max_files:
            raise ConfigError(FIELD, origin, f"holds more than {max_files:,} images")
        declared = sum(m.file_size for m in images)
        if declared > max_bytes:
            raise ConfigError(FIELD, origin, f"refused: it unpacks to {declared:,} bytes, more than {max_bytes:,}")
        arrays, skipped, total = [], 0, 0
        for member in images:
            try:
                with archive.open(member) as f:
                    # zipfile stops at the declared size; reading one byte more than the budget left
                    # still guards against an entry that decompresses beyond what it announced.
                    content = f.read(max_bytes - total + 1)
            except Exception:  # encrypted, damaged or unsupported compression: skip and count
                skipped += 1
                continue
            total += len(content)
            if total > max_bytes:
                raise ConfigError(FIELD, origin, f"refused: it unpacks to more than {max_bytes:,} bytes")
            try:
                arrays.append(_load_image(io.BytesIO(content), image_size))
            except Exception:
                skipped += 1
    return _source(arrays, skipped, origin, image_size, device)


def _wanted(name: str) -> bool:
    base = PurePosixPath(name.replace("\\", "/"))
    hidden = base.name.startswith(".") or "__MACOSX" in base.parts  # macOS resource-fork litter
    return base.name.lower().endswith(IMAGE_EXTENSIONS) and not hidden
