"""genlab.evaluation: one registry for `genlab eval`, "Evaluate now" and the live quality metrics.

Each evaluator either measures or says in one line why it does not apply; a saved run evaluates to the
same numbers as the live trainer it was saved from.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from genlab.cli import main
from genlab.config import RunConfig
from genlab.evaluation import EVALUATORS, Evaluator, cheap_metrics, evaluate, register
from genlab.runs import save_run
from genlab.trainers import make_trainer

TINY_RING = {"name": "ring", "device": "cpu", "data": {"name": "ring", "n_samples": 256},
             "model": {"family": "gan", "arch": "mlp", "latent_dim": 4, "width": 16, "depth": 1},
             "optim": {"batch_size": 32}}
TINY_SHAPES_VAE = {"name": "vae", "device": "cpu", "data": {"name": "shapes", "n_samples": 256, "image_size": 32},
                   "model": {"family": "vae", "arch": "mlp", "latent_dim": 4, "width": 32, "depth": 1},
                   "optim": {"batch_size": 32}}
TINY_SHAPES_GAN = {**TINY_SHAPES_VAE, "name": "gan", "model": {**TINY_SHAPES_VAE["model"], "family": "gan"}}


def trained(spec: dict, steps: int = 5):
    trainer = make_trainer(RunConfig.from_dict(json.loads(json.dumps(spec))))
    for _ in range(steps):
        trainer.step()
    return trainer


def test_a_vae_on_shapes_gets_every_evaluator_that_applies():
    trainer = trained(TINY_SHAPES_VAE, steps=20)
    evaluation = evaluate(trainer, n_samples=200, ks=(1, 10))
    assert list(evaluation.results) == ["fid", "vae", "mig"]
    assert list(evaluation.skipped) == ["modes", "points"] and "2D points" in evaluation.skipped["modes"]
    row = evaluation.history_row
    assert set(row) == {"eval/fid", "eval/kid_mean", "eval/kid_std", "eval/elbo", "eval/recon_nll", "eval/kl",
                        "eval/active_units", "eval/nll_k1", "eval/nll_k10", "eval/mig"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in row.values())
    assert row["eval/nll_k10"] <= row["eval/nll_k1"]
    assert row["eval/elbo"] == pytest.approx(-(row["eval/recon_nll"] + row["eval/kl"]))
    flat = evaluation.flat()  # what `genlab eval` prints: every number, under its evaluator's name
    assert flat["vae/n_test"] == 200 and flat["fid/n_fake"] == 200 and "mig/mig" in flat
    assert flat["vae/elbo"] == row["eval/elbo"]


def test_a_ring_gan_says_why_the_other_evaluators_do_not_apply():
    evaluation = evaluate(trained(TINY_RING), n_samples=300, seed=4)
    assert list(evaluation.results) == ["modes", "points"]
    assert set(evaluation.skipped) == {"fid", "vae", "mig"}
    assert "for images" in evaluation.skipped["fid"] and "GAN" in evaluation.skipped["vae"]
    assert all("\n" not in reason for reason in evaluation.skipped.values())
    report = evaluation.report("ring")
    assert report["run"] == "ring" and report["n_samples"] == 300 and report["seed"] == 4
    assert report["evaluators"] == ["modes", "points"] and report["modes/modes_total"] == 8
    assert 0 <= report["points/precision"] <= 1 and 0 <= report["points/grid_js"] <= 0.7


def test_points_without_known_modes_are_scored_without_mode_coverage():
    evaluation = evaluate(trained({**TINY_RING, "data": {"name": "moons", "n_samples": 256}}), n_samples=100)
    assert list(evaluation.results) == ["points"]  # grid KL/JS and precision/recall need no mode labels
    assert evaluation.skipped["modes"].startswith("no mode labels for moons")


def test_a_saved_run_evaluates_to_the_numbers_of_the_live_trainer(tmp_path, capsys):
    """`genlab eval` on the saved run and "Evaluate now" on the trainer share one registry and one seed."""
    trainer = trained(TINY_RING, steps=30)
    save_run(trainer, root=tmp_path, name="ring")
    assert main(["eval", "ring", "--root", str(tmp_path), "-n", "400", "--seed", "5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    live = evaluate(trainer, n_samples=400, seed=5).history_row
    for key in ("modes_covered", "modes_total", "high_quality_fraction", "reverse_kl"):
        assert live[f"eval/{key}"] == printed[f"modes/{key}"]


def test_a_registered_evaluator_measures_where_it_applies_and_says_why_elsewhere(monkeypatch):
    monkeypatch.setattr("genlab.evaluation.registry.EVALUATORS", dict(EVALUATORS))

    def mean_radius(trainer, settings):
        z = torch.randn(settings.n_samples, trainer.latent_dim, generator=settings.generator)
        return {"mean_radius": float(trainer.generate(z).norm(dim=1).mean()), "unit": "data units"}

    register(Evaluator("radius", lambda t: None if t.data.kind == "points" else "only for points",
                       measure=mean_radius, recorded=lambda key: key == "mean_radius",
                       quick=lambda t: {"radius_now": 1.5}))
    ring = trained(TINY_RING)
    evaluation = evaluate(ring, n_samples=50, only=["radius"])
    assert list(evaluation.results) == ["radius"] and evaluation.skipped == {}
    assert set(evaluation.history_row) == {"eval/mean_radius"}  # the text field is not recorded
    again = evaluate(ring, n_samples=50, seed=0, only=["modes", "radius"])  # same seed, same draws
    assert again.results["radius"] == evaluation.results["radius"]
    assert cheap_metrics(ring)["quality/radius_now"] == 1.5
    shapes = trained(TINY_SHAPES_VAE, steps=1)
    assert evaluate(shapes, n_samples=50, only=["radius"]).skipped == {"radius": "only for points"}
    assert "quality/radius_now" not in cheap_metrics(shapes)


@pytest.mark.parametrize("spec, keys", [
    (TINY_RING, {"quality/modes_covered", "quality/modes_total", "quality/high_quality_fraction",
                 "quality/reverse_kl", "quality/modes_with_any_high_quality_sample", "quality/grid_kl",
                 "quality/grid_js", "quality/precision", "quality/recall", "quality/nearest_real"}),
    (TINY_SHAPES_GAN, {"quality/diversity"}),
    (TINY_SHAPES_VAE, {"quality/active_units", "quality/kl_total"}),
])
def test_cheap_metrics_measure_what_applies_and_leave_training_alone(spec, keys):
    trainer = trained(spec, steps=2)
    rng = trainer.state_dict()["rng"].clone()
    first = cheap_metrics(trainer)
    assert set(first) == keys and all(isinstance(v, float) for v in first.values())
    assert cheap_metrics(trainer) == first  # fixed noise and a fixed batch: the same weights give the same numbers
    assert torch.equal(trainer.state_dict()["rng"], rng)
