"""Finding runs: names, paths, and the quick facts of each run read from its JSON files only.

Listing never fails because of one run: a run whose files break the format (genlab.runs.meta's schema
for meta.json, the config's rules) or cannot be read is listed with `error` set, so it can still be
seen and deleted.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab import atomic
from genlab.config import ConfigError, RunConfig, check_run_name
from genlab.runs.format import (
    DEFAULT_ROOT,
    PICKLE_SUFFIXES,
    PREVIEW_FILE,
    REQUIRED_FILES,
    RUN_FILES,
    WEIGHTS_FILE,
    CheckpointError,
    check_required,
    is_pickle,
    read_config,
    read_meta,
)
from genlab.runs.labels import run_settings

log = logging.getLogger(__name__)


@dataclass
class RunInfo:
    name: str
    path: Path
    family: str = ""
    dataset: str = ""
    arch: str = ""
    steps: int = 0
    settings: dict[str, Any] = field(default_factory=dict)  # the settings that tell runs apart
    final_metrics: dict[str, float] = field(default_factory=dict)
    has_preview: bool = False
    created: str = ""
    command: str = ""
    size_bytes: int = 0
    data_note: str = ""  # what an import dropped from the run's data settings ("" when nothing)
    error: str | None = None  # set (and the rest partly empty) when the run is broken

    @property
    def ok(self) -> bool:
        return self.error is None


# --- names and paths -----------------------------------------------------------------------------------
def check_name(name: Any) -> str:
    """A run name that is safe as one folder name, or CheckpointError saying exactly what is wrong."""
    if not isinstance(name, str):
        raise CheckpointError(f"invalid run name {name!r}: must be a string")
    if name == "":
        raise CheckpointError("invalid run name '': the name is empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise CheckpointError(f"invalid run name {name!r}: contains control characters")
    if "/" in name or "\\" in name or name in (".", "..") or os.path.isabs(name) or re.match(r"^[A-Za-z]:", name):
        raise CheckpointError(f"invalid run name {name!r}: must be a plain folder name, not a path")
    try:
        return check_run_name(name)
    except ConfigError as exc:
        raise CheckpointError(f"invalid run name {name!r}: {exc.allowed}") from None


def _looks_like_path(name_or_path: str | os.PathLike) -> bool:
    if isinstance(name_or_path, os.PathLike):
        return True
    return ("/" in name_or_path or "\\" in name_or_path or name_or_path.endswith(PICKLE_SUFFIXES)) and os.path.exists(
        name_or_path
    )


def _present(path: Path) -> bool:
    """Whether the run folder `path` is there, once a folder that a dead save left aside is put back
    and a save that is swapping it in right now (holding the folder lock) has finished."""
    if path.is_dir():
        return True
    atomic.recover_dir(path)
    with atomic.folder_lock(path.parent, exclusive=False):
        return path.is_dir()


def resolve_run(name_or_path: str | os.PathLike, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """The folder of a run given by name (under `root`) or by path (a pathlib.Path, or an existing path).

    Plain strings are names and are validated, so a name typed into the app cannot escape `root`.
    """
    if _looks_like_path(name_or_path):
        path = Path(name_or_path)
        if path.is_file():
            if path.name in RUN_FILES:
                path = path.parent  # a file inside a run folder means that folder
            elif path.suffix.lower() in PICKLE_SUFFIXES or is_pickle(path):
                raise CheckpointError(
                    f"{path}: refusing to load a pickle file (pickles can run code); "
                    f"genlab runs are folders with {', '.join(REQUIRED_FILES)}"
                )
            else:
                raise CheckpointError(f"{path}: not a run folder (expected a folder with {', '.join(REQUIRED_FILES)})")
        if not _present(path):
            raise CheckpointError(f"{path}: no such run folder")
        return path
    name = check_name(str(name_or_path))
    root = Path(root)
    path = root / name
    if not _present(path):
        known = [info.name for info in list_runs(root) if info.ok]
        hint = f"; runs in {root}: {', '.join(known)}" if known else f"; {root} has no runs"
        raise CheckpointError(f"unknown run {name!r}{hint}")
    return path


# --- facts about runs ----------------------------------------------------------------------------------
def info_from(path: Path, config: RunConfig, meta: dict[str, Any]) -> RunInfo:
    return RunInfo(
        name=path.name,
        path=path,
        family=config.model.family,
        dataset=config.data.name,
        arch=config.model.arch,
        steps=meta["step"],
        settings=run_settings(config),
        final_metrics={k: float(v) for k, v in meta["final_metrics"].items()},
        has_preview=(path / PREVIEW_FILE).is_file(),
        created=meta["created"],
        command=meta["command"],
        size_bytes=sum(p.stat().st_size for p in path.iterdir() if p.is_file()),
        data_note=meta["data_note"],
    )


def run_info(path: str | os.PathLike) -> RunInfo:
    """Quick facts about one run from its JSON files only (no tensors read); errors as CheckpointError."""
    path = Path(path)
    with atomic.folder_lock(path.parent, exclusive=False):  # meta.json and config.json of one version
        check_required(path)
        meta = read_meta(path)
        config = read_config(path)
    weights_size = (path / WEIGHTS_FILE).stat().st_size
    if weights_size < 8:
        raise CheckpointError(f"{path / WEIGHTS_FILE}: truncated ({weights_size} bytes)")
    return info_from(path, config, meta)


def looks_like_run(path: Path) -> bool:
    """A folder holding any run file (or a pickle posing as one) is a run, possibly broken; others
    (e.g. checkpoints/classifiers/ of the metrics) are not listed."""
    try:
        return any(p.name in RUN_FILES or p.suffix.lower() in PICKLE_SUFFIXES for p in path.iterdir())
    except OSError:
        return True


def _entries(root: Path) -> list[Path]:
    """The entries of the folder `root` ([] when there is no such folder)."""
    try:
        return sorted(root.iterdir()) if root.is_dir() else []
    except OSError as exc:
        raise CheckpointError(f"{root}: cannot list runs here ({exc.strerror or exc})") from None


def list_runs(root: str | os.PathLike = DEFAULT_ROOT) -> list[RunInfo]:
    """Every run folder under `root`, sorted by name; a broken run is listed with `error` set."""
    root = Path(root)
    for entry in _entries(root):  # a save that died between its two renames: put the old run back
        match = re.match(rf"^{re.escape(atomic.OLD_PREFIX)}(?P<name>.+)-\d+-[0-9a-f]+$", entry.name)
        if match:
            atomic.recover_dir(root / match["name"])
    runs = []
    for entry in _entries(root):
        try:
            if entry.name.startswith((".", "_")) or not entry.is_dir() or not looks_like_run(entry):
                continue
            runs.append(run_info(entry))
        except CheckpointError as exc:
            runs.append(RunInfo(name=entry.name, path=entry, error=str(exc)))
        except OSError as exc:
            runs.append(RunInfo(name=entry.name, path=entry, error=f"{entry}: cannot be read ({exc.strerror or exc})"))
        except Exception as exc:  # noqa: BLE001 - one broken run must never hide the others
            log.exception("listing run %s failed", entry)
            runs.append(RunInfo(name=entry.name, path=entry, error=f"{entry}: cannot be read ({type(exc).__name__})"))
    return runs
