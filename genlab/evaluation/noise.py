"""The noise evaluations draw: fresh from a seeded generator (on demand), or fixed per trainer (live)."""
from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import Tensor

EVAL_BATCH = 500
_LIVE: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def sample(trainer, n: int, generator: torch.Generator) -> Tensor:
    """n samples in data space from prior noise drawn with `generator` (CPU), in batches; on the CPU."""
    out = []
    for start in range(0, n, EVAL_BATCH):
        z = torch.randn(min(EVAL_BATCH, n - start), trainer.latent_dim, generator=generator)
        out.append(trainer.generate(z.to(trainer.device)).cpu())
    return torch.cat(out)


def live_state(trainer) -> dict[str, Any]:
    """Per-trainer fixed noise and reference numbers for the live metrics, made once (seeded from the
    run's seed, never from the trainer's own RNG, so measuring does not change training)."""
    state = _LIVE.get(trainer)
    if state is None:
        state = {"generator": torch.Generator().manual_seed(int(trainer.config.seed) + 7919)}
        _LIVE[trainer] = state
    return state


def fixed_noise(trainer, n: int) -> Tensor:
    """The same n latent vectors at every call for this trainer, on its device."""
    state = live_state(trainer)
    key = f"noise{n}"
    if key not in state:
        state[key] = torch.randn(n, trainer.latent_dim, generator=state["generator"]).to(trainer.device)
    return state[key]


def fixed_data_batch(trainer, key: str, n: int) -> Tensor:
    """The same n training examples at every call for this trainer (drawn once without replacement)."""
    state = live_state(trainer)
    if key not in state:
        index = torch.randperm(len(trainer.data), generator=state["generator"])[:n]
        state[key] = trainer.data.batch(index.to(trainer.data.device))
    return state[key]
