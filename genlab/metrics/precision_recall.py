"""Precision and recall for distributions (Kynkäänniemi et al. 2019), here on 2D points themselves.

Each set stands for its distribution's support as the union of balls around its points, each ball
reaching the point's k-th nearest neighbour within its own set (k = K_NEAREST = 3, the paper's choice):

- precision: share of generated points inside the real set's balls (how many samples look real);
- recall: share of real points inside the generated set's balls (how much of the data is produced).

A generator stuck on one of 8 modes reads precision ≈ 1, recall ≈ 1/8; one spraying noise reads
precision ≈ 0. Both need each set to hold more than k points.

Beside them, in the data's own units: the median distance from a generated point to its nearest real
point (how far samples land from the data, e.g. from the points a user drew).
"""
from __future__ import annotations

import torch
from torch import Tensor

K_NEAREST = 3
CHUNK = 2048  # rows of a distance matrix held at once: memory stays O(CHUNK · N)


def knn_radii(points: Tensor, k: int = K_NEAREST) -> Tensor:
    """Distance from each point to its k-th nearest other point of the same set, shape (N,)."""
    if len(points) <= k:
        raise ValueError(f"the k-nearest-neighbour balls need more than k = {k} points, got {len(points)}")
    radii = [torch.cdist(block, points).topk(k + 1, dim=1, largest=False).values[:, -1]  # +1: the point itself
             for block in points.split(CHUNK)]
    return torch.cat(radii)


def share_inside(points: Tensor, centres: Tensor, radii: Tensor) -> float:
    """Share of `points` within radii[j] of some centres[j]."""
    inside = [(torch.cdist(block, centres) <= radii).any(dim=1) for block in points.split(CHUNK)]
    return float(torch.cat(inside).double().mean())


def median_nearest_distance(points: Tensor, centres: Tensor) -> float:
    """median_i min_j ‖points_i − centres_j‖."""
    # direct differences: the matmul form loses float32 digits, and a distance here is read as a number
    nearest = [torch.cdist(block, centres, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values
               for block in points.split(CHUNK)]
    return float(torch.cat(nearest).median())


def precision_recall(real: Tensor, generated: Tensor, k: int = K_NEAREST,
                     real_radii: Tensor | None = None) -> dict[str, float]:
    """Precision and recall of `generated` against `real` (both (N, 2)); `real_radii` may be given when
    the same real set is scored again (knn_radii(real, k))."""
    real, generated = real.detach().float().cpu(), generated.detach().float().cpu()
    if real_radii is None:
        real_radii = knn_radii(real, k)
    return {"precision": share_inside(generated, real, real_radii),
            "recall": share_inside(real, generated, knn_radii(generated, k))}
