"""Quality of any 2D point set: grid KL / JS (genlab.metrics.density2d) and precision / recall
(genlab.metrics.precision_recall), against hand-made cases and closed forms."""
from __future__ import annotations

import math

import pytest
import torch

from genlab.data.toy2d import GENERATORS, ring_modes
from genlab.metrics.density2d import (BINS, UNIFORM_SHARE, grid_box, grid_divergences, histogram, js_divergence,
                                      kl_divergence, smoothed)
from genlab.metrics.precision_recall import K_NEAREST, knn_radii, median_nearest_distance, precision_recall, share_inside


def draw(name: str, n: int, seed: int) -> torch.Tensor:
    return GENERATORS[name](n, torch.Generator().manual_seed(seed))


# --- grid divergences -------------------------------------------------------------------------------
def test_histogram_cells_by_hand():
    """Box [−0.1, 1.1]² with 2 × 2 cells: (0, 0) is cell 0, (1, 0) cell 1, (1, 1) cell 3; far away is outside."""
    box = grid_box(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    assert torch.allclose(box[0], torch.tensor([-0.1, -0.1], dtype=torch.float64))
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [1.05, 1.05], [5.0, 0.0], [0.2, -0.3]])
    shares = histogram(points, box, bins=2)
    assert shares.tolist() == pytest.approx([1 / 6, 1 / 6, 0, 2 / 6, 2 / 6])


def test_a_flat_real_set_still_gets_a_grid():
    box = grid_box(torch.tensor([[2.0, 1.0], [2.0, 3.0]]))  # x has no extent
    assert (box[1] > box[0]).all()
    assert grid_divergences(torch.tensor([[2.0, 1.0], [2.0, 3.0]]), torch.tensor([[2.0, 1.0]]))["grid_js"] >= 0


def test_identical_sets_read_zero():
    real = draw("moons", 2000, 0)
    assert grid_divergences(real, real.clone()) == {"grid_kl": 0.0, "grid_js": 0.0}


def test_disjoint_sets_read_log_2_and_the_largest_kl():
    real = draw("ring", 2000, 0)
    far = real + 100.0  # every generated point outside the real grid
    result = grid_divergences(real, far)
    assert result["grid_js"] == pytest.approx(math.log(2), abs=1e-12)
    # KL = Σ p log(p̃ / (s/K)) over the n real cells: at most log(K/s), at least log(K/s) − log n
    bound, occupied = math.log((BINS * BINS + 1) / UNIFORM_SHARE), int((histogram(real, grid_box(real)) > 0).sum())
    assert bound - math.log(occupied) - 0.05 < result["grid_kl"] < bound


def test_js_and_kl_of_a_hand_made_pair():
    """P = (½, 0, 0, ½, 0), Q = (½, ½, 0, 0, 0): M = (½, ¼, 0, ¼, 0), JS = ½ log 2."""
    real = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    generated = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    result = grid_divergences(real, generated, bins=2)
    assert result["grid_js"] == pytest.approx(0.5 * math.log(2))
    s, k = UNIFORM_SHARE, 5
    p = [(1 - s) * v + s / k for v in (0.5, 0, 0, 0.5, 0)]
    q = [(1 - s) * v + s / k for v in (0.5, 0.5, 0, 0, 0)]
    assert result["grid_kl"] == pytest.approx(sum(a * math.log(a / b) for a, b in zip(p, q)))


def test_kl_and_js_against_torch_distributions():
    p, q = torch.rand(30, dtype=torch.float64), torch.rand(30, dtype=torch.float64)
    p, q = p / p.sum(), q / q.sum()
    P, Q = torch.distributions.Categorical(probs=p), torch.distributions.Categorical(probs=q)
    assert kl_divergence(p, q) == pytest.approx(float(torch.distributions.kl_divergence(P, Q)))
    M = torch.distributions.Categorical(probs=0.5 * (p + q))
    expected = 0.5 * float(torch.distributions.kl_divergence(P, M) + torch.distributions.kl_divergence(Q, M))
    assert js_divergence(p, q) == pytest.approx(expected)
    assert float(smoothed(p).sum()) == pytest.approx(1.0) and float(smoothed(p).min()) > 0


def test_the_grid_divergences_order_real_collapsed_and_noise():
    real, fresh = draw("ring", 2500, 0), draw("ring", 2500, 1)
    collapsed = ring_modes()[0] + 0.01 * torch.randn(2500, 2, generator=torch.Generator().manual_seed(2))
    good, bad = grid_divergences(real, fresh), grid_divergences(real, collapsed)
    assert good["grid_js"] < 0.05 and bad["grid_js"] > 0.4
    assert good["grid_kl"] < 0.2 and bad["grid_kl"] > 5


# --- precision / recall -----------------------------------------------------------------------------
def test_knn_radii_by_hand():
    line = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [6.0, 0.0]])
    assert knn_radii(line, k=1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(line, k=2).tolist() == [3.0, 2.0, 3.0, 5.0]
    with pytest.raises(ValueError, match="more than k = 3 points, got 3"):
        knn_radii(line[:3], k=3)


def test_share_inside_counts_the_ball_boundary_in():
    centres, radii = torch.tensor([[0.0, 0.0], [10.0, 0.0]]), torch.tensor([1.0, 2.0])
    points = torch.tensor([[1.0, 0.0], [0.0, 1.01], [11.5, 0.0], [5.0, 5.0]])
    assert share_inside(points, centres, radii) == 0.5


def test_identical_sets_have_full_precision_and_recall():
    real = draw("spiral", 1500, 0)
    assert precision_recall(real, real.clone()) == {"precision": 1.0, "recall": 1.0}


def test_disjoint_sets_have_none():
    real = draw("moons", 1000, 0)
    assert precision_recall(real, real + 50.0) == {"precision": 0.0, "recall": 0.0}


def test_a_subset_has_high_precision_and_low_recall():
    """Generated = the real points of one ring mode: each is a real point (precision 1); the real points
    of the other 7 modes lie far from every generated ball (recall = that mode's share, ≈ 1/8)."""
    real = draw("ring", 2400, 0)
    nearest = torch.cdist(real, ring_modes()).argmin(dim=1)
    one_mode = real[nearest == 3]
    result = precision_recall(real, one_mode)
    assert result["precision"] == 1.0
    assert result["recall"] == pytest.approx(len(one_mode) / len(real)) and 0.08 < result["recall"] < 0.17


def test_noise_has_low_precision_on_the_ring():
    real = draw("ring", 2500, 0)
    noise = real.min(0).values + (real.max(0).values - real.min(0).values) * torch.rand(
        2500, 2, generator=torch.Generator().manual_seed(1))
    result = precision_recall(real, noise, k=K_NEAREST)
    assert result["precision"] < 0.05 and result["recall"] > 0.9


def test_given_real_radii_are_used():
    real, generated = draw("moons", 500, 0), draw("moons", 500, 1)
    assert precision_recall(real, generated, real_radii=knn_radii(real)) == precision_recall(real, generated)
    assert precision_recall(real, generated, real_radii=torch.zeros(500))["precision"] == 0.0


def test_median_nearest_distance_by_hand_and_by_brute_force():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    points = torch.tensor([[3.0, 4.0], [10.0, 1.0], [0.0, -2.0]])  # nearest distances 5, 1, 2
    assert median_nearest_distance(points, centres) == 2.0
    torch.manual_seed(0)
    many, others = torch.randn(5001, 2), torch.randn(3000, 2) * 2  # more rows than one chunk
    brute = (many[:, None, :] - others[None]).norm(dim=-1).min(1).values.sort().values[2500].item()
    assert median_nearest_distance(many, others) == pytest.approx(brute, rel=1e-5)
