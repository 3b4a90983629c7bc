"""Where `data.path` may point: only inside the allowed data roots (listed in genlab.data.limits).

A config can come from anyone (an imported run carries its own `data.path`), so before a loader reads a
path or torchvision downloads into it, the path is resolved (symlinks followed, '..' collapsed) and
must lie inside one of the roots. Anything else is refused with a ConfigError naming the path and the
roots, so `data.path` set to '/' or '../../etc' reads nothing and creates nothing.
"""
from __future__ import annotations

import os
from pathlib import Path

from genlab.config import ConfigError
from genlab.data.limits import DATA_ROOTS_ENV, DEFAULT_DATA_DIR, SYSTEM_DATA_ROOTS

FIELD = "data.path"
UPLOAD_PREFIX = "upload:"  # the Train page's data.path for an uploaded file, which only lives in memory


def data_area() -> Path:
    """`data/` under the working directory, absolute so that messages say exactly where it is."""
    return Path(DEFAULT_DATA_DIR).absolute()


def _resolved(paths) -> list[Path]:
    unique = []
    for path in paths:
        resolved = Path(path).absolute().resolve()
        if resolved not in unique:
            unique.append(resolved)
    return unique


def writable_roots() -> list[Path]:
    """Roots torchvision may download into: the data area and the folders of $GENLAB_DATA_ROOTS."""
    listed = [p for p in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return _resolved([data_area(), *listed])


def allowed_roots() -> list[Path]:
    """Roots data may be read from: the writable roots and the system's dataset folders."""
    return _resolved([*writable_roots(), *SYSTEM_DATA_ROOTS])


def is_inside(path: str | os.PathLike, roots: list[Path]) -> bool:
    """Whether `path`, resolved, is one of `roots` or lies below one."""
    try:
        resolved = Path(path).absolute().resolve()
    except (OSError, ValueError, RuntimeError):  # NUL bytes, symlink loops, names too long
        return False
    return any(resolved.is_relative_to(root) for root in roots)


def check_in_roots(path: str | os.PathLike, for_download: bool = False) -> Path:
    """`path` made absolute (not resolved: messages keep the user's spelling) once it is known to lie
    inside the allowed roots (the writable ones when `for_download`); ConfigError otherwise."""
    text = os.fspath(path)
    if text.startswith(UPLOAD_PREFIX):
        raise ConfigError(FIELD, text, "names a file uploaded in the app, which is kept in memory only and "
                                       "never as a server path: upload it again")
    roots = writable_roots() if for_download else allowed_roots()
    if not is_inside(text, roots):
        where = "downloads may go to" if for_download else "data may be read from"
        raise ConfigError(FIELD, text, f"lies outside the folders {where} ({', '.join(map(str, roots))}); "
                                       f"move the data into one of them or add its folder to {DATA_ROOTS_ENV}")
    return Path(text).absolute()
