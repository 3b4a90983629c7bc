"""Importing an uploaded run zip, the one place where a whole run of untrusted bytes arrives.

In this order, so that a refused zip costs little and leaves no trace in the root:
  1. the zip's size and entry count, then every entry's name and kind (genlab.runs.zip_entries);
  2. its config.json, read alone before anything is unpacked: the model it builds must pass
     genlab.models.budget, and each entry's declared size must fit what a run of that model needs
     (genlab.runs.sizes), so a 1 MB zip cannot become a 500 MB run;
  3. unpacking into a scratch folder inside the root, counting the bytes really produced;
  4. what the upload says about data is not trusted: `data.path` and `download` are dropped (the data
     comes from this server's own locations; a note in meta.json says what was dropped);
  5. the full check of any saved run (genlab.runs.load.validate_run_dir: schema, headers, checksums,
     tensors against the model), and only then a rename into place.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path

from genlab import atomic
from genlab.config import ConfigError, RunConfig
from genlab.data.roots import UPLOAD_PREFIX
from genlab.models.budget import check_model_budget
from genlab.runs.format import CONFIG_FILE, DEFAULT_ROOT, MAX_RUN_BYTES, META_FILE, CheckpointError, read_json
from genlab.runs.listing import RunInfo, check_name, run_info
from genlab.runs.load import validate_run_dir
from genlab.runs.sizes import CONFIG_BYTES, file_limits
from genlab.runs.zip_entries import RunImportError, declared_entry_count, plan_entries, read_entry, unpack

MAX_ZIP_BYTES = 200 * 1024 * 1024  # Streamlit's default upload limit is 200 MB as well
MAX_UNPACKED_BYTES = MAX_RUN_BYTES
MAX_FILES = 32  # a run has at most len(RUN_FILES) files; allow a folder entry and some slack
USER_DATA = ("points", "folder")  # data sets made of the user's own files
# what reading a damaged entry raises: a bad header or CRC, a truncated or invalid deflate stream, an
# unsupported compression method
DAMAGED_ZIP = (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError, zlib.error)


def _declared_config(zf: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo]) -> RunConfig:
    """The zip's config.json, whose model passed the budget, read before anything is unpacked."""
    try:
        config = RunConfig.from_json(read_entry(zf, files[CONFIG_FILE], CONFIG_BYTES).decode("utf-8", "replace"))
        check_model_budget(config)
    except ConfigError as exc:
        raise RunImportError(f"{CONFIG_FILE}: {exc}") from None
    except DAMAGED_ZIP as exc:
        raise RunImportError(f"the zip is damaged ({exc})") from None
    return config


def _check_declared_sizes(files: dict[str, zipfile.ZipInfo], limits: dict[str, int]) -> None:
    for fname, info in files.items():
        if info.file_size > limits[fname]:
            raise RunImportError(f"{fname} unpacks to more than a run of its model can hold "
                                 f"({info.file_size:,} bytes; at most {limits[fname]:,})")


def server_data(config: RunConfig) -> tuple[RunConfig, str]:
    """`config` with the upload's data.path and download dropped, and a note of what was dropped ('' if
    nothing). Data uploaded in the app lives in memory only, so such runs ask for a new upload."""
    data = config.data
    path = ""
    if data.name in USER_DATA:
        path = data.path if data.path.startswith(UPLOAD_PREFIX) else f"{UPLOAD_PREFIX}{data.name}"
    dropped = [f"data.path {data.path[:200]!r}"] if data.path and data.path != path else []
    dropped += ["download: true"] if data.download else []
    if not dropped:
        return config, ""
    note = (f"Imported: {' and '.join(dropped)} dropped; the data comes from this server's own locations"
            + (", so upload the data again to train." if data.name in USER_DATA else "."))
    return config.replace(**{"data.path": path, "data.download": False}), note


def _record(unpacked: Path, config: RunConfig, name: str) -> None:
    """Write the run's trusted config.json (its name, the server's data) and the same name in meta.json."""
    config, note = server_data(config.replace(name=name))
    atomic.write_bytes_atomic(unpacked / CONFIG_FILE, config.to_json().encode())
    meta = read_json(unpacked / META_FILE)
    if isinstance(meta, dict):  # else validation refuses it next
        meta.update({"name": name, **({"data_note": note} if note else {})})
        atomic.write_bytes_atomic(unpacked / META_FILE, json.dumps(meta, indent=2).encode())


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
    declared_entries = declared_entry_count(data)
    if declared_entries is not None and declared_entries > max_files:
        # checked before zipfile parses the central directory (millions of entries would take a while)
        raise RunImportError(f"the zip has {declared_entries:,} entries; a run has at most {max_files}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise RunImportError(f"not a valid zip file ({exc})") from None
    root = Path(root)
    with zf:
        top, files = plan_entries(zf, max_files, max_unpacked_bytes)
        config = _declared_config(zf, files)
        _check_declared_sizes(files, file_limits(config))
        root.mkdir(parents=True, exist_ok=True)
        atomic.remove_stale_scratch(root)
        scratch = atomic.scratch_dir(root, "import")
        scratch.mkdir()
        try:
            try:
                unpack(zf, files, scratch, max_unpacked_bytes)
            except DAMAGED_ZIP as exc:
                raise RunImportError(f"the zip is damaged ({exc})") from None
            target_name = _import_name(name, top, scratch)
            try:
                _record(scratch, config, target_name)
                validate_run_dir(scratch)
            except CheckpointError as exc:
                raise RunImportError(str(exc).replace(str(scratch), "the uploaded run")) from None
            target = root / target_name
            with atomic.folder_lock(root, exclusive=True):
                if target.exists() or target.is_symlink():
                    raise RunImportError(f"a run named {target_name!r} already exists; rename or delete it first, "
                                         "or import it under another name")
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
            meta = read_json(unpacked / META_FILE)
        except CheckpointError:
            meta = None
        candidate = meta.get("name") if isinstance(meta, dict) else None
    if not candidate or not isinstance(candidate, str):
        raise RunImportError("the zip does not say the run's name; enter a name to import it under")
    try:
        return check_name(candidate)
    except CheckpointError as exc:
        raise RunImportError(f"{exc}; enter another name to import it under") from None
