"""A saved run ready for inference (decode, encode) and a sample of its data set to explore with.

A `LatentModel` wraps a loaded run for inference only: its networks are put in eval mode once (so
BatchNorm uses running statistics and a one-image batch works) and a lock serializes calls, because
one cached model is shared by every browser tab of the server.

Decoded data comes back on the CPU in data space: images (B, C, H, W) in [0, 1], points (B, 2).
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.threads import single_threaded

EXPLORE_SAMPLES = 2048  # data samples encoded for KL ordering, factor association and the PCA map
# Batches up to this size run on the calling thread alone (see genlab.threads.single_threaded).
SMALL_BATCH = 64


def _threads_for(batch: int):
    return single_threaded() if batch <= SMALL_BATCH else contextlib.nullcontext()


class LatentModel:
    """A trained generator (GAN) or VAE, ready to decode and encode; thread-safe, eval mode only."""

    def __init__(self, trainer: Any, history: dict[str, list[float]] | None = None):
        self.trainer = trainer
        self.history = history or {}  # the run's metrics: per-dimension KL when its data is not at hand
        self.config = trainer.config
        self.family = trainer.config.model.family
        self.latent_dim = int(trainer.latent_dim)
        self.data_kind = trainer.data.kind
        self.data_shape = tuple(trainer.data_shape)
        self.lock = threading.Lock()
        # every network the trainer holds (also ones outside `networks`, e.g. a GAN's EMA generator) goes to
        # eval mode for good: the trainer's eval_mode() blocks then restore eval, never train
        modules = list(trainer.networks.values())
        modules += [m for m in vars(trainer).values() if isinstance(m, torch.nn.Module)]
        for net in modules:
            net.eval()
            net.requires_grad_(False)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = "cpu") -> LatentModel:
        """Load a saved run without its data set (exploration data is loaded separately, see explore_data)."""
        from genlab.runs import load_run

        loaded = load_run(Path(path), device=device, load_data=False)
        return cls(loaded.trainer, loaded.history)

    @property
    def has_encoder(self) -> bool:
        return self.family == "vae"

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """(B, d) or (d,) latents -> (B, *data_shape) CPU float32 in data space."""
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, self.latent_dim)
        with self.lock, _threads_for(len(z)):
            out = self.trainer.generate(z)
        return out.detach().float().cpu()

    @torch.no_grad()
    def encode_stats(self, x: Tensor, batch_size: int = 512) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance (B, d) each of data-space inputs (VAE only)."""
        if not self.has_encoder:
            raise ValueError("a GAN has no encoder: only a VAE can encode images into its latent space")
        mus, logvars = [], []
        device = self.trainer.device
        with self.lock, _threads_for(len(x)):
            for start in range(0, len(x), batch_size):
                chunk = x[start : start + batch_size].to(device, torch.float32)
                mu, logvar = self.trainer.vae.encode(self.trainer.model_space(chunk))
                mus.append(mu.float().cpu())
                logvars.append(logvar.float().cpu())
        return torch.cat(mus), torch.cat(logvars)

    def encode(self, x: Tensor) -> Tensor:
        """Posterior means (B, d) (VAE only)."""
        return self.encode_stats(x)[0]


def run_stamp(path: str | os.PathLike) -> str:
    """Changes whenever the run folder is replaced or renamed: a cache key for a loaded run."""
    from genlab.runs import META_FILE, WEIGHTS_FILE

    path = Path(path)
    parts = [str(path.resolve())]
    for fname in (META_FILE, WEIGHTS_FILE):
        try:
            stat = (path / fname).stat()
            parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
        except OSError:
            parts.append("-")
    return "|".join(parts)


@dataclass
class ExploreData:
    """A sample of the run's data set for exploring: images/points, labels, factors, their encodings."""

    x: Tensor  # float32 data space, CPU: (N, C, H, W) in [0, 1] or (N, 2)
    labels: Tensor | None
    factors: Tensor | None
    factor_names: tuple[str, ...]
    class_names: tuple[str, ...]
    origin: str
    mu: Tensor | None = None  # (N, d) posterior means (VAE)
    logvar: Tensor | None = None

    @property
    def is_images(self) -> bool:
        return self.x.dim() == 4

    def describe(self, index: int) -> str:
        """One sample in words, e.g. "#12 · heart · scale 0.80 · pos_x 0.31" (class, then factors)."""
        parts = [f"#{index}"]
        if self.labels is not None and self.class_names:
            parts.append(self.class_names[int(self.labels[index])])
        if self.factors is not None:
            parts += [f"{name} {float(v):.2f}" for name, v in zip(self.factor_names, self.factors[index])
                      if name != "shape"]
        return " · ".join(parts)


def explore_data(config: Any, n: int = EXPLORE_SAMPLES, seed: int = 0) -> ExploreData | None:
    """Up to n samples of the run's data set (held-out split when there is one), or None if unavailable.

    Synthetic sets are drawn with only n samples (cheap); standard sets are subsampled. Data uploaded
    in the app is not stored with a run, so its runs come back None (random endpoints still work).
    """
    from genlab.config import ConfigError
    from genlab.data import DataUnavailableError, load_data

    data_cfg = config.data
    if data_cfg.name in ("shapes",) or data_cfg.is_2d:
        data_cfg = config.replace(**{"data.n_samples": max(16, min(n, data_cfg.n_samples))}).data
    try:
        source = load_data(data_cfg, "cpu", seed=config.seed, split="test")
    except (DataUnavailableError, ConfigError, OSError, ValueError):
        return None
    count = len(source)
    if count > n:
        idx = torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n].sort().values
    else:
        idx = torch.arange(count)
    return ExploreData(
        x=source.batch(idx).cpu(),
        labels=None if source.labels is None else source.labels[idx].cpu(),
        factors=None if source.factors is None else source.factors[idx].cpu(),
        factor_names=tuple(source.factor_names),
        class_names=tuple(source.class_names),
        origin=source.origin,
    )


def encode_data(model: LatentModel, data: ExploreData) -> ExploreData:
    """Fill data.mu / data.logvar with the VAE's posterior of every sample (no-op for a GAN)."""
    if model.has_encoder and data.mu is None:
        data.mu, data.logvar = model.encode_stats(data.x)
    return data
