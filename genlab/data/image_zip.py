"""An uploaded zip of images as a DataSource, read in memory only (nothing is written to disk).

Everything that can be checked from the zip's directory is checked before a single entry is
decompressed: the upload's size, the number of entries, entry names, the number of images (capped by
what the run's image size allows to keep) and their total uncompressed size. An archive with an
absolute or '..' member name is refused as a whole: such an archive is either broken or hostile, and
half-accepting it would hide that. Symbolic links, encrypted or damaged entries and images the
untrusted-image opener refuses are skipped and counted by reason.
"""
from __future__ import annotations

import io
import stat
import zipfile
import zlib
from pathlib import PurePosixPath

import torch

from genlab.config import ConfigError
from genlab.data.image_set import FIELD, IMAGE_EXTENSIONS, ImageCollector
from genlab.data.limits import MAX_IMAGE_FILE_BYTES, MAX_ZIP_BYTES, MAX_ZIP_ENTRIES, max_images
from genlab.data.source import DataSource
from genlab.data.untrusted_image import TOO_LARGE, UNREADABLE

ORIGIN = "the uploaded zip"
SYMLINK = "symbolic link"
# Every entry has a central-directory record starting with this signature. Counting it is an upper
# bound on the entries, found before zipfile builds one object per entry.
CENTRAL_DIRECTORY_SIGNATURE = b"PK\x01\x02"


def _unsafe_name(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts


def _wanted(name: str) -> bool:
    base = PurePosixPath(name.replace("\\", "/"))
    hidden = base.name.startswith(".") or "__MACOSX" in base.parts  # macOS resource-fork litter
    return base.name.lower().endswith(IMAGE_EXTENSIONS) and not hidden


def _is_symlink(member: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(member.external_attr >> 16)  # Unix mode bits, when the zip was made on Unix


def _refuse(why: str) -> ConfigError:
    return ConfigError(FIELD, ORIGIN, why)


def _image_members(archive: zipfile.ZipFile, image_size: int, max_bytes: int) -> list[zipfile.ZipInfo]:
    """The image entries, once the directory shows nothing that refuses the whole archive."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    for member in members:
        if _unsafe_name(member.filename):
            raise _refuse(f"refused: member {member.filename!r} has an absolute or '..' path")
    images = [m for m in members if _wanted(m.filename)]
    limit = max_images(image_size)
    if len(images) > limit:
        raise _refuse(f"refused: it holds {len(images):,} images; at {image_size} px at most {limit:,} are allowed")
    declared = sum(m.file_size for m in images)
    if declared > max_bytes:
        raise _refuse(f"refused: it unpacks to {declared:,} bytes, more than {max_bytes:,}")
    return images


def images_from_zip_bytes(data: bytes, image_size: int, max_bytes: int = MAX_ZIP_BYTES,
                          device: torch.device | str = "cpu") -> DataSource:
    """A DataSource from the bytes of a zip of images (see the module docstring for the checks)."""
    if len(data) > max_bytes:
        raise _refuse(f"the zip is larger than {max_bytes:,} bytes")
    if data.count(CENTRAL_DIRECTORY_SIGNATURE) > MAX_ZIP_ENTRIES:
        raise _refuse(f"refused: it holds more than {MAX_ZIP_ENTRIES:,} entries")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _refuse(f"is not a valid zip file ({exc})") from None
    with archive:
        images = _image_members(archive, image_size, max_bytes)
        collector = ImageCollector(image_size, len(images), ORIGIN)
        for member in images:
            if _is_symlink(member):
                collector.skip(SYMLINK)
                continue
            if member.file_size > MAX_IMAGE_FILE_BYTES:
                collector.skip(TOO_LARGE)
                continue
            try:
                # zipfile stops at the size the directory declares, so an entry cannot unpack to more.
                with archive.open(member) as f:
                    content = f.read()
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
                collector.skip(UNREADABLE)  # encrypted, damaged, or an unsupported compression method
                continue
            collector.add(content, member.filename)
    return collector.source(device)
