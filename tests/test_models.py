"""Model builders: shapes, output ranges, no BatchNorm in D, spectral norm, width scaling, seeding."""
from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from genlab.config import ModelConfig
from genlab.models import VAE, apply_spectral_norm, build_gan, build_vae, weight_layers

POINTS = (2,)
IMAGES = [(1, 28, 28), (3, 32, 32), (3, 64, 64)]
# (arch, data_shape) pairs the builders accept; conv is image-only.
VALID = [("mlp", POINTS)] + [(arch, s) for arch in ("mlp", "conv", "resnet") for s in IMAGES]
IMAGE_ARCHS = ("conv", "resnet")
BATCH = 3


def small_cfg(family: str, arch: str, **kw) -> ModelConfig:
    # Small widths keep the 64 px conv nets fast; the shapes do not depend on width.
    defaults = dict(family=family, arch=arch, latent_dim=5, width=16 if arch in IMAGE_ARCHS else 32, depth=2)
    return ModelConfig(**{**defaults, **kw})


def n_params(*modules: nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._NormBase) for m in module.modules())


def matrix_view(layer: nn.Module) -> torch.Tensor:
    """The weight as the 2D matrix spectral norm normalizes: output dim first (dim 1 for ConvTranspose)."""
    w = layer.weight.detach()
    if isinstance(layer, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return w.reshape(w.shape[0], -1)


def sigma_max(layer: nn.Module) -> float:
    return torch.linalg.matrix_norm(matrix_view(layer), ord=2).item()


def sigma_is_one(sigma: float) -> bool:
    # Power iteration estimates sigma from below, so W / estimate has a norm of 1 or slightly above.
    return 0.999 < sigma < 1.03


# --- shapes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch,shape", VALID)
def test_gan_shapes(arch, shape):
    torch.manual_seed(0)
    G, D = build_gan(small_cfg("gan", arch), shape)
    assert G.latent_dim == 5
    x = G(torch.randn(BATCH, G.latent_dim))
    assert x.shape == (BATCH, *shape)
    logits = D(x)
    assert logits.shape == (BATCH,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("arch,shape", VALID)
def test_vae_shapes(arch, shape):
    torch.manual_seed(0)
    vae = build_vae(small_cfg("vae", arch), shape)
    assert isinstance(vae, VAE) and vae.latent_dim == 5
    x = torch.rand(BATCH, *shape)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (BATCH, 5)
    assert vae.encoder(x).shape == (BATCH, 10)
    assert vae.decode(mu).shape == vae.decoder(mu).shape == (BATCH, *shape)
    decoded, mu2, logvar2 = vae(x)
    assert decoded.shape == (BATCH, *shape)
    torch.testing.assert_close(mu2, mu)
    torch.testing.assert_close(logvar2, logvar)


@pytest.mark.parametrize("shape", [(3, 28, 28), (1, 32, 32), (1, 64, 64)])
def test_conv_models_take_any_channel_count(shape):
    G, D = build_gan(small_cfg("gan", "conv"), shape)
    x = G(torch.randn(2, 5))
    assert x.shape == (2, *shape) and D(x).shape == (2,)
    assert build_vae(small_cfg("vae", "conv"), shape)(x)[0].shape == (2, *shape)


@pytest.mark.parametrize(
    "arch,shape",
    [("conv", POINTS), ("conv", (1, 48, 48)), ("conv", (1, 28, 32)), ("conv", (28, 28)), ("mlp", (2, 2))],
)
def test_invalid_data_shapes_raise_value_error(arch, shape):
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        build_gan(small_cfg("gan", arch), shape)
    with pytest.raises(ValueError):
        build_vae(small_cfg("vae", arch), shape)


# --- output ranges and layer choices --------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_image_generator_output_is_tanh_bounded(arch):
    torch.manual_seed(0)
    G, _ = build_gan(small_cfg("gan", arch), (1, 28, 28))
    assert isinstance(G.net[-1], nn.Tanh)
    z = torch.randn(16, 5)
    torch.testing.assert_close(G(z), torch.tanh(G.net[:-1](z)))
    with torch.no_grad():  # blow the weights up: the output must saturate at +-1, never exceed it
        for p in G.parameters():
            p.mul_(50.0)
    x = G(z)
    assert x.abs().max() <= 1.0
    assert x.abs().max() > 0.99


def test_points_generator_output_is_linear():
    torch.manual_seed(0)
    G, _ = build_gan(small_cfg("gan", "mlp"), POINTS)
    assert not any(isinstance(m, nn.Tanh) for m in G.modules())
    assert G(100 * torch.randn(64, 5)).abs().max() > 1.0  # unbounded: toy data lives beyond [-1, 1]


@pytest.mark.parametrize("arch,shape", VALID)
def test_discriminator_has_no_batchnorm_and_is_per_sample(arch, shape):
    torch.manual_seed(0)
    G, D = build_gan(small_cfg("gan", arch), shape)
    vae = build_vae(small_cfg("vae", arch), shape)
    assert not has_batchnorm(D)
    assert not has_batchnorm(vae)
    assert has_batchnorm(G) == (arch in IMAGE_ARCHS)  # DCGAN and SNGAN keep BatchNorm in G only
    # Train mode: D's output for sample 0 must not change when the rest of the batch changes.
    D.train()
    x = torch.randn(4, *shape)
    y = x.clone()
    y[1:] = torch.randn(3, *shape)
    torch.testing.assert_close(D(x)[0], D(y)[0])


@pytest.mark.parametrize("arch,shape", [("mlp", POINTS), ("mlp", (1, 28, 28)), ("conv", (1, 28, 28))])
def test_in_place_activations_give_the_gradients_of_out_of_place_ones_through_r1s_double_backward(arch, shape):
    """MLP and conv networks overwrite their layers' outputs with the activation; the networks with
    activations put out of place must give the same outputs and gradients, R1's double backward included."""
    import copy

    torch.manual_seed(0)
    G, D = build_gan(small_cfg("gan", arch), shape)
    vae = build_vae(small_cfg("vae", arch), shape)
    activations = [m for net in (G, D, vae) for m in net.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    assert activations and all(m.inplace for m in activations)

    def out_of_place(net: nn.Module) -> nn.Module:
        twin = copy.deepcopy(net)
        for module in twin.modules():
            if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
                module.inplace = False
        return twin

    def gradients(G: nn.Module, D: nn.Module, vae: VAE) -> list[torch.Tensor]:
        torch.manual_seed(1)
        real = torch.randn(4, *shape).requires_grad_(True)
        fake = G(torch.randn(4, G.latent_dim))
        logits = D(real)
        (input_gradient,) = torch.autograd.grad(logits.sum(), real, create_graph=True)  # R1
        mu, logvar = vae.encode(real.detach())
        loss = (logits.mean() - D(fake).mean() + input_gradient.pow(2).sum() + vae.decode(mu).pow(2).mean()
                + logvar.pow(2).mean())
        nets = (G, D, vae)
        return torch.autograd.grad(loss, [p for net in nets for p in net.parameters()])

    for mine, twin in zip(gradients(G, D, vae), gradients(*(out_of_place(net) for net in (G, D, vae)))):
        torch.testing.assert_close(mine, twin, rtol=0, atol=0)


def test_generator_batchnorm_uses_default_eps_and_momentum():
    G, _ = build_gan(small_cfg("gan", "conv"), (3, 32, 32))
    norms = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms
    assert all(m.eps == 1e-5 and m.momentum == 0.1 for m in norms)  # not the BatchNorm2d(n, 0.8) bug


def test_conv_gan_uses_dcgan_init():
    torch.manual_seed(0)
    G, D = build_gan(small_cfg("gan", "conv", width=64), (3, 64, 64))
    convs = [m for net in (G, D) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.detach().flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
    bn_weights = torch.cat([m.weight.detach() for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn_weights.mean().item() - 1.0) < 0.01 and 0.01 < bn_weights.std().item() < 0.03


# --- spectral norm --------------------------------------------------------------------------------------


def parametrized_layers(module: nn.Module) -> list[bool]:
    return [parametrize.is_parametrized(layer, "weight") for _, layer in weight_layers(module)]


@pytest.mark.parametrize("arch,shape", [("mlp", POINTS), ("conv", (1, 28, 28)), ("conv", (3, 64, 64)),
                                        ("resnet", (1, 28, 28))])
@pytest.mark.parametrize("sn_d,sn_g", [(True, False), (False, True)])
def test_spectral_norm_flags_pick_networks(arch, shape, sn_d, sn_g):
    G, D = build_gan(small_cfg("gan", arch, spectral_norm_discriminator=sn_d, spectral_norm_generator=sn_g), shape)
    vae = build_vae(small_cfg("vae", arch, spectral_norm_encoder=sn_d, spectral_norm_decoder=sn_g), shape)
    for net, flag in [(D, sn_d), (vae.encoder, sn_d), (G, sn_g), (vae.decoder, sn_g)]:
        marks = parametrized_layers(net)
        assert len(marks) >= 3 and all(m == flag for m in marks)


@pytest.mark.parametrize("arch,shape", [("mlp", POINTS), ("mlp", (1, 28, 28)), ("conv", (1, 28, 28)), ("conv", (3, 32, 32)),
                                        ("resnet", (3, 32, 32))])
def test_spectral_norm_makes_largest_singular_value_one(arch, shape):
    torch.manual_seed(0)
    cfg = small_cfg("gan", arch, spectral_norm_discriminator=True, spectral_norm_generator=True)
    G, D = build_gan(cfg, shape)
    G.train()
    D.train()
    with torch.no_grad():
        for _ in range(20):  # each train-mode forward runs one more power iteration (15 ran at registration)
            D(G(torch.randn(4, 5)))
    for net in (G, D):
        for name, layer in weight_layers(net):
            assert sigma_is_one(sigma_max(layer)), name


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_without_spectral_norm_the_sigma_check_fails(arch):
    # Guards the test above: unnormalized weights do not pass its check.
    torch.manual_seed(0)
    G, D = build_gan(small_cfg("gan", arch), (1, 28, 28))
    sigmas = [sigma_max(layer) for net in (G, D) for _, layer in weight_layers(net)]
    assert not all(sigma_is_one(s) for s in sigmas)


def test_spectral_norm_keeps_weights_trainable_and_gradients_flowing():
    torch.manual_seed(0)
    _, D = build_gan(small_cfg("gan", "conv", spectral_norm_discriminator=True), (1, 28, 28))
    D(torch.randn(4, 1, 28, 28)).sum().backward()
    originals = [layer.parametrizations.weight.original for _, layer in weight_layers(D)]
    assert all(p.requires_grad and p.grad is not None and p.grad.abs().sum() > 0 for p in originals)


def test_apply_spectral_norm_is_idempotent():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 1, 3))
    apply_spectral_norm(apply_spectral_norm(net))
    for _, layer in weight_layers(net):
        assert len(layer.parametrizations.weight) == 1


# --- sizes and seeding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["gan", "vae"])
@pytest.mark.parametrize("arch,shape", [("mlp", POINTS), ("mlp", (1, 28, 28)), ("conv", (1, 28, 28)), ("conv", (3, 64, 64))])
def test_parameter_count_grows_with_width(family, arch, shape):
    def count(width: int) -> int:
        cfg = small_cfg(family, arch, width=width)
        return n_params(*build_gan(cfg, shape)) if family == "gan" else n_params(build_vae(cfg, shape))

    small, large = count(16), count(32)
    assert large > 1.5 * small
    if arch == "conv":  # channel x channel kernels dominate: close to 4x (the linear ends grow 2x)
        assert 2.5 < large / small < 4.5


def test_mlp_depth_adds_hidden_layers():
    def linears(depth: int) -> int:
        G, D = build_gan(small_cfg("gan", "mlp", depth=depth), POINTS)
        return sum(isinstance(m, nn.Linear) for net in (G, D) for m in net.modules())

    assert linears(1) == 4 and linears(3) == 8


@pytest.mark.parametrize("family", ["gan", "vae"])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_init_is_deterministic_under_manual_seed(family, arch):
    def build(seed: int) -> dict:
        torch.manual_seed(seed)
        first = "discriminator" if family == "gan" else "encoder"
        cfg = small_cfg(family, arch, **{f"spectral_norm_{first}": True})
        nets = build_gan(cfg, (1, 28, 28)) if family == "gan" else (build_vae(cfg, (1, 28, 28)),)
        return {f"{i}.{k}": v for i, net in enumerate(nets) for k, v in net.state_dict().items()}

    a, b, c = build(0), build(0), build(1)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


# --- VAE sampling ---------------------------------------------------------------------------------------


def test_reparameterize_uses_generator_and_has_right_moments():
    mu = torch.tensor([[1.0, -2.0]]).expand(20_000, 2)
    logvar = torch.tensor([[0.0, 2.0 * torch.log(torch.tensor(3.0)).item()]]).expand(20_000, 2)
    z1 = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    z2 = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    torch.testing.assert_close(z1, z2, rtol=0, atol=0)
    torch.testing.assert_close(z1.mean(0), torch.tensor([1.0, -2.0]), atol=0.06, rtol=0)
    torch.testing.assert_close(z1.std(0), torch.tensor([1.0, 3.0]), atol=0.05, rtol=0)


def test_vae_forward_is_reproducible_with_generator_and_differentiable():
    torch.manual_seed(0)
    vae = build_vae(small_cfg("vae", "conv"), (1, 28, 28))
    x = torch.rand(4, 1, 28, 28)
    out1, _, _ = vae(x, generator=torch.Generator().manual_seed(3))
    out2, mu, logvar = vae(x, generator=torch.Generator().manual_seed(3))
    out3, _, _ = vae(x, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(out1, out2, rtol=0, atol=0)
    assert not torch.equal(out1, out3)
    (out2.sum() + mu.sum() + logvar.sum()).backward()
    assert all(p.grad is not None for p in vae.parameters())


def test_vae_decoder_output_is_unbounded():
    torch.manual_seed(0)
    for arch in ("mlp", "conv"):
        vae = build_vae(small_cfg("vae", arch), (1, 28, 28))
        assert not any(isinstance(m, (nn.Tanh, nn.Sigmoid)) for m in vae.decoder.modules())
