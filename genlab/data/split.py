"""Training subsets and held-out splits, both drawn from a seed (`data.subset_seed`) so they are fixed.

- A training subset (`data.train_size`): the first n images of a seeded permutation of the training
  images, so the 100-image subset lies inside the 500-image one. Held-out images never enter it.
- A held-out split for a set without official test files (a user's MNIST copy with only the train
  files, a folder or zip of images): a seeded HELDOUT_SHARE of the training files is kept apart and
  labelled as such; the training split is the rest. Evaluation (FID, test ELBO) and the Latent
  explorer use it as the set's "test" split. A set of fewer than MIN_IMAGES_TO_SPLIT images is not
  split: its "test" split is its training images, and says so (`heldout_part`).
"""
from __future__ import annotations

import math

import torch

from genlab.data.source import DataSource

HELDOUT_SHARE = 0.1
MIN_IMAGES_TO_SPLIT = 20


def seeded_order(n: int, seed: int) -> torch.Tensor:
    """A permutation of range(n) drawn from `seed` alone (CPU)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def heldout_note(seed: int) -> str:
    return f"seeded held-out split of the training files ({HELDOUT_SHARE:.0%}, seed {seed})"


def carve_heldout(source: DataSource, seed: int, why: str) -> DataSource:
    """The training part of `source` with its held-out part attached (`.heldout`): a seeded
    HELDOUT_SHARE of the samples is kept apart, because `why` (no test files, ...). A source smaller
    than MIN_IMAGES_TO_SPLIT comes back whole, with no held-out part."""
    n = len(source)
    if n < MIN_IMAGES_TO_SPLIT:
        return source
    held = math.ceil(n * HELDOUT_SHARE)
    order = seeded_order(n, seed)
    note = heldout_note(seed)
    train = source.take(order[held:].sort().values,
                        origin=f"{source.origin} [training part: {n - held:,} of {n:,}; {held:,} held out, {why}]")
    train.heldout = source.take(order[:held].sort().values,
                                origin=f"{source.origin} [{note}: {held:,} of {n:,} images, {why}]", split_note=note)
    return train


def heldout_part(train: DataSource) -> DataSource:
    """What stands in for the test split of a set without one: the carved held-out part, or, for a set
    too small to split, its training images, labelled so."""
    if train.heldout is not None:
        return train.heldout
    note = f"no held-out split: only {len(train)} images (fewer than {MIN_IMAGES_TO_SPLIT}), so the training images"
    return train.take(torch.arange(len(train)), origin=f"{train.origin} [{note}]", split_note=note)


def training_subset(source: DataSource, size: int, seed: int) -> DataSource:
    """The first `size` samples of a seeded permutation of `source` (all of it when size is 0 or at
    least its length); its held-out part, if any, stays attached."""
    n = len(source)
    if size == 0 or size >= n:
        return source
    subset = source.take(seeded_order(n, seed)[:size].sort().values,
                         origin=f"{source.origin} [training subset: {size:,} of {n:,} images, seed {seed}]")
    subset.heldout = source.heldout
    return subset
