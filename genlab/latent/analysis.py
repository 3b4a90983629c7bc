"""What a run's latent space looks like, measured once per run: KL per dimension and the traversal
order it gives, how each dimension follows the data's ground-truth factors, a PCA map of the codes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.latent.model import ExploreData, LatentModel, encode_data, explore_data
from genlab.losses import kl_standard_normal

REFERENCE_POINTS = 1000  # data points drawn under a 2D model's decoded points


def kl_from_history(history: dict[str, list[float]], latent_dim: int) -> Tensor | None:
    """The last recorded per-dimension KL of training (metrics "kl/dim_<i>"), when data is not at hand."""
    values = []
    for i in range(latent_dim):
        series = [v for v in history.get(f"kl/dim_{i}", []) if math.isfinite(v)]
        if not series:
            return None
        values.append(series[-1])
    return torch.tensor(values)


def traversal_order(kl: Tensor | None, latent_dim: int) -> list[int]:
    """Dimensions by decreasing KL (most informative first; ties by index), or index order without KL (GAN)."""
    if kl is None:
        return list(range(latent_dim))
    kl = torch.as_tensor(kl, dtype=torch.float64)
    return sorted(range(latent_dim), key=lambda i: (-float(kl[i]), i))


def model_kl(model: LatentModel, data: ExploreData | None) -> Tensor | None:
    """Per-dimension KL of a VAE measured on data (else from its training history); None for a GAN."""
    if not model.has_encoder:
        return None
    if data is not None:
        encode_data(model, data)
        return kl_standard_normal(data.mu, data.logvar).mean(0)
    return kl_from_history(model.history, model.latent_dim)


def factor_association(mu: Tensor, factors: Tensor, factor_names: Sequence[str]) -> Tensor:
    """(d, k) how strongly each latent dimension follows each ground-truth factor, in [0, 1].

    Continuous factors: |Pearson correlation| with the latent mean. "rotation" is an angle, so the
    larger of the correlations with its sine and cosine. "shape" is categorical: the correlation ratio
    η = sqrt(between-class variance / total variance) of the latent given the class.
    """
    mu = mu.double()
    out = torch.zeros(mu.shape[1], len(factor_names), dtype=torch.float64)

    def abs_corr(x: Tensor, y: Tensor) -> Tensor:  # x (N, d), y (N,) -> (d,)
        xc, yc = x - x.mean(0), y - y.mean()
        denom = xc.norm(dim=0) * yc.norm()
        return torch.where(denom > 0, (xc * yc[:, None]).sum(0).abs() / denom.clamp_min(1e-12), torch.zeros(()))

    for j, name in enumerate(factor_names):
        f = factors[:, j].double()
        if name == "rotation":
            out[:, j] = torch.maximum(abs_corr(mu, torch.sin(f)), abs_corr(mu, torch.cos(f)))
        elif name == "shape":
            total = ((mu - mu.mean(0)) ** 2).sum(0)
            between = torch.zeros(mu.shape[1], dtype=torch.float64)
            for value in torch.unique(f):
                group = mu[f == value]
                between += len(group) * (group.mean(0) - mu.mean(0)) ** 2
            out[:, j] = torch.where(total > 0, (between / total.clamp_min(1e-12)).sqrt(), torch.zeros(()))
        else:
            out[:, j] = abs_corr(mu, f)
    return out.float()


def describe_dims(kl: Tensor | None, association: Tensor | None, factor_names: Sequence[str],
                  dims: Sequence[int], min_kl: float = 0.05) -> list[str]:
    """A label per traversal row, e.g. "z3 · KL 2.41 · pos_x (0.93)"; an inactive dimension says so."""
    labels = []
    for dim in dims:
        parts = [f"z{dim}"]
        if kl is not None:
            parts.append(f"KL {float(kl[dim]):.2f}")
        if kl is not None and float(kl[dim]) < min_kl:
            parts.append("inactive (posterior ≈ prior)")
        elif association is not None and len(factor_names):
            best = int(torch.argmax(association[dim]))
            parts.append(f"{factor_names[best]} ({float(association[dim, best]):.2f})")
        labels.append(" · ".join(parts))
    return labels


def pca_2d(x: Tensor) -> tuple[Tensor, Tensor]:
    """Project (N, d) rows on their first two principal components -> ((N, 2), explained variance ratio (2,)).

    Exact SVD of the centred data (N is a few thousand, d ≤ 512). Signs are fixed (each component's
    largest loading positive) so the map does not flip between runs. d = 1 gives a zero second axis.
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"PCA needs a (N ≥ 2, d) matrix, got shape {tuple(x.shape)}")
    centred = x - x.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    k = min(2, vh.shape[0])
    components = vh[:k]
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
    coords = centred @ components.T
    variance = s.pow(2)
    ratio = variance[:k] / variance.sum().clamp_min(1e-300)
    if k < 2:
        coords = torch.cat([coords, torch.zeros(len(x), 2 - k, dtype=coords.dtype)], dim=1)
        ratio = torch.cat([ratio, torch.zeros(2 - k, dtype=ratio.dtype)])
    return coords.float(), ratio.float()


@dataclass
class Analysis:
    """Everything about a run's latent space that does not change while the user explores it."""

    data: ExploreData | None  # None when the run's data set is not available here
    kl: Tensor | None  # (d,) per-dimension KL (VAE)
    order: list[int]  # traversal order: decreasing KL for a VAE, index order for a GAN
    association: Tensor | None  # (d, k) factor_association with the data's ground-truth factors
    pca: Tensor | None  # (N, 2) encoded data on its first two principal components (VAE)
    pca_ratio: Tensor | None  # (2,) explained variance ratio of those components

    @property
    def reference(self) -> Tensor | None:
        """Up to REFERENCE_POINTS data points to draw a 2D model's output over; None for images."""
        data = self.data
        return data.x[:REFERENCE_POINTS] if data is not None and data.x.dim() == 2 else None


def analyse(model: LatentModel, data: ExploreData | None) -> Analysis:
    """Encode the exploration data once: KL per dimension, traversal order, factor association, PCA."""
    kl = model_kl(model, data)
    association = pca = ratio = None
    if model.has_encoder and data is not None:
        if data.factors is not None and len(data.factor_names):
            association = factor_association(data.mu, data.factors, data.factor_names)
        if len(data.mu) >= 2:
            pca, ratio = pca_2d(data.mu)
    return Analysis(data, kl, traversal_order(kl, model.latent_dim), association, pca, ratio)


def analyse_run(model: LatentModel) -> Analysis:
    """analyse with the run's own data when it helps: a VAE encodes it, a 2D model is drawn over it."""
    wants_data = model.has_encoder or model.data_kind == "points"
    return analyse(model, explore_data(model.config) if wants_data else None)
