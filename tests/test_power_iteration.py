"""The σ_max estimate converges to its stated tolerance, also when σ₂ is within 2 % or 0.5 % of σ₁ (the
spectrally normalized case), checked against torch.linalg.matrix_norm(ord=2)."""
import pytest
import torch

from genlab.metrics.layers import TOLERANCE, largest_singular_value


def with_singular_values(values: list[float], rows: int, cols: int, seed: int) -> torch.Tensor:
    """A rows × cols float32 matrix U diag(values) Vᵀ with random orthonormal U, V."""
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(rows, len(values), generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, len(values), generator=g, dtype=torch.float64))
    return ((u * torch.tensor(values, dtype=torch.float64)) @ v.T).float()


def exact_sigma(matrix: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(matrix.double(), ord=2))


def estimate(matrix: torch.Tensor, start: torch.Tensor, **kwargs):
    return largest_singular_value(lambda x: x @ matrix.T, lambda y: y @ matrix, start, **kwargs)


def spectra(ratio: float, seed: int) -> dict[str, list[float]]:
    g = torch.Generator().manual_seed(seed)
    return {
        "rest spread below": [1.0, ratio] + torch.linspace(0.9 * ratio, 0.05, 70).tolist(),
        "rest packed up to σ₂": [1.0, ratio] + (ratio * torch.rand(70, generator=g)).tolist(),
        "near-ties below σ₂": [1.0, ratio, ratio - 0.002, ratio - 0.004, ratio - 0.006]
        + torch.linspace(0.95 * ratio, 0.1, 60).tolist(),
    }


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ratio", [0.98, 0.995])
def test_close_top_singular_values_converge_to_the_tolerance(ratio, seed):
    for name, values in spectra(ratio, seed).items():
        matrix = 3.0 * with_singular_values(values, 90, 130, seed)
        exact = exact_sigma(matrix)
        start = torch.randn(8, 130, generator=torch.Generator().manual_seed(100 + seed))
        result = estimate(matrix, start)
        assert result.converged, name
        assert exact * (1 - TOLERANCE) <= result.sigma <= exact * (1 + 1e-6), (name, result.sigma, exact)


def test_a_flat_top_as_after_spectral_normalization():
    matrix = with_singular_values([1.0] + torch.linspace(0.999, 0.9, 40).tolist(), 90, 130, seed=5)
    for seed in range(4):
        result = estimate(matrix, torch.randn(8, 130, generator=torch.Generator().manual_seed(seed)))
        assert abs(result.sigma - exact_sigma(matrix)) <= TOLERANCE * exact_sigma(matrix)


def test_warm_start_follows_slowly_changing_weights_in_a_few_iterations():
    matrix = with_singular_values([1.0, 0.99] + torch.linspace(0.9, 0.1, 50).tolist(), 80, 100, seed=1)
    cold = estimate(matrix, torch.randn(8, 100, generator=torch.Generator().manual_seed(0)))
    g = torch.Generator().manual_seed(1)
    last = cold
    for _ in range(5):  # a training step's worth of change each time
        matrix = matrix + 1e-4 * torch.randn(matrix.shape, generator=g)
        last = estimate(matrix, last.vectors)
        assert last.converged and last.iterations < cold.iterations / 3
        assert abs(last.sigma - exact_sigma(matrix)) <= TOLERANCE * exact_sigma(matrix)


def test_the_iteration_cap_is_reported_and_the_next_call_carries_on():
    matrix = with_singular_values([1.0, 0.995] + torch.linspace(0.99, 0.5, 60).tolist(), 90, 130, seed=2)
    exact = exact_sigma(matrix)
    result = estimate(matrix, torch.randn(8, 130, generator=torch.Generator().manual_seed(0)), max_iterations=2)
    assert not result.converged and result.iterations == 2
    assert result.sigma < exact * (1 - TOLERANCE)  # two iterations are not enough here ...
    sigmas = [result.sigma]
    while not result.converged:
        result = estimate(matrix, result.vectors, max_iterations=2)
        sigmas.append(result.sigma)
    assert sigmas == sorted(sigmas)  # ... each call starts where the last one stopped
    assert abs(result.sigma - exact) <= TOLERANCE * exact


@pytest.mark.parametrize("values", [[2.0], [0.5, 0.0], [1.0, 1.0, 1.0]])
def test_degenerate_spectra(values):
    """Rank one, a zero singular value, and a top value repeated three times."""
    matrix = with_singular_values(values, 6, 5, seed=3)
    result = estimate(matrix, torch.randn(min(8, 5), 5, generator=torch.Generator().manual_seed(0)))
    assert result.converged and abs(result.sigma - max(values)) < 1e-5


def test_zero_map():
    result = estimate(torch.zeros(4, 3), torch.randn(3, 3))
    assert result.converged and result.sigma == 0.0
