"""Reading an uploaded run zip: every entry checked from the zip's directory, then unpacked with its
real size counted (genlab.runs.upload decides what to do with it).

Refused, with a RunImportError that says why: absolute paths, `..` components, backslashes, drive
letters, nested folders, symbolic links, encrypted or duplicate entries, more than `max_files`
entries; any file that is not part of the run format (genlab.runs.format.RUN_FILES), pickles above
all (.pt/.pkl/...), and a .safetensors file whose bytes are a pickle in disguise; declared sizes over
the limits; an entry that inflates to more than it declares (a zip bomb).
"""
from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from genlab.runs.format import CONFIG_FILE, META_FILE, PICKLE_SUFFIXES, RUN_FILES, WEIGHTS_FILE, CheckpointError
from genlab.runs.tensors import check_safetensors

COPY_CHUNK = 1024 * 1024
PICKLE_MAGIC = (b"\x80",)  # protocol 2+ pickles start with PROTO (0x80)


class RunImportError(CheckpointError):
    """An uploaded run zip was refused; the message says what is wrong with it."""


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The entry's path components, or RunImportError for anything that could escape or is not plain."""
    raw = info.filename
    shown = repr(raw)
    if "\x00" in raw:
        raise RunImportError(f"the zip entry {shown} has a NUL character in its name")
    if "\\" in raw:
        raise RunImportError(f"the zip entry {shown} uses backslashes; refusing paths that could escape the run folder")
    if raw.startswith("/") or (len(raw) >= 2 and raw[1] == ":"):
        raise RunImportError(f"the zip entry {shown} is an absolute path; refusing to write outside the run folder")
    parts = tuple(p for p in PurePosixPath(raw).parts if p not in ("", "."))
    if ".." in parts:
        raise RunImportError(f"the zip entry {shown} contains '..'; refusing to write outside the run folder")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise RunImportError(f"the zip entry {shown} is a symbolic link; a run holds only regular files")
    if info.flag_bits & 0x1:
        raise RunImportError(f"the zip entry {shown} is encrypted")
    return parts


def declared_entry_count(data: bytes) -> int | None:
    """Entry count from the zip's end-of-central-directory record, or None if not found / zip64."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    count = int.from_bytes(data[end + 10 : end + 12], "little")
    return None if count == 0xFFFF else count


def plan_entries(
    zf: zipfile.ZipFile, max_files: int, max_unpacked_bytes: int
) -> tuple[str | None, dict[str, zipfile.ZipInfo]]:
    """Check every entry's name, kind and declared size; return (top folder or None, {file name: entry})."""
    infos = zf.infolist()
    if len(infos) > max_files:
        raise RunImportError(f"the zip has {len(infos)} entries; a run has at most {max_files}")
    if not infos:
        raise RunImportError("the zip is empty")
    tops: set[str | None] = set()
    files: dict[str, zipfile.ZipInfo] = {}
    declared = 0
    for info in infos:
        parts = _member_parts(info)
        if info.is_dir():
            if len(parts) > 1:
                raise RunImportError(f"the zip has a nested folder {info.filename!r}; a run is one flat folder")
            if parts:
                tops.add(parts[0])
            continue
        if len(parts) == 0:
            raise RunImportError(f"the zip entry {info.filename!r} has no file name")
        if len(parts) > 2:
            raise RunImportError(f"the zip entry {info.filename!r} is in a nested folder; a run is one flat folder")
        tops.add(parts[0] if len(parts) == 2 else None)
        fname = parts[-1]
        if fname.lower().endswith(PICKLE_SUFFIXES):
            raise RunImportError(
                f"the zip contains {fname!r}, a pickle file; pickles can run code when loaded and are never "
                f"accepted (genlab runs store tensors as .safetensors)"
            )
        if fname not in RUN_FILES:
            raise RunImportError(
                f"the zip contains {fname!r}, which is not part of a run; allowed files: {', '.join(RUN_FILES)}"
            )
        if fname in files:
            raise RunImportError(f"the zip contains {fname!r} twice")
        declared += info.file_size
        if declared > max_unpacked_bytes:
            raise RunImportError(f"the zip unpacks to more than {max_unpacked_bytes:,} bytes (the limit for a run)")
        files[fname] = info
    if len(tops) > 1:
        raise RunImportError(
            "the zip mixes files from several folders; it must hold one run (one folder, or files at the top)"
        )
    missing = [f for f in (CONFIG_FILE, META_FILE, WEIGHTS_FILE) if f not in files]
    if missing:
        raise RunImportError(f"the zip is not a genlab run: {', '.join(missing)} missing")
    return next(iter(tops)), files


def unpack(zf: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo], dest: Path, max_unpacked_bytes: int) -> None:
    """Write each entry to dest/<file name>, counting the bytes actually produced (not the declared ones)."""
    total = 0
    for fname, info in files.items():
        written = 0
        with zf.open(info) as source, open(dest / fname, "xb") as target:
            while chunk := source.read(COPY_CHUNK):
                written += len(chunk)
                total += len(chunk)
                if written > info.file_size or total > max_unpacked_bytes:
                    raise RunImportError(
                        f"{fname} unpacks to more bytes than the zip declares (limit {max_unpacked_bytes:,} in all); "
                        f"refusing a possible zip bomb"
                    )
                target.write(chunk)
        if fname.endswith(".safetensors"):
            with open(dest / fname, "rb") as f:
                head = f.read(2)
            if head[:1] in PICKLE_MAGIC or head == b"PK":
                raise RunImportError(f"{fname} is a pickle / torch.save file renamed to .safetensors; refusing it")
            try:
                check_safetensors((dest / fname).read_bytes(), fname)
            except CheckpointError as exc:
                raise RunImportError(str(exc)) from None


def read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The bytes of one small entry (at most `limit`, whatever the zip declares), read before unpacking."""
    with zf.open(info) as source:
        data = source.read(limit + 1)
    if len(data) > limit:
        raise RunImportError(f"{PurePosixPath(info.filename).name} unpacks to more than {limit:,} bytes")
    return data
