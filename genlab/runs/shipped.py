"""The runs that ship with genlab are read-only: a class shares them, so no tab may overwrite, rename or
delete them. Changing one means saving a copy under another name.

A shipped run is known by its name together with the checksum of its weights (recorded in its
meta.json and verified on load), so it is protected wherever its folder is copied (a deployment's runs
volume, $GENLAB_CHECKPOINT_DIR), while a user's own run that merely shares a name is not.
"""
from __future__ import annotations

import json
from pathlib import Path

from genlab.runs.format import META_FILE, WEIGHTS_FILE, CheckpointError

SHIPPED_WEIGHTS_SHA256 = {
    "ring-gan": "f8116a9ea4eca8686d9482f9b17518277edc911a04d3c805f02b644bb683e54f",
    "shapes-beta-vae": "980f83392d5bd9432101b6202763473c178866ce805ca98e8f93cc5ec03147bb",
    "fashion-vae": "e7c92b99f74b558ecf9325adec04cdf9c8ebaf81de43f12f00a54f08fe728097",
    "fashion-gan": "b3a404c85ec45894fe181da9037f4ac066bd310d754bb75b7ace463c5aae48d4",
    "fashion500-gan": "62ff1acf10c4d386ed9572585bc9bf1f589cf1aca5928fdba0b07d89a8446bb1",
}
META_READ_LIMIT = 1 << 20  # meta.json of a real run is a few kB; a larger one is not a shipped run


def is_shipped(path: Path) -> bool:
    """Whether the run folder `path` holds a run that ships with genlab (unchanged)."""
    expected = SHIPPED_WEIGHTS_SHA256.get(path.name)
    if expected is None or path.is_symlink():
        return False
    try:
        with open(path / META_FILE, "rb") as file:
            meta = json.loads(file.read(META_READ_LIMIT))
        return meta["files"][WEIGHTS_FILE]["sha256"] == expected
    except (OSError, ValueError, KeyError, TypeError):
        return False


def free_copy_name(root: Path, name: str) -> str:
    """The first of `<name>-copy`, `<name>-copy2`, ... that no folder in `root` uses."""
    candidate, number = f"{name}-copy", 1
    while (root / candidate).exists():
        number += 1
        candidate = f"{name}-copy{number}"
    return candidate


def refuse_if_shipped(path: Path, action: str) -> None:
    """CheckpointError when `action` (e.g. "overwritten") would change a shipped run."""
    if is_shipped(path):
        raise CheckpointError(f"{path.name} ships with genlab and cannot be {action}: save a copy under "
                              f"another name (e.g. {free_copy_name(path.parent, path.name)})")
