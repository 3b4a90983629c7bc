"""GAN and VAE objectives against closed forms and independent computations."""
import math

import pytest
import torch
import torch.nn.functional as F

from genlab import losses


def test_gan_value_matches_definition():
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-3.0, 0.0])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()
    assert torch.allclose(losses.gan_value(real, fake), expected, atol=1e-6)


def test_gan_value_finite_for_extreme_logits():
    assert torch.isfinite(losses.gan_value(torch.tensor([-200.0]), torch.tensor([200.0])))


@pytest.mark.parametrize(
    "kind, expected_d, expected_g",
    [
        ("minimax", lambda r, f: -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean()),
         lambda f: torch.log(1 - torch.sigmoid(f)).mean()),
        ("nonsaturating", lambda r, f: -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean()),
         lambda f: -torch.log(torch.sigmoid(f)).mean()),
        ("hinge", lambda r, f: torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean(), lambda f: -f.mean()),
        ("wasserstein", lambda r, f: f.mean() - r.mean(), lambda f: -f.mean()),
        ("least_squares", lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(), lambda f: 0.5 * ((f - 1) ** 2).mean()),
    ],
)
def test_gan_losses_match_formulas(kind, expected_d, expected_g):
    real, fake = torch.tensor([1.5, -0.3, 0.2]), torch.tensor([-2.0, 0.7, 1.1])
    assert torch.allclose(losses.discriminator_loss(kind, real, fake), expected_d(real, fake), atol=1e-6)
    assert torch.allclose(losses.generator_loss(kind, fake), expected_g(fake), atol=1e-6)


def test_saturating_generator_gradient_vanishes_where_nonsaturating_does_not():
    # When D confidently rejects fakes (logit -8), the minimax G loss has almost no gradient.
    fake = torch.tensor([-8.0], requires_grad=True)
    (g_minimax,) = torch.autograd.grad(losses.generator_loss("minimax", fake), fake)
    (g_ns,) = torch.autograd.grad(losses.generator_loss("nonsaturating", fake), fake)
    assert abs(float(g_minimax)) < 1e-3 < abs(float(g_ns))


def test_kl_closed_form_matches_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.tensor([[0.7, -1.2]]), torch.tensor([[-0.5, 0.8]])
    closed = losses.kl_standard_normal(mu, logvar).sum()
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    z = q.sample((400_000,))
    p = torch.distributions.Normal(0.0, 1.0)
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean()
    assert abs(float(closed) - float(monte_carlo)) < 0.01
    # and torch.distributions' own analytic KL, an independent implementation
    reference = torch.distributions.kl_divergence(q, torch.distributions.Normal(torch.zeros(2), torch.ones(2))).sum()
    assert torch.allclose(closed, reference, atol=1e-6)


def test_kl_is_zero_for_the_prior():
    assert torch.allclose(losses.kl_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3, 4))


@pytest.fixture(params=["per-dimension", "fused"])
def bernoulli_kernel(request, monkeypatch):
    """bernoulli_nll through either of its two kernels, whichever this machine would choose."""
    monkeypatch.setattr(losses, "per_dimension_kernel_is_faster", lambda device: request.param == "per-dimension")
    return request.param


def test_bernoulli_nll_by_hand(bernoulli_kernel):
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p = 0.5, 0.75
    x = torch.tensor([[1.0, 0.0]])
    expected = -(math.log(0.5) + math.log(0.25))
    assert math.isclose(float(losses.bernoulli_nll(logits, x)), expected, rel_tol=1e-6)


def test_bernoulli_nll_matches_float64_reference_over_a_wide_range_of_logits(bernoulli_kernel):
    torch.manual_seed(0)
    logits = torch.cat([torch.randn(4, 300) * 8, torch.tensor([[-1e4, -90.0, -17.0, -1e-8, 0.0, 1e-8, 17.0, 90.0, 1e4]
                                                               + [0.0] * 291])])
    x = torch.rand(5, 300)
    x[0, :10] = 0.0
    x[1, :10] = 1.0
    reference = F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="none").sum(1)
    got = losses.bernoulli_nll(logits, x)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert torch.allclose(got.double(), reference, rtol=1e-6, atol=1e-3)


def test_bernoulli_nll_gradients_in_logits_and_data_match_autograd_of_the_fused_op(bernoulli_kernel):
    torch.manual_seed(1)
    logits = (torch.randn(6, 50) * 5).requires_grad_()
    x = torch.rand(6, 50, requires_grad=True)
    weights = torch.randn(6)
    (losses.bernoulli_nll(logits, x) * weights).sum().backward()
    mine = logits.grad.clone(), x.grad.clone()
    logits.grad = x.grad = None
    reference = F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="none").sum(1)
    (reference * weights.double()).sum().backward()
    assert torch.allclose(mine[0], logits.grad, atol=1e-6)
    assert torch.allclose(mine[1], x.grad, atol=1e-5)
    # and against the closed form: d/dl = sigmoid(l) - x, d/dx = -l, each times its sample's weight
    assert torch.allclose(mine[0], (torch.sigmoid(logits) - x).detach() * weights[:, None], atol=1e-6)
    assert torch.allclose(mine[1], -logits.detach() * weights[:, None], atol=1e-5)


def test_bernoulli_nll_batch_mean_is_the_mean_of_the_per_sample_nll_in_value_and_gradient(bernoulli_kernel):
    torch.manual_seed(2)
    logits = (torch.randn(7, 3, 4, 4) * 6).requires_grad_()
    x = torch.rand(7, 3, 4, 4)
    mean = losses.bernoulli_nll_batch_mean(logits, x)
    mean.backward()
    mine = logits.grad.clone()
    logits.grad = None
    reference = F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="none").flatten(1).sum(1).mean()
    reference.backward()
    assert mean.shape == () and mean.dtype == torch.float32
    assert math.isclose(mean.item(), reference.item(), rel_tol=1e-6)
    assert torch.allclose(mine, logits.grad, atol=1e-7)
    assert torch.allclose(mine, (torch.sigmoid(logits) - x).detach() / 7, atol=1e-7)  # closed form, ÷ B


def test_gaussian_nll_by_hand_and_per_sample_sum():
    mean = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    x = torch.tensor([[0.5, 1.0], [2.0, 0.0]])
    std = 0.5
    nll = losses.gaussian_nll(mean, x, std)
    reference = -torch.distributions.Normal(mean, std).log_prob(x).sum(1)
    assert nll.shape == (2,)
    assert torch.allclose(nll, reference, atol=1e-5)


def test_elbo_terms_by_hand():
    # one sample, one pixel, one latent: recon = -log p(x|z), KL = ½(μ² + σ² − log σ² − 1)
    mu, logvar = torch.tensor([[1.0]]), torch.tensor([[math.log(0.25)]])
    kl = float(losses.kl_standard_normal(mu, logvar).sum())
    assert math.isclose(kl, 0.5 * (1.0 + 0.25 - math.log(0.25) - 1.0), rel_tol=1e-6)
    weighted = losses.kl_weight_term(torch.tensor(kl), beta=4.0, capacity=0.0)
    assert math.isclose(float(weighted), 4.0 * kl, rel_tol=1e-6)
    capacity = losses.kl_weight_term(torch.tensor(kl), beta=4.0, capacity=2.0)
    assert math.isclose(float(capacity), 4.0 * abs(kl - 2.0), rel_tol=1e-6)


def test_kl_weight_term_without_capacity_keeps_its_gradient_at_beta_where_the_kl_rounds_below_zero():
    # a collapsed posterior's KL can round to a hair below 0; β·|KL| would then push the KL up
    for kl_value in (-3e-8, 0.0, 2.5):
        kl = torch.tensor(kl_value, requires_grad=True)
        losses.kl_weight_term(kl, beta=4.0, capacity=0.0).backward()
        assert float(kl.grad) == 4.0
    above, below = (torch.tensor(v, requires_grad=True) for v in (3.0, 1.0))
    for kl, sign in ((above, 1.0), (below, -1.0)):  # with a capacity, β·|KL - C| pulls the KL to C
        losses.kl_weight_term(kl, beta=4.0, capacity=2.0).backward()
        assert float(kl.grad) == sign * 4.0


def test_kl_warmup_factor():
    assert losses.kl_warmup_factor(0, 0) == 1.0
    assert losses.kl_warmup_factor(50, 100) == 0.5
    assert losses.kl_warmup_factor(500, 100) == 1.0
