"""Mode metrics for 2D mixtures, following the VEEGAN / PacGAN protocol."""
from __future__ import annotations

import math

import torch
from torch import Tensor


def mode_metrics(samples: Tensor, modes: Tensor, mode_std: float, min_count: int = 1) -> dict[str, float]:
    """Quality of generated 2D samples against a mixture of equal-weight Gaussians.

    - a sample is high quality if it lies within 3σ of its nearest mode;
    - a mode is covered if at least `min_count` high-quality samples are nearest to it;
    - reverse KL = Σ_i q_i log(q_i / p_i), with q the histogram of high-quality samples over modes
      and p uniform (1/M); 0 when every mode gets the same share, log M when all fall on one mode.
    """
    samples = samples.detach().float().cpu()
    modes = modes.detach().float().cpu()
    distances = torch.cdist(samples, modes)  # (N, M)
    nearest_distance, nearest_mode = distances.min(dim=1)
    high_quality = nearest_distance <= 3.0 * mode_std
    counts = torch.bincount(nearest_mode[high_quality], minlength=modes.shape[0]).double()
    covered = int((counts >= min_count).sum())
    n_high_quality = float(counts.sum())
    if n_high_quality > 0:
        q = counts / n_high_quality
        nonzero = q > 0
        reverse_kl = float((q[nonzero] * (q[nonzero] * modes.shape[0]).log()).sum())
    else:
        reverse_kl = math.log(modes.shape[0])
    return {
        "modes_covered": covered,
        "modes_total": int(modes.shape[0]),
        "high_quality_fraction": float(high_quality.float().mean()) if len(samples) else 0.0,
        "reverse_kl": reverse_kl,
    }
