"""Managing saved runs: rename, delete and export as a zip (importing one is genlab.runs.upload).

Runs are folders under a checkpoint root (see genlab.runs.format). Every operation takes run *names*
(validated: a plain folder name, never a path), so nothing here can touch a file outside the root.
Each change of the root's entries holds its lock (genlab.atomic.folder_lock), so a reader in another
thread or process never sees a run half renamed or half deleted.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

from genlab import atomic
from genlab.runs.format import CONFIG_FILE, DEFAULT_ROOT, META_FILE, RUN_FILES, CheckpointError, read_json
from genlab.runs.listing import check_name, looks_like_run
from genlab.runs.shipped import refuse_if_shipped


# ------------------------------------------------------------------------------------------------
# rename / delete
# ------------------------------------------------------------------------------------------------
def _existing_run(root: Path, name: str) -> Path:
    """The folder of run `name` in `root`, broken or not (what list_runs lists); a folder that holds no
    run files (e.g. classifiers/) is not a run."""
    path = root / check_name(name)
    if path.is_symlink() or not path.is_dir() or not looks_like_run(path):
        raise CheckpointError(f"there is no run named {name!r} in {root}")
    return path


def set_recorded_name(path: Path, name: str) -> None:
    """Make config.json and meta.json carry the folder's name (saves keep them equal)."""
    for fname in (CONFIG_FILE, META_FILE):
        file = path / fname
        if not file.is_file() or file.is_symlink():
            continue
        try:
            raw = read_json(file)
        except CheckpointError:
            continue  # a broken file stays as it is; loading the run reports it
        if isinstance(raw, dict) and raw.get("name") != name:
            raw["name"] = name
            text = json.dumps(raw, indent=2, sort_keys=fname == CONFIG_FILE)
            atomic.write_bytes_atomic(file, text.encode())


def rename_run(old: str, new: str, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """Rename run `old` to `new` in `root`; refuses an invalid name or an existing run. Returns the new folder."""
    root = Path(root)
    source = _existing_run(root, old)
    refuse_if_shipped(source, "renamed")
    new = check_name(new)
    if new == old:
        return source
    target = root / new
    with atomic.folder_lock(root, exclusive=True):
        if target.exists() or target.is_symlink():
            raise CheckpointError(f"a run named {new!r} already exists; choose another name or delete that run first")
        os.rename(source, target)  # same folder, same file system: atomic
        atomic.fsync_path(root)
    set_recorded_name(target, new)
    return target


def delete_run(name: str, root: str | os.PathLike = DEFAULT_ROOT) -> None:
    """Delete run `name` from `root`: moved aside atomically first, so it vanishes from listings at once."""
    root = Path(root)
    path = _existing_run(root, name)
    refuse_if_shipped(path, "deleted")
    trash = atomic.scratch_dir(root, path.name)  # '_tmp-…': never listed, cleaned up if we die mid-way
    with atomic.folder_lock(root, exclusive=True):
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


