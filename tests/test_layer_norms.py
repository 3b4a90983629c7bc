"""Per-layer norms: the reshaped-kernel σ against an exact SVD, and the operator norm of a convolution
against the largest singular value of its dense matrix, built by applying the layer to basis images."""
import math

import pytest
import torch
from torch import nn

from genlab.metrics.layers import TOLERANCE, LayerNormTracker, convolution_maps
from genlab.models.spectral import apply_spectral_norm


def exact_sigma(weight: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1).double(), ord=2))


def close(estimate: float, exact: float) -> bool:
    """Within the tolerance, and never above the exact value (a power iteration approaches from below)."""
    return exact * (1 - TOLERANCE) <= estimate <= exact * (1 + 1e-6)


def test_tracker_matches_svd_and_follows_changing_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 400), nn.LeakyReLU(), nn.Conv2d(3, 8, 4), nn.ConvTranspose2d(8, 4, 4))
    tracker = LayerNormTracker()
    for _ in range(5):  # weights drift like a training run; the kept vectors follow them
        stats = tracker(net, "net")
        assert close(stats["spectral_norm/net/0"], exact_sigma(net[0].weight.detach()))
        assert close(stats["spectral_norm/net/2"], exact_sigma(net[2].weight.detach()))
        assert close(stats["spectral_norm/net/3"], exact_sigma(net[3].weight.detach().transpose(0, 1)))
        assert stats["operator_norm/net/0"] == stats["spectral_norm/net/0"]  # a Linear layer's operator norm
        assert stats["weight_norm/net/0"] == pytest.approx(float(net[0].weight.detach().norm()), rel=1e-6)
        assert stats["power_iteration_unconverged/net"] == 0.0
        # this stack cannot run a forward pass, so the convolutions never showed their input size
        assert "operator_norm/net/2" not in stats and "operator_norm/net/3" not in stats
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.003 * torch.randn_like(p))


def dense_operator(layer: nn.Module, input_size: tuple[int, int, int]) -> torch.Tensor:
    """The layer's linear part as a matrix: column i is layer(e_i) − layer(0), e_i the i-th basis image."""
    n = math.prod(input_size)
    with torch.no_grad():
        basis = torch.eye(n, dtype=torch.float64).reshape(n, *input_size)
        layer = layer.double()
        columns = layer(basis) - layer(torch.zeros(1, *input_size, dtype=torch.float64))
        layer.float()
    return columns.reshape(n, -1).T


CONVOLUTIONS = [  # (layer, input size (C, H, W)): strides that skip the last rows, padding, dilation, groups
    (lambda: nn.Conv2d(3, 5, 4, stride=2, padding=1), (3, 8, 8)),
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding=1), (2, 7, 9)),
    (lambda: nn.Conv2d(2, 6, 3, stride=3, padding=2, dilation=2), (2, 10, 8)),
    (lambda: nn.Conv2d(4, 6, 3, stride=1, padding=1, groups=2), (4, 6, 6)),
    (lambda: nn.Conv2d(1, 3, (2, 3), stride=(1, 2), padding=(0, 1)), (1, 7, 7)),
    (lambda: nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1), (4, 5, 5)),
    (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (3, 4, 6)),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2, padding=2, dilation=2, groups=2), (4, 5, 4)),
]


@pytest.mark.parametrize(("make_layer", "input_size"), CONVOLUTIONS)
def test_operator_norm_of_a_convolution_matches_its_dense_matrix(make_layer, input_size):
    torch.manual_seed(1)
    layer = make_layer()
    net = nn.Sequential(layer)
    tracker = LayerNormTracker()
    tracker.watch(net)
    net(torch.randn(2, *input_size))  # the forward pass records the input size
    stats = tracker(net, "net")
    dense = dense_operator(layer, input_size)
    assert close(stats["operator_norm/net/0"], float(torch.linalg.matrix_norm(dense, ord=2)))
    reshaped = layer.weight.detach().transpose(0, 1) if isinstance(layer, nn.ConvTranspose2d) else layer.weight.detach()
    assert close(stats["spectral_norm/net/0"], exact_sigma(reshaped))


@pytest.mark.parametrize(("make_layer", "input_size"), CONVOLUTIONS)
def test_the_adjoint_is_the_transpose(make_layer, input_size):
    """⟨A x, y⟩ = ⟨x, Aᵀ y⟩, and A x is the layer's output without its bias."""
    torch.manual_seed(2)
    layer = make_layer()
    apply, adjoint = convolution_maps(layer, input_size)
    x = torch.randn(3, *input_size, dtype=torch.float64)
    with torch.no_grad():
        ax = apply(x.float()).double()
        assert torch.allclose(ax, layer(x.float()).double() - layer.bias.double().view(1, -1, 1, 1), atol=1e-5)
        y = torch.randn(ax.shape, dtype=torch.float64)
        aty = adjoint(y.float()).double()
    assert aty.shape == x.shape
    assert torch.allclose((ax * y).sum(dim=(1, 2, 3)), (x * aty).sum(dim=(1, 2, 3)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("smooth", [False, True])
def test_spectral_normalization_bounds_the_kernel_not_the_convolution(smooth):
    """What the Home page says: after spectral normalization the reshaped kernel has σ = 1, while a 4×4
    stride-2 convolution stretches its input by more, by at most ⌈k/s⌉ = 2, and by nearly 2 when the
    kernel is smooth (a constant kernel maps a constant image to one ~2× longer)."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(3, 16, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(16, 32, 4, 2, 1))
    if smooth:
        with torch.no_grad():
            for layer in (net[0], net[2]):
                layer.weight.copy_(1.0 + 0.01 * torch.randn_like(layer.weight))
    apply_spectral_norm(net)
    tracker = LayerNormTracker()
    tracker.watch(net)
    for _ in range(20):  # let torch's own power iteration settle (one step per forward in train mode)
        net(torch.randn(4, 3, 32, 32))
    stats = tracker(net, "d")
    for layer in ("0", "2"):
        kernel, operator = stats[f"spectral_norm/d/{layer}"], stats[f"operator_norm/d/{layer}"]
        assert kernel == pytest.approx(1.0, abs=0.01)
        assert (1.8 if smooth else 1.05) * kernel < operator <= 2 * kernel


def test_first_call_hooks_the_convolutions_and_later_calls_report_them():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 1))
    tracker = LayerNormTracker()
    first = tracker(net, "d")
    assert "operator_norm/d/0" not in first and "operator_norm/d/3" in first
    net(torch.randn(2, 1, 8, 8))
    assert "operator_norm/d/0" in tracker(net, "d")
    net[0](torch.randn(1, 10, 10))  # the size follows the last forward pass; unbatched input is (C, H, W)
    dense = dense_operator(net[0], (1, 10, 10))
    assert close(tracker(net, "d")["operator_norm/d/0"], float(torch.linalg.matrix_norm(dense, ord=2)))


def test_norms_are_float32_inside_a_bf16_autocast_step():
    """The trainer reads them at the end of a step, which may run in bf16 autocast (on CUDA, and for
    image models on CPUs with bf16 instructions): the estimates must not follow it into bf16."""
    torch.manual_seed(5)
    net = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 16))
    tracker = LayerNormTracker()
    tracker.watch(net)
    net(torch.randn(2, 3, 16, 16))
    dense = dense_operator(net[0], (3, 16, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        stats = tracker(net, "d")
    assert close(stats["spectral_norm/d/3"], exact_sigma(net[3].weight.detach()))
    assert close(stats["spectral_norm/d/0"], exact_sigma(net[0].weight.detach()))
    assert close(stats["operator_norm/d/0"], float(torch.linalg.matrix_norm(dense, ord=2)))


def test_a_padding_mode_other_than_zeros_gets_no_operator_norm():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"))
    tracker = LayerNormTracker()
    tracker.watch(net)
    net(torch.randn(1, 1, 6, 6))
    stats = tracker(net, "n")
    assert "spectral_norm/n/0" in stats and "operator_norm/n/0" not in stats


def test_unconverged_estimates_are_counted_and_finished_later():
    g = torch.Generator().manual_seed(5)
    u, _ = torch.linalg.qr(torch.randn(60, 60, generator=g))
    v, _ = torch.linalg.qr(torch.randn(80, 60, generator=g))
    values = torch.cat([torch.tensor([1.0, 0.995]), torch.linspace(0.99, 0.3, 58)])
    layer = nn.Linear(80, 60, bias=False)
    with torch.no_grad():
        layer.weight.copy_((u * values) @ v.T)
    net = nn.Sequential(layer)
    tracker = LayerNormTracker(max_iterations=2)  # two: the least with which a call can see its gains shrink
    readings = [tracker(net, "g") for _ in range(100)]
    assert readings[0]["power_iteration_unconverged/g"] == 1.0
    assert readings[-1]["power_iteration_unconverged/g"] == 0.0
    sigmas = [r["spectral_norm/g/0"] for r in readings]
    assert all(later >= earlier - 1e-6 for earlier, later in zip(sigmas, sigmas[1:]))  # carried on, not restarted
    assert close(sigmas[-1], 1.0)
