"""The "points" evaluator: grid KL / JS and precision / recall for any 2D data, live and on demand, so
that runs on moons, spirals or uploaded points get a quality readout without mode labels."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from genlab.config import RunConfig
from genlab.evaluation import cheap_metrics, evaluate, sample
from genlab.metrics.density2d import grid_divergences
from genlab.metrics.precision_recall import precision_recall
from genlab.trainers import make_trainer

LIVE_KEYS = {"quality/grid_kl", "quality/grid_js", "quality/precision", "quality/recall", "quality/nearest_real"}


def gan_on(dataset: str, steps: int = 3):
    spec = {"name": dataset, "device": "cpu", "data": {"name": dataset, "n_samples": 3000},
            "model": {"family": "gan", "arch": "mlp", "latent_dim": 2, "width": 16, "depth": 1},
            "optim": {"batch_size": 32}}
    trainer = make_trainer(RunConfig.from_dict(json.loads(json.dumps(spec))))
    for _ in range(steps):
        trainer.step()
    return trainer


class PointBank(nn.Module):
    """A stand-in generator: z picks one of `points` (by the normal CDF of z's first coordinate)."""

    def __init__(self, points: torch.Tensor):
        super().__init__()
        self.register_buffer("points", points.float())

    def forward(self, z):
        index = (torch.special.ndtr(z[:, 0]) * len(self.points)).long().clamp(max=len(self.points) - 1)
        return self.points[index]


def with_generator(trainer, points: torch.Tensor):
    trainer.generator = trainer.generator_ema = PointBank(points)  # samples may come from the EMA copy
    return trainer


def test_moons_get_a_live_quality_readout_without_mode_labels():
    trainer = gan_on("moons")
    rng = trainer.state_dict()["rng"].clone()
    live = cheap_metrics(trainer)
    assert set(live) == LIVE_KEYS  # no mode metrics for moons, but these
    assert cheap_metrics(trainer) == live  # fixed noise, fixed real sample
    assert torch.equal(trainer.state_dict()["rng"], rng)  # measuring does not move training's RNG
    assert 0 <= live["quality/grid_js"] <= 0.7 and 0 <= live["quality/precision"] <= 1


def test_the_live_numbers_tell_a_good_generator_from_a_collapsed_one():
    trainer = gan_on("moons", steps=0)
    good = cheap_metrics(with_generator(trainer, trainer.data.x))
    collapsed = cheap_metrics(with_generator(gan_on("moons", steps=0), trainer.data.x[:1]))
    assert good["quality/recall"] > 0.9 and good["quality/precision"] > 0.9 and good["quality/grid_js"] < 0.1
    assert collapsed["quality/recall"] < 0.05 and collapsed["quality/grid_js"] > 0.6
    assert collapsed["quality/grid_kl"] > good["quality/grid_kl"] + 3
    assert good["quality/nearest_real"] < 0.1  # samples are data points, the real set a subset of them
    far = cheap_metrics(with_generator(gan_on("moons", steps=0), trainer.data.x + torch.tensor([0.0, 20.0])))
    assert far["quality/nearest_real"] > 15  # moons span about 3.4 in y: 20 up is over 16 from all of them


def test_on_demand_matches_the_metric_functions_on_the_same_draws():
    trainer = gan_on("spiral")
    evaluation = evaluate(trainer, n_samples=800, seed=3, only=["points"])
    result = evaluation.results["points"]
    assert result["n_real"] == 800 and result["k"] == 3 and result["bins"] == 40
    assert set(evaluation.history_row) == {"eval/grid_kl", "eval/grid_js", "eval/precision", "eval/recall",
                                           "eval/nearest_real"}
    # the same draws by hand: a real subset, then the generated samples, from one seeded generator
    generator = torch.Generator().manual_seed(3)
    real = trainer.data.x[torch.randperm(len(trainer.data), generator=generator)[:800]]
    fake = sample(trainer, 800, generator)
    expected = {**grid_divergences(real, fake), **precision_recall(real, fake),
                "nearest_real": float(torch.cdist(fake, real).min(1).values.median())}
    for key, value in expected.items():
        assert result[key] == pytest.approx(value)


def test_images_are_not_scored_as_points():
    spec = {"name": "s", "device": "cpu", "data": {"name": "shapes", "n_samples": 64, "image_size": 32},
            "model": {"family": "vae", "arch": "mlp", "latent_dim": 2, "width": 16, "depth": 1},
            "optim": {"batch_size": 16}}
    trainer = make_trainer(RunConfig.from_dict(spec))
    evaluation = evaluate(trainer, n_samples=50, only=["points"])
    assert evaluation.skipped == {"points": "grid KL/JS and precision/recall are for 2D points; this run's data are images"}
