"""VEEGAN/PacGAN mode metrics on samples with a known answer."""
import math

import pytest
import torch

from genlab.data import toy2d
from genlab.metrics.modes import covered_mode_threshold, mode_metrics, reverse_kl_to_uniform

MODES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
N = 2500  # the protocol's sample count


def test_perfect_samples_cover_every_mode():
    samples = MODES.repeat(25, 1) + 0.001 * torch.randn(100, 2)
    result = mode_metrics(samples, MODES, mode_std=0.01)
    assert result["modes_covered"] == 4 and result["modes_with_any_high_quality_sample"] == 4
    assert result["high_quality_fraction"] == 1.0
    assert result["reverse_kl"] < 1e-9


def test_collapsed_samples_cover_one_mode():
    samples = MODES[:1].repeat(50, 1)
    result = mode_metrics(samples, MODES, mode_std=0.01)
    assert result["modes_covered"] == 1
    assert math.isclose(result["reverse_kl"], math.log(4), rel_tol=1e-9)


def test_far_samples_are_low_quality():
    samples = torch.cat([MODES, torch.full((4, 2), 0.5)])  # half exactly on modes, half off (0.5, 0.5)
    result = mode_metrics(samples, MODES, mode_std=0.01)
    assert result["high_quality_fraction"] == 0.5
    assert result["modes_covered"] == 4  # 8 samples, 4 modes: the bar is 0.5 sample, one suffices


def test_a_mode_needs_a_quarter_of_its_share_of_all_samples():
    # 100 samples over 4 modes: the bar is 100 / 16 = 6.25 high-quality samples
    assert covered_mode_threshold(100, 4) == 6.25
    samples = torch.cat([MODES[:1].repeat(7, 1), MODES[1:2].repeat(6, 1), torch.full((87, 2), 0.5)])
    result = mode_metrics(samples, MODES, mode_std=0.01)
    assert result["modes_covered"] == 1
    assert result["modes_with_any_high_quality_sample"] == 2
    assert math.isclose(result["high_quality_fraction"], 0.13, rel_tol=1e-6)


def test_reverse_kl_of_an_uneven_histogram():
    samples = torch.cat([MODES[:1].repeat(3, 1), MODES[1:2]])  # q = (3/4, 1/4, 0, 0), p uniform 1/4
    expected = 0.75 * math.log(0.75 * 4) + 0.25 * math.log(0.25 * 4)
    assert math.isclose(mode_metrics(samples, MODES, 0.01)["reverse_kl"], expected, rel_tol=1e-9)


@pytest.mark.parametrize(("counts", "expected"), [
    ([5, 5, 5, 5], 0.0),
    ([9, 0, 0, 0], math.log(4)),  # all on one mode: the largest value
    ([2, 2, 0, 0], math.log(2)),  # m of K modes, evenly: log(K / m)
    ([1, 1, 1, 0, 0, 0, 0, 0], math.log(8 / 3)),
    ([3, 1, 0, 0], 0.75 * math.log(3.0) + 0.25 * math.log(1.0)),
    ([6, 3, 1], 0.6 * math.log(1.8) + 0.3 * math.log(0.9) + 0.1 * math.log(0.3)),
    ([0, 0, 0, 0, 0], math.log(5)),  # no high-quality sample: the worst value, by convention
])
def test_reverse_kl_closed_forms(counts, expected):
    assert math.isclose(reverse_kl_to_uniform(torch.tensor(counts)), expected, rel_tol=1e-12, abs_tol=1e-15)


def _noise_collapsed_real(dataset: str, seed: int):
    """Three generators for one PacGAN mixture: uniform noise over the real samples' bounding box, a
    generator collapsed onto the first two modes, and the real distribution."""
    make_modes, std = toy2d.MODES[dataset]
    modes = make_modes()
    g = torch.Generator().manual_seed(seed)
    real = getattr(toy2d, dataset)(N, g)
    low, high = real.min(dim=0).values, real.max(dim=0).values
    noise = low + (high - low) * torch.rand(N, 2, generator=g)
    collapsed = modes[torch.randint(0, 2, (N,), generator=g)] + std * torch.randn(N, 2, generator=g)
    return modes, std, {name: mode_metrics(x, modes, std)
                        for name, x in (("noise", noise), ("collapsed", collapsed), ("real", real))}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dataset", ["ring", "grid"])
def test_noise_collapse_and_real_data_are_told_apart(dataset, seed):
    modes, _, result = _noise_collapsed_real(dataset, seed)
    k = len(modes)
    noise, collapsed, real = result["noise"], result["collapsed"], result["real"]
    # modes covered: none / the two it sits on / all
    assert noise["modes_covered"] == 0 and collapsed["modes_covered"] == 2 and real["modes_covered"] == k
    # high-quality fraction: a few percent for noise; both mode-bound generators near 98.9 %
    assert noise["high_quality_fraction"] < 0.05
    assert collapsed["high_quality_fraction"] > 0.95 and real["high_quality_fraction"] > 0.95
    # reverse KL: sampling noise only for the real data; near log(K/2) for the collapse; noise's few
    # good samples land evenly, so it reads low but still well above the real data's
    assert real["reverse_kl"] < 0.01
    assert 0.04 < noise["reverse_kl"] < 0.5 * math.log(k / 2)
    assert abs(collapsed["reverse_kl"] - math.log(k / 2)) < 0.01
    # the single-sample count is what noise fools: it reads most modes
    assert noise["modes_with_any_high_quality_sample"] >= k // 2
