"""Mutual information gap against known factors."""
import math

import pytest
import torch

from genlab.data.shapes import FACTOR_NAMES, sample_factors
from genlab.metrics.mig import discretize, entropy, mutual_info_gap, mutual_information

N = 10_000


@pytest.fixture(scope="module")
def factors():
    return sample_factors(N, seed=1)  # shapes' lattice: 3 shapes, 6 scales, 40 rotations, 32 x 32 positions


def test_code_equal_to_factors_scores_about_one(factors):
    # with at least as many bins as any factor has values, nothing is lost to binning
    fine = mutual_info_gap(factors, factors, FACTOR_NAMES, n_bins=40)
    assert fine["mig"] > 0.97
    assert all(fine[f"mig/{name}"] > 0.97 for name in FACTOR_NAMES)
    # at the default 20 bins, 32 positions and 40 rotations share bins: a known ceiling below 1
    default = mutual_info_gap(factors, factors, FACTOR_NAMES)
    assert 0.85 < default["mig"] < fine["mig"]
    assert default["mig/shape"] > 0.99 and default["mig/scale"] > 0.99


def test_a_permuted_rescaled_code_with_nuisance_dims_scores_the_same(factors):
    g = torch.Generator().manual_seed(0)
    code = torch.cat([3.0 * factors - 1.0, torch.randn(N, 5, generator=g)], 1)[:, torch.randperm(10, generator=g)]
    assert mutual_info_gap(code, factors, FACTOR_NAMES, n_bins=40)["mig"] > 0.97


def test_random_codes_score_about_zero(factors):
    g = torch.Generator().manual_seed(0)
    assert mutual_info_gap(torch.randn(N, 10, generator=g), factors, FACTOR_NAMES)["mig"] < 0.02


def test_a_factor_split_over_two_dims_has_no_gap(factors):
    """Two identical copies of each factor: fully captured but not by ONE dimension, so the gap is 0."""
    code = torch.cat([factors, factors], 1)
    assert mutual_info_gap(code, factors, FACTOR_NAMES)["mig"] < 1e-9


def test_entangled_code_scores_low(factors):
    """A rotation of the (standardized) factors mixes them all into every dimension."""
    z = (factors - factors.mean(0)) / factors.std(0)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(2)))
    assert mutual_info_gap(z @ q, factors, FACTOR_NAMES)["mig"] < 0.3


def test_information_quantities_against_closed_forms():
    a = torch.arange(8).repeat(100)  # uniform over 8 values
    assert entropy(a) == pytest.approx(math.log(8))
    assert mutual_information(a, a) == pytest.approx(math.log(8))
    assert mutual_information(a, a % 2) == pytest.approx(math.log(2))  # knowing a tells the parity: 1 bit
    b = torch.arange(800) // 80  # each block of 80 holds every value of a 10 times: independent
    assert mutual_information(a, b) == pytest.approx(0.0, abs=1e-12)


def test_discretize_uses_equal_width_bins_over_each_range():
    codes = torch.tensor([[0.0, 5.0], [0.5, 5.0], [1.0, 5.0]])
    assert discretize(codes, 4).tolist() == [[0, 0], [2, 0], [3, 0]]  # constant column: one bin
