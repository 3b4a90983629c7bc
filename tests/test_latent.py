"""genlab.latent: interpolation maths, endpoint decoding, KL-ordered traversals, grids, PCA, GIF/PNG export."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence
from scipy.stats import norm

from genlab import latent, losses
from genlab.runs import save_run
from genlab.config import RunConfig
from genlab.trainers import make_trainer

TINY_VAE = {
    "name": "tiny-vae",
    "data": {"name": "shapes", "n_samples": 64, "image_size": 28},
    "model": {"family": "vae", "arch": "mlp", "latent_dim": 4, "width": 16, "depth": 1},
    "optim": {"batch_size": 16, "lr_g": 1e-3, "lr_d": 1e-3},
}
# conv generator with BatchNorm: decoding a single latent must use running statistics (eval mode)
TINY_CONV_GAN = {
    "name": "tiny-conv-gan",
    "data": {"name": "shapes", "n_samples": 64, "image_size": 28},
    "model": {"family": "gan", "arch": "conv", "latent_dim": 5, "width": 4},
    "optim": {"batch_size": 8},
}


def tiny_trainer(raw: dict, steps: int = 3):
    trainer = make_trainer(RunConfig.from_dict(json.loads(json.dumps(raw))), device="cpu")
    for _ in range(steps):
        trainer.step()
    return trainer


@pytest.fixture(scope="module")
def vae_model() -> latent.LatentModel:
    torch.manual_seed(0)
    return latent.LatentModel(tiny_trainer(TINY_VAE))


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm()


# ------------------------------------------------------------------------------------------------
# lerp / slerp
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [2, 3, 16, 128])
def test_slerp_keeps_the_norm_of_unit_endpoints(dim):
    g = torch.Generator().manual_seed(dim)
    t = torch.linspace(0, 1, 21)
    for _ in range(20):
        a, b = unit(torch.randn(dim, generator=g)), unit(torch.randn(dim, generator=g))
        path = latent.slerp(a, b, t)
        assert torch.allclose(path.norm(dim=1), torch.ones(21), atol=1e-5)
        # and it is a great-circle arc at constant speed: the angle to a grows linearly with t
        omega = torch.arccos(torch.clamp(a @ b, -1, 1))
        angles = torch.arccos(torch.clamp(path @ a, -1, 1))
        assert torch.allclose(angles, t * omega, atol=2e-3)
    # lerp, by contrast, cuts inside the sphere
    a, b = unit(torch.randn(dim, generator=g)), unit(torch.randn(dim, generator=g))
    assert float(latent.lerp(a, b, 0.5).norm()) < 0.99


def test_slerp_keeps_the_norm_for_nearly_and_exactly_antiparallel_unit_endpoints():
    a = unit(torch.tensor([1.0, 2.0, -0.5, 0.3]))
    t = torch.linspace(0, 1, 11)
    for b in (-a, unit(-a + 1e-6 * torch.tensor([0.0, 1.0, 0.0, 0.0]))):
        path = latent.slerp(a, b, t)
        assert torch.allclose(path.norm(dim=1), torch.ones(11), atol=1e-5)
        assert torch.isfinite(path).all()
        assert torch.allclose(path[-1], b, atol=1e-6)


def test_slerp_equals_lerp_for_parallel_and_zero_vectors():
    t = torch.linspace(0, 1, 9)
    a = torch.tensor([0.3, -1.2, 2.0])
    for b in (a.clone(), 2.5 * a, a * (1 + 1e-7)):
        assert torch.allclose(latent.slerp(a, b, t), latent.lerp(a, b, t), atol=1e-6)
    zero = torch.zeros(3)
    assert torch.equal(latent.slerp(zero, a, t), latent.lerp(zero, a, t))
    assert torch.equal(latent.slerp(a, zero, t), latent.lerp(a, zero, t))
    # one-dimensional latents: opposite signs have no arc between them; the path is linear
    assert torch.allclose(latent.slerp(torch.tensor([1.0]), torch.tensor([-2.0]), t),
                          latent.lerp(torch.tensor([1.0]), torch.tensor([-2.0]), t))


def test_slerp_of_unequal_lengths_interpolates_the_length_linearly():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = latent.slerp(a, b, 0.5)
    assert math.isclose(float(mid.norm()), 2.0, rel_tol=1e-6)
    assert torch.allclose(unit(mid), unit(torch.tensor([1.0, 1.0])), atol=1e-6)


def test_interpolation_path_starts_and_ends_exactly_at_the_endpoints():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(7, generator=g), torch.randn(7, generator=g)
    for method in latent.METHODS:
        path = latent.interpolation_path(a, b, 6, method)
        assert path.shape == (6, 7)
        assert torch.equal(path[0], a) and torch.equal(path[-1], b)
        assert torch.equal(latent.interpolate(a, b, 0.0, method), a)
        assert torch.equal(latent.interpolate(a, b, 1.0, method), b)
    with pytest.raises(ValueError, match="method"):
        latent.interpolate(a, b, 0.5, "cubic")
    with pytest.raises(ValueError, match="at least 2"):
        latent.interpolation_path(a, b, 1)


def test_random_latent_is_reproducible():
    assert torch.equal(latent.random_latent(8, 3), latent.random_latent(8, 3))
    assert not torch.equal(latent.random_latent(8, 3), latent.random_latent(8, 4))


# ------------------------------------------------------------------------------------------------
# decoding endpoints
# ------------------------------------------------------------------------------------------------
def test_endpoints_of_an_interpolation_decode_to_the_endpoint_images(vae_model):
    data = latent.explore_data(vae_model.config, n=32)
    latent.encode_data(vae_model, data)
    cases = {
        "random seeds": (latent.random_latent(4, 0), latent.random_latent(4, 1)),
        "encoded images": (data.mu[3], data.mu[7]),
    }
    for name, (a, b) in cases.items():
        image_a, image_b = vae_model.decode(a), vae_model.decode(b)
        assert not torch.equal(image_a, image_b), name
        for method in latent.METHODS:
            # the slider's frame at t = 0 / 1: one latent decoded, exactly the endpoint's image
            assert torch.equal(vae_model.decode(latent.interpolate(a, b, 0.0, method)), image_a), (name, method)
            assert torch.equal(vae_model.decode(latent.interpolate(a, b, 1.0, method)), image_b), (name, method)
            # the strip decodes all frames in one batch: equal up to float rounding of a batched matmul
            frames = vae_model.decode(latent.interpolation_path(a, b, 5, method))
            assert torch.allclose(frames[0], image_a[0], atol=1e-5), (name, method)
            assert torch.allclose(frames[-1], image_b[0], atol=1e-5), (name, method)
            # and the exported GIF starts with that first frame's pixels
            gif = Image.open(io.BytesIO(latent.gif_bytes(latent.to_uint8(frames))))
            first = np.asarray(next(ImageSequence.Iterator(gif)).convert("L"))
            assert np.array_equal(first, latent.to_uint8(frames)[0])
            assert np.abs(first.astype(int) - latent.to_uint8(image_a)[0].astype(int)).max() <= 1
    # an encoded endpoint decodes to the model's reconstruction of that data image
    recon = vae_model.decode(vae_model.encode(data.x[3:4]))
    assert torch.allclose(vae_model.decode(latent.interpolate(data.mu[3], data.mu[7], 0.0)), recon, atol=1e-5)


def test_latent_model_decodes_one_latent_in_eval_mode_and_is_reentrant():
    torch.manual_seed(0)
    trainer = tiny_trainer(TINY_CONV_GAN, steps=2)
    model = latent.LatentModel(trainer)
    z = latent.random_latent(5, 0)
    one = model.decode(z)  # batch of one through BatchNorm: only works with running statistics
    assert one.shape == (1, 1, 28, 28) and 0.0 <= float(one.min()) and float(one.max()) <= 1.0
    batch = model.decode(torch.stack([z, latent.random_latent(5, 1)]))
    assert torch.allclose(batch[:1], one, atol=1e-5)  # eval mode: a sample does not depend on its batch
    assert all(not net.training for net in trainer.networks.values())
    with pytest.raises(ValueError, match="no encoder"):
        model.encode(one)


def test_latent_model_loads_a_saved_run(tmp_path):
    torch.manual_seed(0)
    trainer = tiny_trainer(TINY_VAE, steps=2)
    path = save_run(trainer, {"loss/total": [1.0, 0.5]}, root=tmp_path)
    model = latent.LatentModel.load(path)
    z = latent.random_latent(4, 5)
    assert model.family == "vae" and model.latent_dim == 4 and model.data_shape == (1, 28, 28)
    assert torch.allclose(model.decode(z), trainer.decode(z[None]).cpu(), atol=1e-6)


# ------------------------------------------------------------------------------------------------
# KL per dimension and traversals
# ------------------------------------------------------------------------------------------------
def test_kl_per_dim_matches_the_closed_form_and_the_loss_module():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(50, 6, generator=g), torch.randn(50, 6, generator=g)
    by_hand = torch.tensor([
        sum(0.5 * (m**2 + math.exp(lv) - lv - 1) for m, lv in zip(mu[:, j].tolist(), logvar[:, j].tolist())) / 50
        for j in range(6)
    ])
    assert torch.allclose(latent.kl_per_dim(mu, logvar), by_hand.float(), atol=1e-5)
    assert torch.allclose(latent.kl_per_dim(mu, logvar), losses.kl_standard_normal(mu, logvar).mean(0), atol=1e-6)
    assert torch.allclose(latent.kl_per_dim(torch.zeros(4, 3), torch.zeros(4, 3)), torch.zeros(3))


def test_traversal_order_follows_kl(vae_model, monkeypatch):
    # An encoder with a known posterior: dimension j has mean scale[j]·(pixel mean) and log-variance logvar[j],
    # so its KL is known in closed form and the most informative dimensions are 2, 0, 3, 1.
    scale = torch.tensor([2.0, 0.0, 6.0, 0.5])
    logvar = torch.tensor([-2.0, 0.0, -4.0, -0.5])

    def encode(x):
        signal = x.flatten(1).mean(1, keepdim=True) * 10
        return signal * scale, logvar.expand(len(x), 4)

    monkeypatch.setattr(vae_model.trainer.vae, "encode", encode)
    data = latent.explore_data(vae_model.config, n=64)
    analysis = latent.analyse(vae_model, data)
    signal = data.x.flatten(1).mean(1) * 10
    expected_kl = 0.5 * ((signal[:, None] * scale) ** 2).mean(0) + 0.5 * (logvar.exp() - logvar - 1)
    assert torch.allclose(analysis.kl, expected_kl, rtol=1e-5)
    assert analysis.order == [2, 0, 3, 1] == sorted(range(4), key=lambda j: -float(expected_kl[j]))

    trav = latent.traverse(vae_model, torch.zeros(4), analysis.order[:3], -2.0, 2.0, 5, kl=analysis.kl)
    assert trav.dims == [2, 0, 3] and trav.decoded.shape == (3, 5, 1, 28, 28)
    labels = latent.describe_dims(analysis.kl, None, (), trav.dims)
    assert [label.split(" · ")[0] for label in labels] == ["z2", "z0", "z3"]
    # a dimension with zero KL is labelled as unused
    assert "inactive" in latent.describe_dims(analysis.kl, None, (), [1])[0]


def test_traversal_order_without_kl_is_index_order_and_ties_keep_index_order():
    assert latent.traversal_order(None, 4) == [0, 1, 2, 3]
    assert latent.traversal_order(torch.tensor([1.0, 3.0, 1.0, 0.0]), 4) == [1, 0, 2, 3]


def test_kl_from_history_uses_the_last_finite_values():
    history = {"kl/dim_0": [0.1, 0.5], "kl/dim_1": [2.0, float("nan")]}
    assert torch.allclose(latent.kl_from_history(history, 2), torch.tensor([0.5, 2.0]))
    assert latent.kl_from_history(history, 3) is None


def test_traversal_latents_change_one_dimension_per_row():
    base = torch.tensor([0.5, -1.0, 2.0])
    z = latent.traversal_latents(base, [2, 0], torch.tensor([-1.0, 0.0, 1.0]))
    assert z.shape == (2, 3, 3)
    assert torch.equal(z[0, :, 2], torch.tensor([-1.0, 0.0, 1.0])) and torch.equal(z[0, :, :2], base[:2].repeat(3, 1))
    assert torch.equal(z[1, :, 0], torch.tensor([-1.0, 0.0, 1.0])) and torch.equal(z[1, :, 1:], base[1:].repeat(3, 1))
    with pytest.raises(ValueError):
        latent.traversal_values(1.0, 1.0, 5)


def test_factor_association_finds_the_factor_each_dimension_follows():
    g = torch.Generator().manual_seed(0)
    n = 600
    shape = torch.randint(0, 3, (n,), generator=g).float()
    pos_x = torch.rand(n, generator=g)
    rotation = torch.rand(n, generator=g) * 2 * math.pi
    factors = torch.stack([shape, pos_x, rotation], 1)
    def noise() -> torch.Tensor:
        return 0.05 * torch.randn(n, generator=g)

    # z0 follows pos_x, z1 tells ellipses from the rest, z2 follows the angle, z3 is pure noise
    mu = torch.stack([pos_x + noise(), (shape == 1).float() + noise(), torch.sin(rotation) + noise(),
                      torch.randn(n, generator=g)], 1)
    assoc = latent.factor_association(mu, factors, ("shape", "pos_x", "rotation"))
    assert assoc.shape == (4, 3)
    assert assoc.argmax(1)[:3].tolist() == [1, 0, 2]
    assert float(assoc[3].max()) < 0.2 and float(assoc[:3].max(1).values.min()) > 0.9
    labels = latent.describe_dims(torch.ones(4), assoc, ("shape", "pos_x", "rotation"), [0, 2])
    assert "pos_x" in labels[0] and "rotation" in labels[1]


# ------------------------------------------------------------------------------------------------
# manifold grid and PCA
# ------------------------------------------------------------------------------------------------
def test_prior_quantile_values_are_the_normal_inverse_cdf():
    values = latent.prior_quantile_values(7, 0.05, 0.95)
    assert np.allclose(values.numpy(), norm.ppf(np.linspace(0.05, 0.95, 7)), atol=1e-5)
    assert float(values[3]) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        latent.prior_quantile_values(5, 0.0, 0.9)


def test_manifold_grid_layout_is_image_like():
    z = latent.manifold_latents(3, 4, dims=(2, 0)).reshape(4, 4, 3)
    q = latent.prior_quantile_values(4)
    assert torch.equal(z[0, :, 2], q) and torch.equal(z[:, 0, 0], q.flip(0))  # x grows rightwards, y upwards
    assert torch.equal(z[..., 1], torch.zeros(4, 4))
    with pytest.raises(ValueError):
        latent.manifold_latents(1, 4)
    with pytest.raises(ValueError):
        latent.manifold_latents(3, 4, dims=(1, 1))


def test_manifold_decodes_the_grid(vae_model):
    images = latent.manifold(vae_model, 3, (0, 1))
    assert images.shape == (9, 1, 28, 28)
    expected = vae_model.decode(latent.manifold_latents(4, 3, (0, 1)))
    assert torch.equal(images, expected)


def test_pca_2d_matches_an_eigendecomposition():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g) @ torch.randn(5, 5, generator=g) + 3.0
    coords, ratio = latent.pca_2d(x)
    xc = (x - x.mean(0)).double().numpy()
    eigval, eigvec = np.linalg.eigh(np.cov(xc, rowvar=False))
    top = eigvec[:, ::-1][:, :2]
    assert np.allclose(ratio.numpy(), eigval[::-1][:2] / eigval.sum(), atol=1e-5)
    reference = xc @ top
    for k in range(2):  # equal up to each axis' sign
        assert np.allclose(np.abs(coords[:, k].numpy()), np.abs(reference[:, k]), atol=1e-3)
    line = torch.linspace(-1, 1, 50)[:, None] * torch.tensor([[1.0, 2.0, 0.0]])
    _, ratio = latent.pca_2d(line)
    assert ratio[0] == pytest.approx(1.0) and ratio[1] == pytest.approx(0.0, abs=1e-6)
    coords, _ = latent.pca_2d(torch.randn(10, 1, generator=g))
    assert coords.shape == (10, 2) and torch.equal(coords[:, 1], torch.zeros(10))


# ------------------------------------------------------------------------------------------------
# pictures and exports
# ------------------------------------------------------------------------------------------------
def test_gif_export_is_a_valid_multi_frame_gif():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 12, 10), dtype=np.uint8)
    data = latent.gif_bytes(frames, duration_ms=50)
    assert data[:6] in (b"GIF87a", b"GIF89a")
    assert latent.gif_frame_count(data) == 6
    image = Image.open(io.BytesIO(data))
    assert image.size == (10, 12) and image.info.get("loop") == 0
    decoded = [np.asarray(frame.convert("L")) for frame in ImageSequence.Iterator(image)]
    assert all(np.array_equal(back, frame) for back, frame in zip(decoded, frames, strict=True))
    assert latent.gif_frame_count(latent.gif_bytes(frames, pingpong=True)) == 10  # 6 forward, 4 back
    colour = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    assert latent.gif_frame_count(latent.gif_bytes(colour)) == 3
    with pytest.raises(ValueError):
        latent.gif_bytes(frames.astype(np.float32))
    with pytest.raises(ValueError):
        latent.gif_frame_count(latent.png_bytes(frames[0]))


def test_png_export_and_image_conversion():
    images = torch.rand(6, 1, 8, 8)
    pixels = latent.to_uint8(images, upscale=3)
    assert pixels.shape == (6, 24, 24) and pixels.dtype == np.uint8
    assert pixels[0, 0, 0] == round(float(images[0, 0, 0, 0]) * 255)
    grid = latent.image_grid(images, nrow=3, upscale=2)
    png = latent.png_bytes(grid)
    back = np.asarray(Image.open(io.BytesIO(png)))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and np.array_equal(back, grid)
    assert latent.to_uint8(torch.rand(2, 3, 4, 4)).shape == (2, 4, 4, 3)


def test_image_from_bytes_converts_resizes_inverts_and_refuses_junk():
    picture = np.zeros((40, 60, 3), dtype=np.uint8)
    picture[:, 30:] = 255
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    x = latent.image_from_bytes(buffer.getvalue(), (1, 28, 28))
    assert x.shape == (1, 28, 28) and float(x[0, 14, 2]) == 0.0 and float(x[0, 14, 25]) == 1.0
    inverted = latent.image_from_bytes(buffer.getvalue(), (1, 28, 28), invert=True)
    assert torch.allclose(inverted, 1 - x)
    assert latent.image_from_bytes(buffer.getvalue(), (3, 32, 32)).shape == (3, 32, 32)
    with pytest.raises(ValueError, match="not a readable image"):
        latent.image_from_bytes(b"definitely not an image", (1, 28, 28))
    big = io.BytesIO()
    Image.new("L", (4200, 4200)).save(big, format="PNG")
    with pytest.raises(ValueError, match="too large"):
        latent.image_from_bytes(big.getvalue(), (1, 28, 28))


def test_points_picture_marks_the_current_point():
    reference = torch.randn(200, 2)
    picture = latent.points_picture(reference, torch.zeros(5, 2), torch.tensor([[0.0, 0.0]]), size=64, extent=3.0)
    assert picture.shape == (64, 64, 3)
    assert tuple(picture[32, 32]) == (214, 39, 40)  # red marker at the centre


def test_explore_data_subsamples_and_reports_unavailable_sets(tmp_path):
    config = RunConfig.from_dict(json.loads(json.dumps(TINY_VAE)))
    data = latent.explore_data(config, n=16)
    assert data.x.shape == (16, 1, 28, 28) and data.factors.shape == (16, 5) and data.labels.shape == (16,)
    assert 0.0 <= float(data.x.min()) and float(data.x.max()) <= 1.0
    missing = config.replace(**{"data.name": "folder", "data.path": str(tmp_path / "nowhere")})
    assert latent.explore_data(missing) is None


@pytest.mark.skipif(latent._OPENMP is None, reason="torch does not run on an OpenMP runtime here")
def test_single_threaded_changes_only_the_calling_thread():
    import threading

    def threads_in_another_thread() -> int:
        seen = []
        other = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        other.start()
        other.join()
        return seen[0]

    before, other_before = torch.get_num_threads(), threads_in_another_thread()
    with latent.single_threaded():
        inside, other_inside = torch.get_num_threads(), threads_in_another_thread()
    assert inside == 1 and other_inside == other_before
    assert torch.get_num_threads() == before
