"""A user's 2D points at any scale: the networks see them standardized (genlab.data.standardize), samples and
plots stay in the user's units, and a saved run keeps the map its weights were trained through."""
from __future__ import annotations

import json

import pytest
import torch

from genlab.data import toy2d
from genlab.data.points import points_from_array
from genlab.data.standardize import TARGET_RMS_RADIUS, Standardization
from genlab.metrics.vae_metrics import elbo
from genlab.presets import config_for
from genlab.runs import CheckpointError, load_run, save_run
from genlab.trainers import make_trainer

RING = toy2d.make_points("ring", 512, 0).numpy()
SHIFT = (300.0, -40.0)


def user_points(scale: float):
    """The ring as a user's upload, in other units: scaled, then moved away from the origin."""
    return points_from_array(RING * scale + SHIFT, origin="ring.csv")


def trainer_on(data, family: str = "gan", steps: int = 0, **dotted):
    config = config_for(family, "points", dotted={"data.path": "upload:ring.csv", "optim.batch_size": 64, **dotted})
    trainer = make_trainer(config, device="cpu", data=data)
    for _ in range(steps):
        trainer.step()
    return trainer


def test_the_map_centres_the_points_and_brings_their_rms_radius_to_the_target():
    x = torch.tensor([[10.0, 20.0], [14.0, 20.0], [10.0, 23.0], [14.0, 23.0]])  # a 4 x 3 rectangle
    standardization = Standardization.fit(x)
    assert standardization.centre == (12.0, 21.5)
    assert standardization.scale == pytest.approx(2.5 / TARGET_RMS_RADIUS)  # corners lie 2.5 from the centre
    model = standardization.to_model(x)
    assert model.mean(0).abs().max() < 1e-6
    assert float(model.square().sum(1).mean().sqrt()) == pytest.approx(TARGET_RMS_RADIUS)
    # one scale for both axes: the rectangle keeps its 4 : 3 sides
    assert float(model[1, 0] - model[0, 0]) / float(model[2, 1] - model[0, 1]) == pytest.approx(4 / 3)
    assert torch.allclose(standardization.to_data(model), x)


def test_points_that_all_coincide_are_only_moved():
    standardization = Standardization.fit(torch.full((5, 2), 7.0))
    assert standardization == Standardization((7.0, 7.0), 1.0)


def test_built_in_sets_are_not_moved():
    trainer = make_trainer(config_for("gan", "ring", dotted={"data.n_samples": 256}), device="cpu")
    assert trainer.standardization.is_identity


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_training_is_the_same_at_any_scale_of_the_users_points(family):
    """The ring at scale 1 and at scale 100 (moved off the origin as well) give the same training, up to
    float32 rounding: the same losses, and samples that differ by the change of units."""
    small, large = (trainer_on(user_points(scale), family) for scale in (1.0, 100.0))
    for _ in range(15):
        metrics_small, metrics_large = small.step(), large.step()
    loss = "loss/d" if family == "gan" else "loss/total"
    assert metrics_large[loss] == pytest.approx(metrics_small[loss], rel=1e-3)
    z = torch.randn(64, small.latent_dim, generator=torch.Generator().manual_seed(1))
    in_units = (small.generate(z) - torch.tensor(SHIFT)) * 100.0 + torch.tensor(SHIFT)
    assert torch.allclose(large.generate(z), in_units, rtol=0, atol=0.05)  # 100 units = the ring's radius 2


def test_the_2d_heatmap_and_arrows_are_in_the_users_units():
    trainer = trainer_on(user_points(100.0), steps=5)
    probe = torch.tensor([[300.0, -40.0], [450.0, 60.0]], requires_grad=False)
    model_space = trainer.standardization.to_model(probe)
    assert torch.allclose(trainer.critic(probe), trainer.discriminator(model_space).detach())
    # the field is the gradient with respect to the user's coordinates: 1/scale of the networks' one
    field = trainer.generator_field(probe)
    x = model_space.clone().requires_grad_(True)
    loss = torch.nn.functional.softplus(-trainer.discriminator(x)).sum()  # the preset's non-saturating G loss
    (grad,) = torch.autograd.grad(loss, x)
    assert trainer.config.objective.gan_loss == "nonsaturating"
    assert torch.allclose(field, -grad / trainer.standardization.scale, rtol=1e-4, atol=1e-9)


def test_the_vaes_elbo_is_in_the_networks_space_so_it_does_not_depend_on_the_units():
    small, large = (trainer_on(user_points(scale), "vae", steps=10) for scale in (1.0, 100.0))
    held_out = torch.from_numpy(RING[:128])
    first = elbo(small, held_out + torch.tensor(SHIFT), generator=torch.Generator().manual_seed(0))
    second = elbo(large, held_out * 100 + torch.tensor(SHIFT), generator=torch.Generator().manual_seed(0))
    assert second["elbo"] == pytest.approx(first["elbo"], rel=1e-3)


def test_a_saved_run_keeps_its_map_when_its_points_are_gone(tmp_path):
    trainer = trainer_on(user_points(100.0), steps=5)
    path = save_run(trainer, root=tmp_path)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["standardization"] == trainer.standardization.to_json()
    loaded = load_run(path).trainer  # the upload is not on disk: a placeholder data set
    assert loaded.data.origin != trainer.data.origin and loaded.standardization == trainer.standardization
    z = torch.randn(16, trainer.latent_dim)
    assert torch.equal(loaded.generate(z), trainer.generate(z))


def test_a_run_saved_before_the_map_loads_with_the_identity_it_was_trained_with(tmp_path):
    trainer = trainer_on(user_points(1.0), steps=2)
    path = save_run(trainer, root=tmp_path)
    meta = json.loads((path / "meta.json").read_text())
    del meta["standardization"]
    (path / "meta.json").write_text(json.dumps(meta))
    assert load_run(path).trainer.standardization.is_identity


@pytest.mark.parametrize("value", [
    {"centre": [0, 0], "scale": 0},
    {"centre": [0, 0], "scale": -1.0},
    {"centre": [0, 0, 0], "scale": 1.0},
    {"centre": [0, True], "scale": 1.0},
    {"centre": [1e300, 0], "scale": 1.0},
    {"centre": [0, 0], "scale": "1"},
    {"centre": [0, 0]},
    [0, 0, 1],
])
def test_a_tampered_map_is_refused_naming_the_field(tmp_path, value):
    path = save_run(trainer_on(user_points(3.0)), root=tmp_path)
    meta = json.loads((path / "meta.json").read_text())
    meta["standardization"] = value
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="standardization"):
        load_run(path)

