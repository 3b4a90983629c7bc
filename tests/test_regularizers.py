"""Norm regularizers against hand computations and their defining properties."""
import pytest
import torch
from torch import nn

from genlab import regularizers as reg


def test_l1_l2_values():
    w1, w2 = torch.tensor([[1.0, -2.0], [3.0, 0.0]]), torch.tensor([[-0.5, 0.5, 4.0]])
    assert float(reg.l2_penalty([w1, w2])) == 1 + 4 + 9 + 0.25 + 0.25 + 16
    assert float(reg.l1_penalty([w1, w2])) == 1 + 2 + 3 + 0.5 + 0.5 + 4


def test_penalized_weights_skip_biases():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    shapes = [tuple(w.shape) for w in reg.penalized_weights(net)]
    assert shapes == [(4, 3), (1, 4)]


def test_weight_clipping_bounds_hold():
    torch.manual_seed(0)
    net = nn.Linear(10, 10)
    with torch.no_grad():
        net.weight.mul_(100)
    reg.clip_weights_(net.parameters(), 0.01)
    assert all(float(p.detach().abs().max()) <= 0.01 for p in net.parameters())


def test_r1_matches_closed_form_for_linear_critic():
    # D(x) = w·x has ∇_x D = w for every sample: R1 = ½‖w‖².
    w = torch.tensor([3.0, -4.0])
    critic = lambda x: x @ w
    real = torch.randn(16, 2)
    assert torch.allclose(reg.r1_penalty(critic, real), torch.tensor(12.5))
    assert torch.allclose(reg.r2_penalty(critic, real), torch.tensor(12.5))


def test_wgan_gp_is_per_sample():
    # D(x) = ½ a_i x_i² per coordinate gives sample-specific gradients; one sample with a huge gradient.
    critic = lambda x: 0.5 * (x**2).sum(1)
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0], [50.0, 0.0]])
    fake = real.clone()  # x̂ = x whatever ε is, so ∇D(x̂) = x exactly
    per_sample = ((real.norm(dim=1) - 1) ** 2).mean()
    batch_wide = (real.norm() - 1) ** 2  # the known bug: one norm over the whole batch
    penalty = reg.wgan_gradient_penalty(critic, real, fake)
    assert torch.allclose(penalty, per_sample)
    assert not torch.allclose(penalty, batch_wide)


def test_wgan_gp_uses_one_weight_per_sample():
    # For a linear critic only the interpolation weights matter; per-pixel weights would break this.
    torch.manual_seed(0)
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    seen = {}

    def critic(x):
        seen["x"] = x
        return x.flatten(1).sum(1)

    g = torch.Generator().manual_seed(1)
    reg.wgan_gradient_penalty(critic, real, fake, generator=g)
    eps = torch.rand((8, 1, 1, 1), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(seen["x"], eps * real + (1 - eps) * fake)


def test_gradient_penalty_trains_the_critic():
    net = nn.Linear(2, 1)
    critic = lambda x: net(x).squeeze(1)
    penalty = reg.r1_penalty(critic, torch.randn(4, 2))
    penalty.backward()
    assert net.weight.grad is not None and float(net.weight.grad.abs().sum()) > 0


def test_gradient_norm_and_clipping():
    net = nn.Linear(3, 1, bias=False)
    net.weight.grad = torch.tensor([[3.0, 0.0, 4.0]])
    assert float(reg.gradient_norm(net.parameters())) == 5.0
    before = reg.clip_gradient_norm_(net.parameters(), 1.0)
    assert float(before) == 5.0
    assert abs(float(reg.gradient_norm(net.parameters())) - 1.0) < 1e-6


def test_gradient_norms_of_several_groups_in_one_pass():
    first, second, bare = nn.Linear(2, 2), nn.Linear(3, 1, bias=False), nn.Linear(2, 1)
    first.weight.grad = torch.tensor([[1.0, 2.0], [0.0, 2.0]])
    first.bias.grad = torch.tensor([4.0, 0.0])
    second.weight.grad = torch.tensor([[0.0, 3.0, 4.0]])
    norms = reg.gradient_norms([first.parameters(), bare.parameters(), second.parameters()])
    assert [float(norm) for norm in norms] == [5.0, 0.0, 5.0]
    assert float(reg.gradient_norms([[]])[0]) == 0.0


def test_spectral_norm_layer_has_unit_largest_singular_value():
    torch.manual_seed(0)
    layer = nn.utils.parametrizations.spectral_norm(nn.Linear(32, 16))
    for _ in range(20):  # power iterations run on forward passes in train mode
        layer(torch.randn(4, 32))
    sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
    assert abs(float(sigma) - 1.0) < 1e-3


def test_r1_and_r2_keep_their_curvature_where_the_critic_is_flat():
    """½‖∇D‖² for D(x) = w·x is ½‖w‖², whose Hessian in w is I everywhere, also at w = 0: the penalty
    is built from squared gradients, not from a norm (which autograd cannot differentiate at 0)."""
    x = torch.randn(5, 3, dtype=torch.float64)
    for penalty in (reg.r1_penalty, reg.r2_penalty):
        hessian = torch.autograd.functional.hessian(lambda w: penalty(lambda v: v @ w, x),
                                                    torch.zeros(3, dtype=torch.float64))
        assert torch.allclose(hessian, torch.eye(3, dtype=torch.float64))
    # from scores already computed: D(x) = Σ x², ∇ = 2x, so ½ E‖∇‖² = 2 E‖x‖²
    inputs = x.clone().requires_grad_(True)
    penalty = reg.zero_centred_penalty(inputs, (inputs**2).sum(1))
    assert torch.allclose(penalty, 2 * x.pow(2).sum(1).mean())


def singular_value_form(weights) -> float:
    """Σ_W Σ_i (σ_i² − 1)², from numpy's SVD of each weight read as (shape[0], rest), in float64."""
    import numpy as np

    total = 0.0
    for w in weights:
        sigma = np.linalg.svd(w.detach().double().reshape(w.shape[0], -1).numpy(), compute_uv=False)
        total += float(((sigma**2 - 1.0) ** 2).sum())
    return total


def test_orthogonal_penalty_matches_the_singular_values():
    torch.manual_seed(0)
    weights = [torch.randn(7, 3), torch.randn(3, 7), torch.randn(5, 5), torch.randn(8, 3, 3, 3) * 0.2,
               torch.randn(4, 6, 4, 4) * 0.1]  # tall, wide, square, a Conv2d kernel, a wide transposed one
    for w in weights:
        assert abs(float(reg.orthogonal_penalty([w])) - singular_value_form([w])) < 1e-4 * (1 + singular_value_form([w]))
    assert abs(float(reg.orthogonal_penalty(weights)) - singular_value_form(weights)) < 1e-3


def test_orthogonal_penalty_is_zero_for_orthonormal_rows_or_columns_and_counts_by_hand():
    q, _ = torch.linalg.qr(torch.randn(6, 4, dtype=torch.float64))  # orthonormal columns
    assert float(reg.orthogonal_penalty([q])) < 1e-20
    assert float(reg.orthogonal_penalty([q.T])) < 1e-20  # wide: its rows are orthonormal, no floor of 6 − 4
    assert float(reg.orthogonal_penalty([2 * torch.eye(3)])) == 3 * (4 - 1) ** 2  # G = 4I: 3 diagonal (4 − 1)²
    w = torch.tensor([[1.0, 1.0]])  # wide: WWᵀ = [2], so (2 − 1)² = 1 (‖WᵀW − I‖²_F would be 2)
    assert float(reg.orthogonal_penalty([w])) == 1.0


def test_orthogonal_penalty_trains_towards_orthogonality():
    torch.manual_seed(0)
    w = torch.randn(5, 3, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.01)
    start = float(reg.orthogonal_penalty([w.detach()]))
    for _ in range(300):
        optimizer.zero_grad()
        reg.orthogonal_penalty([w]).backward()
        optimizer.step()
    assert float(reg.orthogonal_penalty([w.detach()])) < 1e-3 * start


@pytest.mark.parametrize("penalty", [reg.l1_penalty, reg.l2_penalty, reg.orthogonal_penalty])
def test_weight_penalties_stay_on_the_weights_device_and_dtype(penalty):
    # 'meta' stands in for CUDA: a sum started from a CPU zero would come back on the CPU for an
    # empty tail, or in the wrong dtype
    weights = [torch.ones(3, 2, device="meta", dtype=torch.float64), torch.ones(2, 2, 2, device="meta",
                                                                                 dtype=torch.float64)]
    value = penalty(weights)
    assert value.device.type == "meta" and value.dtype == torch.float64 and value.shape == ()
    double = [torch.randn(3, 2, dtype=torch.float64)]
    assert penalty(double).dtype == torch.float64


def test_gradient_norm_without_gradients_is_zero_on_the_parameters_device():
    parameters = [torch.nn.Parameter(torch.ones(2, device="meta"))]
    assert reg.gradient_norm(parameters).device.type == "meta"
    assert float(reg.gradient_norm([torch.nn.Parameter(torch.ones(2))])) == 0.0
