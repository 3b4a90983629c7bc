"""genlab.latent: interpolation maths, endpoint decoding, KL-ordered traversals, grids, PCA, uploads."""
from __future__ import annotations

import io
import json
import math
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence
from scipy.stats import norm

from genlab import pictures
from genlab.latent import explorer
from genlab.latent.analysis import (
    Analysis,
    analyse,
    analyse_run,
    describe_dims,
    factor_association,
    kl_from_history,
    pca_2d,
    traversal_order,
)
from genlab.latent.grids import (
    manifold,
    manifold_latents,
    prior_quantile_values,
    traversal_latents,
    traversal_values,
    traverse,
)
from genlab.latent.interpolation import METHODS, interpolate, interpolation_path, lerp, random_latent, slerp
from genlab.latent.model import LatentModel, encode_data, explore_data, run_stamp
from genlab.latent.uploads import image_from_bytes
from genlab.runs import WEIGHTS_FILE, save_run
from genlab.config import RunConfig
from genlab.trainers import make_trainer

from conftest import TINY_RING_GAN

TINY_VAE = {
    "name": "tiny-vae",
    "data": {"name": "shapes", "n_samples": 64, "image_size": 28},
    "model": {"family": "vae", "arch": "mlp", "latent_dim": 4, "width": 16, "depth": 1},
    "optim": {"batch_size": 16, "lr_encoder": 1e-3, "lr_decoder": 1e-3},
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
def vae_model() -> LatentModel:
    torch.manual_seed(0)
    return LatentModel(tiny_trainer(TINY_VAE))


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


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
        path = slerp(a, b, t)
        assert torch.allclose(path.norm(dim=1), torch.ones(21), atol=1e-5)
        # and it is a great-circle arc at constant speed: the angle to a grows linearly with t
        omega = torch.arccos(torch.clamp(a @ b, -1, 1))
        angles = torch.arccos(torch.clamp(path @ a, -1, 1))
        assert torch.allclose(angles, t * omega, atol=2e-3)
    # lerp, by contrast, cuts inside the sphere
    a, b = unit(torch.randn(dim, generator=g)), unit(torch.randn(dim, generator=g))
    assert float(lerp(a, b, 0.5).norm()) < 0.99


def test_slerp_keeps_the_norm_for_nearly_and_exactly_antiparallel_unit_endpoints():
    a = unit(torch.tensor([1.0, 2.0, -0.5, 0.3]))
    t = torch.linspace(0, 1, 11)
    for b in (-a, unit(-a + 1e-6 * torch.tensor([0.0, 1.0, 0.0, 0.0]))):
        path = slerp(a, b, t)
        assert torch.allclose(path.norm(dim=1), torch.ones(11), atol=1e-5)
        assert torch.isfinite(path).all()
        assert torch.allclose(path[-1], b, atol=1e-6)


def test_slerp_equals_lerp_for_parallel_and_zero_vectors():
    t = torch.linspace(0, 1, 9)
    a = torch.tensor([0.3, -1.2, 2.0])
    for b in (a.clone(), 2.5 * a, a * (1 + 1e-7)):
        assert torch.allclose(slerp(a, b, t), lerp(a, b, t), atol=1e-6)
    zero = torch.zeros(3)
    assert torch.equal(slerp(zero, a, t), lerp(zero, a, t))
    assert torch.equal(slerp(a, zero, t), lerp(a, zero, t))
    # one-dimensional latents: opposite signs have no arc between them; the path is linear
    assert torch.allclose(slerp(torch.tensor([1.0]), torch.tensor([-2.0]), t),
                          lerp(torch.tensor([1.0]), torch.tensor([-2.0]), t))


def test_slerp_of_unequal_lengths_interpolates_the_length_linearly():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = slerp(a, b, 0.5)
    assert math.isclose(float(mid.norm()), 2.0, rel_tol=1e-6)
    assert torch.allclose(unit(mid), unit(torch.tensor([1.0, 1.0])), atol=1e-6)


def test_interpolation_path_starts_and_ends_exactly_at_the_endpoints():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(7, generator=g), torch.randn(7, generator=g)
    for method in METHODS:
        path = interpolation_path(a, b, 6, method)
        assert path.shape == (6, 7)
        assert torch.equal(path[0], a) and torch.equal(path[-1], b)
        assert torch.equal(interpolate(a, b, 0.0, method), a)
        assert torch.equal(interpolate(a, b, 1.0, method), b)
    with pytest.raises(ValueError, match="method"):
        interpolate(a, b, 0.5, "cubic")
    with pytest.raises(ValueError, match="at least 2"):
        interpolation_path(a, b, 1)


def test_random_latent_is_reproducible():
    assert torch.equal(random_latent(8, 3), random_latent(8, 3))
    assert not torch.equal(random_latent(8, 3), random_latent(8, 4))


# ------------------------------------------------------------------------------------------------
# decoding endpoints
# ------------------------------------------------------------------------------------------------
def test_endpoints_of_an_interpolation_decode_to_the_endpoint_images(vae_model):
    data = explore_data(vae_model.config, n=32)
    encode_data(vae_model, data)
    cases = {
        "random seeds": (random_latent(4, 0), random_latent(4, 1)),
        "encoded images": (data.mu[3], data.mu[7]),
    }
    for name, (a, b) in cases.items():
        image_a, image_b = vae_model.decode(a), vae_model.decode(b)
        assert not torch.equal(image_a, image_b), name
        for method in METHODS:
            # the slider's frame at t = 0 / 1: one latent decoded, exactly the endpoint's image
            assert torch.equal(vae_model.decode(interpolate(a, b, 0.0, method)), image_a), (name, method)
            assert torch.equal(vae_model.decode(interpolate(a, b, 1.0, method)), image_b), (name, method)
            # the strip decodes all frames in one batch: equal up to float rounding of a batched matmul
            frames = vae_model.decode(interpolation_path(a, b, 5, method))
            assert torch.allclose(frames[0], image_a[0], atol=1e-5), (name, method)
            assert torch.allclose(frames[-1], image_b[0], atol=1e-5), (name, method)
            # and the exported GIF starts with that first frame's pixels
            gif = Image.open(io.BytesIO(pictures.gif_bytes(pictures.to_uint8(frames))))
            first = np.asarray(next(ImageSequence.Iterator(gif)).convert("L"))
            assert np.array_equal(first, pictures.to_uint8(frames)[0])
            assert np.abs(first.astype(int) - pictures.to_uint8(image_a)[0].astype(int)).max() <= 1
    # an encoded endpoint decodes to the model's reconstruction of that data image
    recon = vae_model.decode(vae_model.encode(data.x[3:4]))
    assert torch.allclose(vae_model.decode(interpolate(data.mu[3], data.mu[7], 0.0)), recon, atol=1e-5)


def test_latent_model_decodes_one_latent_in_eval_mode_and_is_reentrant():
    torch.manual_seed(0)
    trainer = tiny_trainer(TINY_CONV_GAN, steps=2)
    model = LatentModel(trainer)
    z = random_latent(5, 0)
    one = model.decode(z)  # batch of one through BatchNorm: only works with running statistics
    assert one.shape == (1, 1, 28, 28) and 0.0 <= float(one.min()) and float(one.max()) <= 1.0
    batch = model.decode(torch.stack([z, random_latent(5, 1)]))
    assert torch.allclose(batch[:1], one, atol=1e-5)  # eval mode: a sample does not depend on its batch
    assert all(not net.training for net in trainer.networks.values())
    with pytest.raises(ValueError, match="no encoder"):
        model.encode(one)


def test_latent_model_loads_a_saved_run(tmp_path):
    torch.manual_seed(0)
    trainer = tiny_trainer(TINY_VAE, steps=2)
    path = save_run(trainer, {"loss/total": [1.0, 0.5]}, root=tmp_path)
    model = LatentModel.load(path)
    z = random_latent(4, 5)
    assert model.family == "vae" and model.latent_dim == 4 and model.data_shape == (1, 28, 28)
    assert torch.allclose(model.decode(z), trainer.decode(z[None]).cpu(), atol=1e-6)


# ------------------------------------------------------------------------------------------------
# KL per dimension and traversals
# ------------------------------------------------------------------------------------------------
def test_traversal_order_follows_kl(vae_model, monkeypatch):
    # An encoder with a known posterior: dimension j has mean scale[j]·(pixel mean) and log-variance logvar[j],
    # so its KL is known in closed form and the most informative dimensions are 2, 0, 3, 1.
    scale = torch.tensor([2.0, 0.0, 6.0, 0.5])
    logvar = torch.tensor([-2.0, 0.0, -4.0, -0.5])

    def encode(x):
        signal = x.flatten(1).mean(1, keepdim=True) * 10
        return signal * scale, logvar.expand(len(x), 4)

    monkeypatch.setattr(vae_model.trainer.vae, "encode", encode)
    data = explore_data(vae_model.config, n=64)
    analysis = analyse(vae_model, data)
    signal = data.x.flatten(1).mean(1) * 10
    expected_kl = 0.5 * ((signal[:, None] * scale) ** 2).mean(0) + 0.5 * (logvar.exp() - logvar - 1)
    assert torch.allclose(analysis.kl, expected_kl, rtol=1e-5)
    assert analysis.order == [2, 0, 3, 1] == sorted(range(4), key=lambda j: -float(expected_kl[j]))

    trav = traverse(vae_model, torch.zeros(4), analysis.order[:3], -2.0, 2.0, 5, kl=analysis.kl)
    assert trav.dims == [2, 0, 3] and trav.decoded.shape == (3, 5, 1, 28, 28)
    labels = describe_dims(analysis.kl, None, (), trav.dims)
    assert [label.split(" · ")[0] for label in labels] == ["z2", "z0", "z3"]
    # a dimension with zero KL is labelled as unused
    assert "inactive" in describe_dims(analysis.kl, None, (), [1])[0]


def test_traversal_order_without_kl_is_index_order_and_ties_keep_index_order():
    assert traversal_order(None, 4) == [0, 1, 2, 3]
    assert traversal_order(torch.tensor([1.0, 3.0, 1.0, 0.0]), 4) == [1, 0, 2, 3]


def test_kl_from_history_uses_the_last_finite_values():
    history = {"kl/dim_0": [0.1, 0.5], "kl/dim_1": [2.0, float("nan")]}
    assert torch.allclose(kl_from_history(history, 2), torch.tensor([0.5, 2.0]))
    assert kl_from_history(history, 3) is None


def test_traversal_latents_change_one_dimension_per_row():
    base = torch.tensor([0.5, -1.0, 2.0])
    z = traversal_latents(base, [2, 0], torch.tensor([-1.0, 0.0, 1.0]))
    assert z.shape == (2, 3, 3)
    assert torch.equal(z[0, :, 2], torch.tensor([-1.0, 0.0, 1.0])) and torch.equal(z[0, :, :2], base[:2].repeat(3, 1))
    assert torch.equal(z[1, :, 0], torch.tensor([-1.0, 0.0, 1.0])) and torch.equal(z[1, :, 1:], base[1:].repeat(3, 1))
    with pytest.raises(ValueError):
        traversal_values(1.0, 1.0, 5)


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
    assoc = factor_association(mu, factors, ("shape", "pos_x", "rotation"))
    assert assoc.shape == (4, 3)
    assert assoc.argmax(1)[:3].tolist() == [1, 0, 2]
    assert float(assoc[3].max()) < 0.2 and float(assoc[:3].max(1).values.min()) > 0.9
    labels = describe_dims(torch.ones(4), assoc, ("shape", "pos_x", "rotation"), [0, 2])
    assert "pos_x" in labels[0] and "rotation" in labels[1]


# ------------------------------------------------------------------------------------------------
# manifold grid and PCA
# ------------------------------------------------------------------------------------------------
def test_prior_quantile_values_are_the_normal_inverse_cdf():
    values = prior_quantile_values(7, 0.05, 0.95)
    assert np.allclose(values.numpy(), norm.ppf(np.linspace(0.05, 0.95, 7)), atol=1e-5)
    assert float(values[3]) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        prior_quantile_values(5, 0.0, 0.9)


def test_manifold_grid_layout_is_image_like():
    z = manifold_latents(3, 4, dims=(2, 0)).reshape(4, 4, 3)
    q = prior_quantile_values(4)
    assert torch.equal(z[0, :, 2], q) and torch.equal(z[:, 0, 0], q.flip(0))  # x grows rightwards, y upwards
    assert torch.equal(z[..., 1], torch.zeros(4, 4))
    with pytest.raises(ValueError):
        manifold_latents(1, 4)
    with pytest.raises(ValueError):
        manifold_latents(3, 4, dims=(1, 1))


def test_manifold_decodes_the_grid(vae_model):
    images = manifold(vae_model, 3, (0, 1))
    assert images.shape == (9, 1, 28, 28)
    expected = vae_model.decode(manifold_latents(4, 3, (0, 1)))
    assert torch.equal(images, expected)


def test_pca_2d_matches_an_eigendecomposition():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g) @ torch.randn(5, 5, generator=g) + 3.0
    coords, ratio = pca_2d(x)
    xc = (x - x.mean(0)).double().numpy()
    eigval, eigvec = np.linalg.eigh(np.cov(xc, rowvar=False))
    top = eigvec[:, ::-1][:, :2]
    assert np.allclose(ratio.numpy(), eigval[::-1][:2] / eigval.sum(), atol=1e-5)
    reference = xc @ top
    for k in range(2):  # equal up to each axis' sign
        assert np.allclose(np.abs(coords[:, k].numpy()), np.abs(reference[:, k]), atol=1e-3)
    line = torch.linspace(-1, 1, 50)[:, None] * torch.tensor([[1.0, 2.0, 0.0]])
    _, ratio = pca_2d(line)
    assert ratio[0] == pytest.approx(1.0) and ratio[1] == pytest.approx(0.0, abs=1e-6)
    coords, _ = pca_2d(torch.randn(10, 1, generator=g))
    assert coords.shape == (10, 2) and torch.equal(coords[:, 1], torch.zeros(10))


# ------------------------------------------------------------------------------------------------
# uploads and exploration data
# ------------------------------------------------------------------------------------------------
def test_image_from_bytes_converts_resizes_inverts_and_refuses_junk():
    picture = np.zeros((40, 60, 3), dtype=np.uint8)
    picture[:, 30:] = 255
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    x = image_from_bytes(buffer.getvalue(), (1, 28, 28))
    assert x.shape == (1, 28, 28) and float(x[0, 14, 2]) == 0.0 and float(x[0, 14, 25]) == 1.0
    inverted = image_from_bytes(buffer.getvalue(), (1, 28, 28), invert=True)
    assert torch.allclose(inverted, 1 - x)
    assert image_from_bytes(buffer.getvalue(), (3, 32, 32)).shape == (3, 32, 32)
    with pytest.raises(ValueError, match="not a readable image"):
        image_from_bytes(b"definitely not an image", (1, 28, 28))
    big = io.BytesIO()
    Image.new("L", (4200, 4200)).save(big, format="PNG")
    with pytest.raises(ValueError, match="too large"):
        image_from_bytes(big.getvalue(), (1, 28, 28))
    tiff = io.BytesIO()  # a real picture, but not a format the upload offers: its decoder is never run
    Image.fromarray(picture).save(tiff, format="TIFF")
    with pytest.raises(ValueError, match="TIFF images are not accepted"):
        image_from_bytes(tiff.getvalue(), (1, 28, 28))


def test_explore_data_subsamples_and_reports_unavailable_sets(tmp_path):
    config = RunConfig.from_dict(json.loads(json.dumps(TINY_VAE)))
    data = explore_data(config, n=16)
    assert data.x.shape == (16, 1, 28, 28) and data.factors.shape == (16, 5) and data.labels.shape == (16,)
    assert 0.0 <= float(data.x.min()) and float(data.x.max()) <= 1.0
    missing = config.replace(**{"data.name": "folder", "data.path": str(tmp_path / "nowhere")})
    assert explore_data(missing) is None


def test_describe_names_the_class_and_factors_of_a_sample(vae_model):
    data = explore_data(vae_model.config, n=8)
    words = data.describe(3).split(" · ")
    assert words[0] == "#3" and words[1] == data.class_names[int(data.labels[3])]
    shown = [name for name in data.factor_names if name != "shape"]  # shape is the class already
    assert [w.split(" ")[0] for w in words[2:]] == shown
    assert words[2].split(" ")[1] == f"{float(data.factors[3, data.factor_names.index(shown[0])]):.2f}"


def test_run_stamp_changes_when_the_run_files_change(tmp_path):
    torch.manual_seed(0)
    path = save_run(tiny_trainer(TINY_VAE, steps=1), {}, root=tmp_path)
    first = run_stamp(path)
    assert run_stamp(path) == first
    weights = path / WEIGHTS_FILE
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # as a re-save would
    assert run_stamp(path) != first
    assert run_stamp(tmp_path / "missing").endswith("|-|-")


# ------------------------------------------------------------------------------------------------
# what the explorer page shows (genlab.latent.explorer)
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vae_analysis(vae_model) -> Analysis:
    return analyse_run(vae_model)


def test_interpolation_strip_and_frame_of_an_image_model(vae_model):
    a, b = random_latent(4, 0).numpy(), random_latent(4, 1).numpy()
    strip = explorer.interpolation_strip(vae_model, None, a, b, "spherical", 5)
    frames = vae_model.decode(interpolation_path(torch.from_numpy(a), torch.from_numpy(b), 5, "spherical"))
    up = pictures.upscale_for(28, explorer.STRIP_PX)
    assert np.array_equal(decode_png(strip.png), pictures.image_grid(frames, nrow=5, upscale=up))
    assert pictures.gif_frame_count(strip.gif) == 8 and strip.decoded is None  # 5 forward, 3 back
    png, caption = explorer.frame_png(vae_model, None, None, a, b, 1.0, "spherical")
    size = 28 * pictures.upscale_for(28, explorer.FRAME_PX)
    assert caption == "decoded at t = 1.00" and decode_png(png).shape == (size, size)
    assert np.array_equal(decode_png(png)[::size // 28, ::size // 28], pictures.to_uint8(vae_model.decode(b))[0])


def test_interpolation_strip_and_frame_of_a_2d_model():
    torch.manual_seed(0)
    model = LatentModel(tiny_trainer(TINY_RING_GAN, steps=2))
    analysis = analyse_run(model)
    assert analysis.reference.shape[1] == 2 and analysis.kl is None and analysis.order == [0, 1]
    a, b = random_latent(2, 0).numpy(), random_latent(2, 1).numpy()
    strip = explorer.interpolation_strip(model, analysis.reference, a, b, "linear", 4)
    # frames that look the same (an untrained model barely moves) are merged by Pillow: at most 4 + 2
    assert strip.decoded.shape == (4, 2) and 1 <= pictures.gif_frame_count(strip.gif) <= 6
    assert torch.equal(strip.decoded, model.decode(interpolation_path(torch.from_numpy(a), torch.from_numpy(b), 4)))
    assert decode_png(strip.png).shape == (explorer.GIF_PX, 4 * explorer.GIF_PX + 3 * 4, 3)
    png, caption = explorer.frame_png(model, analysis.reference, strip.decoded, a, b, 0.0, "linear")
    x = model.decode(torch.from_numpy(a))
    assert caption == f"decoded at t = 0.00: ({float(x[0, 0]):.3f}, {float(x[0, 1]):.3f})"
    assert decode_png(png).shape == (explorer.FRAME_PX, explorer.FRAME_PX, 3)
    view = explorer.traversal_view(model, analysis, np.zeros(2, np.float32), [1, 0], -1.0, 1.0, 3)
    assert view.rows == [] and view.traversal.decoded.shape == (2, 3, 2) and view.labels == ["z1", "z0"]
    grid = explorer.manifold_view(model, analysis.reference, 3, (0, 1), 0.1, 0.9)
    assert torch.equal(grid.decoded, manifold(model, 3, (0, 1), None, 0.1, 0.9))


def test_traversal_and_manifold_views_of_an_image_model(vae_model, vae_analysis):
    view = explorer.traversal_view(vae_model, vae_analysis, np.zeros(4, np.float32), [2, 0], -2.0, 2.0, 3)
    assert len(view.rows) == len(view.labels) == 2 and view.traversal is None
    assert view.labels[0].startswith("z2 · KL ")
    up = pictures.upscale_for(28, explorer.GRID_PX)
    rows = [decode_png(row) for row in view.rows]
    assert all(row.shape == (28 * up + 2 * 2 * up, 3 * (28 + 2) * up + 2 * up) for row in rows)
    whole = decode_png(view.grid_png)
    assert np.array_equal(whole[: rows[0].shape[0]], rows[0])  # the download holds the rows, top to bottom
    grid = explorer.manifold_view(vae_model, None, 3, (0, 1), 0.05, 0.95)
    expected = pictures.image_grid(manifold(vae_model, 3, (0, 1)), nrow=3, upscale=up)
    assert grid.decoded is None and np.array_equal(decode_png(grid.png), expected)


def test_a_one_dimensional_latent_decodes_a_line():
    model = SimpleNamespace(latent_dim=1, decode=lambda z: z.clone())
    assert torch.equal(manifold(model, 5, low_q=0.1, high_q=0.9), prior_quantile_values(5, 0.1, 0.9)[:, None])


def test_latent_map_coordinates_colours_thumbnails_and_selection(vae_model, vae_analysis):
    data = vae_analysis.data
    coords, axes = explorer.map_coordinates(vae_analysis, vae_model.latent_dim)
    assert torch.equal(coords, vae_analysis.pca) and axes[0].startswith("PC 1 (")
    assert explorer.map_coordinates(vae_analysis, 2) == (data.mu, ("z0", "z1"))
    options = explorer.colour_options(data)
    assert options == ["label", *data.factor_names, "none"]
    assert explorer.map_colours(data, "none") == (None, ())
    labels, categories = explorer.map_colours(data, "label")
    assert np.array_equal(labels, data.labels.numpy()) and categories == data.class_names
    scale, categories = explorer.map_colours(data, data.factor_names[-1])
    assert np.array_equal(scale, data.factors[:, -1].numpy()) and categories == ()
    thumbs, size = explorer.thumbnails(data, coords, count=5)
    assert len(thumbs) == 5 and all(uri.startswith("data:image/png;base64,") for _, _, uri in thumbs)
    assert size == pytest.approx(float((coords.max(0).values - coords.min(0).values).max()) / 14)
    assert {(x, y) for x, y, _ in thumbs} <= {(float(c[0]), float(c[1])) for c in coords}
    picture, caption = explorer.selection_picture(data, list(range(50)))
    assert caption == f"50 selected (first {explorer.SELECTION_MAX} shown)"
    up = pictures.upscale_for(28, explorer.SELECTION_PX)
    assert np.array_equal(picture, pictures.image_grid(data.x[: explorer.SELECTION_MAX], nrow=12, upscale=up))


def test_upload_encoding_and_the_run_picked_first(vae_model):
    buffer = io.BytesIO()
    Image.new("L", (20, 20), color=255).save(buffer, format="PNG")
    code = explorer.encode_upload(vae_model, buffer.getvalue(), invert=True)  # white drawn as black
    assert np.allclose(code, vae_model.encode(torch.zeros(1, 1, 28, 28))[0].numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="not a readable image"):
        explorer.encode_upload(vae_model, b"junk", invert=False)
    assert explorer.inverts_uploads(vae_model.config)  # shapes are white on black
    assert explorer.default_run(["mine", "ring-gan", "fashion-vae"]) == "fashion-vae"
    assert explorer.default_run(["mine", "yours"]) == "mine"
