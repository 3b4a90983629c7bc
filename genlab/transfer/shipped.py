"""The runs shipped with genlab (the repository's checkpoints/) as starting points: GAN Lab's
"start from a pretrained model". A class picks Fashion-MNIST and starts from the shipped Fashion-MNIST
GAN, so recognisable samples are there at step 0 and the regularizers act on a trained model."""
from __future__ import annotations

import os
from pathlib import Path

from genlab.runs.listing import RunInfo, list_runs, resolve_run

SHIPPED_ROOT = Path(__file__).resolve().parents[2] / "checkpoints"


def trained_starts(dataset: str, family: str, root: str | os.PathLike = SHIPPED_ROOT) -> list[RunInfo]:
    """The readable runs under `root` of this model family trained on `dataset`, longest-trained first."""
    found = [info for info in list_runs(root) if info.ok and info.dataset == dataset and info.family == family]
    return sorted(found, key=lambda info: -info.steps)


def parent_folder(name: str, runs_root: str | os.PathLike) -> Path:
    """The folder of the parent run `name`: the user's run under `runs_root`, else the shipped run of
    that name (CheckpointError when neither exists)."""
    if not (Path(runs_root) / name).exists() and (SHIPPED_ROOT / name).is_dir():
        return resolve_run(name, SHIPPED_ROOT)
    return resolve_run(name, runs_root)
