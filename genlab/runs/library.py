"""Managing saved runs: rename, delete, export as a zip, import an uploaded zip (safely).

Runs are folders under a checkpoint root (see genlab.runs.format). Every operation takes run *names*
(validated: a plain folder name, never a path), so nothing here can touch a file outside the root.

Importing a zip is where untrusted bytes arrive, so `import_zip` is strict. It refuses, with a
message that says why:
  - a zip larger than `max_zip_bytes`, or whose files unpack to more than `max_unpacked_bytes`
    (counted while unpacking, so a zip that lies about its sizes — a zip bomb — is stopped too),
    or with more than `max_files` entries;
  - absolute paths, `..` components, backslashes, drive letters, nested folders, symbolic links,
    encrypted or duplicate entries;
  - any file that is not part of the run format (genlab.runs.format.RUN_FILES), pickles above all
    (.pt/.pkl/...), and a .safetensors file whose bytes are a pickle in disguise.
It unpacks into a scratch folder *inside* the root (named so no listing shows it), checks the result
exactly like any saved run (genlab.runs.load.validate_run_dir: headers, checksums, tensor shapes against the
model the config builds — nothing is unpickled), and only then renames it into place.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from genlab import atomic
from genlab.runs.format import (
    CONFIG_FILE,
    DEFAULT_ROOT,
    MAX_RUN_BYTES,
    META_FILE,
    PICKLE_SUFFIXES,
    RUN_FILES,
    WEIGHTS_FILE,
    CheckpointError,
    check_safetensors,
)
from genlab.runs.listing import RunInfo, check_name, run_info
from genlab.runs.load import validate_run_dir

MAX_ZIP_BYTES = 200 * 1024 * 1024  # Streamlit's default upload limit is 200 MB as well
MAX_UNPACKED_BYTES = MAX_RUN_BYTES
MAX_FILES = 32  # a run has at most len(RUN_FILES) files; allow a folder entry and some slack
COPY_CHUNK = 1024 * 1024
PICKLE_MAGIC = (b"\x80",)  # protocol 2+ pickles start with PROTO (0x80)


class RunImportError(CheckpointError):
    """An uploaded run zip was refused; the message says what is wrong with it."""


# ------------------------------------------------------------------------------------------------
# rename / delete
# ------------------------------------------------------------------------------------------------
def _existing_run(root: Path, name: str) -> Path:
    """The folder of run `name` in `root`; a folder that holds no run files (e.g. classifiers/) is not a run."""
    path = root / check_name(name)
    if path.is_symlink() or not path.is_dir() or not any((path / f).is_file() for f in (CONFIG_FILE, META_FILE)):
        raise CheckpointError(f"there is no run named {name!r} in {root}")
    return path


def _set_recorded_name(path: Path, name: str) -> None:
    """Make config.json and meta.json carry the folder's name (saves keep them equal)."""
    for fname in (CONFIG_FILE, META_FILE):
        file = path / fname
        if not file.is_file() or file.is_symlink():
            continue
        try:
            raw = json.loads(file.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue  # a broken file stays as it is; loading the run reports it
        if isinstance(raw, dict) and raw.get("name") != name:
            raw["name"] = name
            text = json.dumps(raw, indent=2, sort_keys=fname == CONFIG_FILE)
            atomic.write_bytes_atomic(file, text.encode())


def rename_run(old: str, new: str, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """Rename run `old` to `new` in `root`; refuses an invalid name or an existing run. Returns the new folder."""
    root = Path(root)
    source = _existing_run(root, old)
    new = check_name(new)
    if new == old:
        return source
    target = root / new
    if target.exists() or target.is_symlink():
        raise CheckpointError(f"a run named {new!r} already exists; choose another name or delete that run first")
    os.rename(source, target)  # same folder, same file system: atomic
    atomic.fsync_path(root)
    _set_recorded_name(target, new)
    return target


def delete_run(name: str, root: str | os.PathLike = DEFAULT_ROOT) -> None:
    """Delete run `name` from `root`: moved aside atomically first, so it vanishes from listings at once."""
    root = Path(root)
    path = _existing_run(root, name)
    trash = atomic.scratch_dir(root, path.name)  # '_tmp-…': never listed, cleaned up if we die mid-way
    os.rename(path, trash)
    atomic.fsync_path(root)
    shutil.rmtree(trash, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------
def export_zip(name: str, root: str | os.PathLike = DEFAULT_ROOT) -> bytes:
    """The run as zip bytes: `<name>/<file>` for each run file (the layout import_zip expects)."""
    path = _existing_run(Path(root), name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for fname in RUN_FILES:
            file = path / fname
            if file.is_file() and not file.is_symlink():
                info = zipfile.ZipInfo(f"{path.name}/{fname}", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                zf.writestr(info, file.read_bytes())
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# import
# ------------------------------------------------------------------------------------------------
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


def _declared_entry_count(data: bytes) -> int | None:
    """Entry count from the zip's end-of-central-directory record, or None if not found / zip64."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    count = int.from_bytes(data[end + 10 : end + 12], "little")
    return None if count == 0xFFFF else count


def _plan(
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


def _unpack(zf: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo], dest: Path, max_unpacked_bytes: int) -> None:
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


def import_zip(
    data: bytes,
    root: str | os.PathLike = DEFAULT_ROOT,
    name: str | None = None,
    *,
    max_zip_bytes: int = MAX_ZIP_BYTES,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
    max_files: int = MAX_FILES,
) -> RunInfo:
    """Check an uploaded run zip and add it to `root` as run `name` (default: the zip's folder or recorded name).

    Raises RunImportError (a CheckpointError) with a clear message and leaves `root` as it was when the
    zip is refused or a run of that name exists. Returns the imported run's info.
    """
    if len(data) > max_zip_bytes:
        raise RunImportError(f"the zip is {len(data):,} bytes; the limit is {max_zip_bytes:,}")
    declared_entries = _declared_entry_count(data)
    if declared_entries is not None and declared_entries > max_files:
        # checked before zipfile parses the central directory (millions of entries would take a while)
        raise RunImportError(f"the zip has {declared_entries:,} entries; a run has at most {max_files}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise RunImportError(f"not a valid zip file ({exc})") from None
    root = Path(root)
    with zf:
        top, files = _plan(zf, max_files, max_unpacked_bytes)
        root.mkdir(parents=True, exist_ok=True)
        atomic.remove_stale_scratch(root)
        scratch = atomic.scratch_dir(root, "import")
        scratch.mkdir()
        try:
            try:
                _unpack(zf, files, scratch, max_unpacked_bytes)
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
                raise RunImportError(f"the zip is damaged ({exc})") from None
            target_name = _import_name(name, top, scratch)
            try:
                validate_run_dir(scratch)
            except CheckpointError as exc:
                message = str(exc).replace(str(scratch), "the uploaded run")
                raise RunImportError(message) from None
            target = root / target_name
            if target.exists() or target.is_symlink():
                raise RunImportError(
                    f"a run named {target_name!r} already exists; rename or delete it first, "
                    f"or import it under another name"
                )
            _set_recorded_name(scratch, target_name)
            os.rename(scratch, target)
            atomic.fsync_path(root)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    return run_info(target)


def _import_name(name: str | None, top: str | None, unpacked: Path) -> str:
    """The name asked for, else the zip's folder name, else the name recorded in meta.json."""
    candidate = name or top
    if not candidate:
        try:
            candidate = json.loads((unpacked / META_FILE).read_bytes()).get("name")
        except (json.JSONDecodeError, UnicodeDecodeError, OSError, AttributeError):
            candidate = None
    if not candidate:
        raise RunImportError("the zip does not say the run's name; enter a name to import it under")
    try:
        return check_name(candidate)
    except CheckpointError as exc:
        raise RunImportError(f"{exc}; enter another name to import it under") from None
