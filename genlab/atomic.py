"""Crash-safe file and folder writes: write to a temporary name, fsync, then rename into place.

A rename within one file system is atomic, so a reader (or a process that starts after a crash) sees
either the old complete file/folder or the new complete one, never a half-written one.

Folders cannot be swapped in one atomic step with portable calls, so `replace_dir` moves the old folder
aside first and moves the new one in second. If the process dies between the two renames, the target is
briefly missing while the complete old folder sits next to it under a recognizable name;
`recover_dir` puts it back. Readers call it before they give up on a missing folder.

Several processes may write and read the same folder of runs at once (two `genlab train` runs saving one
name, the app listing while the CLI saves). `folder_lock` coordinates them with an advisory lock on the
parent folder itself (no lock files; the system drops it when a process dies): a swap holds it
exclusively, a reader that reads several files of one run holds it shared, so it never mixes the files
of two versions. Where the OS has no `fcntl` (Windows), there is no locking.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

# Names of the scratch folders next to a target. Their first character ('_') can never start a run
# name, so they never collide with real runs, and listings can skip them.
TMP_PREFIX = "_tmp-"
OLD_PREFIX = "_old-"
_SCRATCH_SUFFIX = re.compile(r"^(?P<pid>\d+)-[0-9a-f]+$")


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk. Folders cannot be fsynced on Windows."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a new file and fsync it (the caller renames the folder it is in)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Replace the file at `path` atomically: readers see the old content or the new, never a mix."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        write_bytes(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
    return path


def scratch_dir(root: Path, name: str, prefix: str = TMP_PREFIX) -> Path:
    """A fresh, unused scratch folder name in `root` for writing `name` (not created)."""
    return root / f"{prefix}{name}-{os.getpid()}-{secrets.token_hex(4)}"


@contextmanager
def folder_lock(folder: Path, exclusive: bool) -> Iterator[None]:
    """Hold the advisory lock of `folder`: exclusive for changing its entries, shared for reading them.
    A folder that does not exist (yet) or cannot be opened has nothing to coordinate: no lock then."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        fd = None
    try:
        if fd is not None and fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def replace_dir(new: Path, target: Path) -> None:
    """Move the complete folder `new` to `target`, replacing any folder already there.

    At every instant either `target` is a complete folder, or it is missing and its previous complete
    version sits at `<root>/_old-<name>-<pid>-<hex>` (what `recover_dir` restores). Concurrent
    replacements of one target (other threads or processes) happen one after the other.
    """
    root = target.parent
    fsync_path(new)
    old = None
    with folder_lock(root, exclusive=True):
        if target.exists():
            old = scratch_dir(root, target.name, OLD_PREFIX)
            os.rename(target, old)
            fsync_path(root)
        os.rename(new, target)
        fsync_path(root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but not ours, or cannot tell: leave its files alone
    return True


def _scratch_dirs(root: Path, name: str, prefix: str) -> list[Path]:
    """Scratch folders of `name` made by processes that are no longer running, newest first."""
    if not root.is_dir():
        return []
    found = []
    head = f"{prefix}{name}-"
    for entry in root.iterdir():
        if not entry.name.startswith(head) or not entry.is_dir():
            continue
        match = _SCRATCH_SUFFIX.match(entry.name[len(head):])
        if match and not _pid_alive(int(match["pid"])):
            found.append(entry)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def recover_dir(target: Path) -> bool:
    """If `target` is missing because a save died between its two renames, restore the old folder.

    Returns True when something was restored. Only folders left by dead processes are touched.
    """
    if target.exists():
        return False
    for old in _scratch_dirs(target.parent, target.name, OLD_PREFIX):
        try:
            os.rename(old, target)
        except OSError:
            continue
        fsync_path(target.parent)
        return True
    return False


def remove_stale_scratch(root: Path) -> None:
    """Delete temporary folders left in `root` by saves that died (their process is gone)."""
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if not entry.is_dir() or not entry.name.startswith(TMP_PREFIX):
            continue
        match = re.match(r"^.*-(?P<pid>\d+)-[0-9a-f]+$", entry.name)
        if match and not _pid_alive(int(match["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
    # Old copies are only deleted once their run is back in place.
    for entry in root.iterdir():
        if entry.is_dir() and entry.name.startswith(OLD_PREFIX):
            match = re.match(rf"^{re.escape(OLD_PREFIX)}(?P<name>.+)-(?P<pid>\d+)-[0-9a-f]+$", entry.name)
            if match and not _pid_alive(int(match["pid"])):
                target = root / match["name"]
                if target.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    recover_dir(target)
