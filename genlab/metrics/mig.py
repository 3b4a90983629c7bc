"""Mutual information gap (MIG; Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

For each ground-truth factor v_k, the two code dimensions that share the most information with it:

    MIG = (1/K) Σ_k [ I(z_(1); v_k) − I(z_(2); v_k) ] / H(v_k)

1 when every factor is captured by exactly one code dimension (and fully), 0 when no dimension
stands out (or nothing is captured). As in disentanglement_lib (Locatello et al. 2019), each code
dimension is discretized into `n_bins` equal-width bins over its range and mutual information is that
of the discrete histogram (nats). Factors are discrete already (shapes: a lattice of values).

Binning caps what a perfect code can score: a factor with more values than bins (shapes' 32 positions
and 40 rotations into 20 bins) loses part of its entropy, so a code equal to the factors scores about
0.9 with 20 bins and about 1 with bins ≥ the number of factor values. Use the same n_bins to compare runs.

On shapes, rotation is partly unidentifiable from the image (a square repeats every 90°, an ellipse every
180°), so its gap stays low even for good models; the per-factor gaps are reported for that reason.

Measure β = 1 against β = 4 (same seed, steps and architecture) with genlab.experiments.mig_betas:

    python -m genlab.experiments.mig_betas compare --betas 1 4 --steps 3000
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

DEFAULT_BINS = 20
DEFAULT_EXAMPLES = 10_000


def discretize(codes: Tensor, n_bins: int = DEFAULT_BINS) -> Tensor:
    """(N, d) codes -> (N, d) bin indices in [0, n_bins), equal-width bins over each column's range."""
    codes = codes.detach().double().cpu()
    low, high = codes.min(0).values, codes.max(0).values
    width = (high - low).clamp_min(1e-12) / n_bins
    return ((codes - low) / width).floor().long().clamp_(0, n_bins - 1)


def factor_indices(factors: Tensor) -> Tensor:
    """(N, K) factor values -> (N, K) indices of each value among its column's distinct values."""
    factors = factors.detach().cpu()
    return torch.stack([torch.unique(col, return_inverse=True)[1] for col in factors.T], 1)


def entropy(labels: Tensor) -> float:
    """H of a discrete variable from its samples (nats)."""
    p = torch.bincount(labels).double()
    p = p[p > 0] / len(labels)
    return float(-(p * p.log()).sum())


def mutual_information(a: Tensor, b: Tensor) -> float:
    """I(a; b) of two discrete variables from paired samples (nats)."""
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    joint = torch.bincount(a * nb + b, minlength=na * nb).double().reshape(na, nb) / len(a)
    pa, pb = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    nz = joint > 0
    return float((joint[nz] * (joint[nz] / (pa * pb).expand_as(joint)[nz]).log()).sum())


def mutual_info_gap(codes: Tensor, factors: Tensor, factor_names: Sequence[str] | None = None,
                    n_bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """MIG of (N, d) codes against (N, K) discrete factors.

    Returns {"mig": mean gap over factors with H > 0, "mig/<factor>": each normalized gap,
    "mi": d x K mutual informations (nats), "factor_entropy": H(v_k) per factor, "n_bins", "n"}.
    """
    if codes.dim() != 2 or factors.dim() != 2 or len(codes) != len(factors):
        raise ValueError(f"need codes (N, d) and factors (N, K); got {tuple(codes.shape)} and {tuple(factors.shape)}")
    names = list(factor_names) if factor_names is not None else [f"factor_{k}" for k in range(factors.shape[1])]
    binned, values = discretize(codes, n_bins), factor_indices(factors)
    mi = [[mutual_information(binned[:, j], values[:, k]) for k in range(values.shape[1])] for j in range(binned.shape[1])]
    mi_t = torch.tensor(mi, dtype=torch.float64).reshape(binned.shape[1], values.shape[1])
    result: dict[str, Any] = {}
    gaps, entropies = [], []
    for k, name in enumerate(names):
        h = entropy(values[:, k])
        entropies.append(h)
        if h <= 0:
            continue  # a constant factor carries no information to capture
        top = torch.sort(mi_t[:, k], descending=True).values
        second = float(top[1]) if len(top) > 1 else 0.0
        gap = (float(top[0]) - second) / h
        result[f"mig/{name}"] = gap
        gaps.append(gap)
    result = {"mig": sum(gaps) / len(gaps) if gaps else 0.0, **result}
    result.update({"mi": mi_t.tolist(), "factor_entropy": entropies, "factor_names": names,
                   "n_bins": n_bins, "n": len(codes)})
    return result


@torch.no_grad()
def trainer_mig(trainer, n_examples: int = DEFAULT_EXAMPLES, n_bins: int = DEFAULT_BINS,
                split: str = "test") -> dict[str, Any]:
    """MIG of a VAE's posterior means E[z|x] on `n_examples` fresh examples of a data set with factors (shapes)."""
    from genlab.data import load_data

    cfg = trainer.config.data
    if cfg.name == "shapes":
        cfg = dataclasses.replace(cfg, n_samples=n_examples)
    data = load_data(cfg, "cpu", seed=trainer.config.seed, split=split)
    if data.factors is None:
        raise ValueError(f"data set {data.name!r} has no ground-truth factors; MIG needs them (use shapes)")
    n = min(n_examples, len(data))
    codes = torch.cat([trainer.encode(data.batch(torch.arange(s, min(s + 1000, n)))).cpu() for s in range(0, n, 1000)])
    return mutual_info_gap(codes, data.factors[: len(codes)].cpu(), data.factor_names, n_bins)
