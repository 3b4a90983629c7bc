"""VEEGAN/PacGAN mode metrics on samples with a known answer."""
import math

import torch

from genlab.metrics.modes import mode_metrics

MODES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def test_perfect_samples_cover_every_mode():
    samples = MODES.repeat(25, 1) + 0.001 * torch.randn(100, 2)
    result = mode_metrics(samples, MODES, mode_std=0.01)
    assert result["modes_covered"] == 4
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
    assert result["modes_covered"] == 4


def test_reverse_kl_of_an_uneven_histogram():
    samples = torch.cat([MODES[:1].repeat(3, 1), MODES[1:2]])  # q = (3/4, 1/4, 0, 0), p uniform 1/4
    expected = 0.75 * math.log(0.75 * 4) + 0.25 * math.log(0.25 * 4)
    assert math.isclose(mode_metrics(samples, MODES, 0.01)["reverse_kl"], expected, rel_tol=1e-9)
