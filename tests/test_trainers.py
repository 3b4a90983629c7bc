"""Trainers: determinism, live hyper-parameters, divergence handling, per-step metrics."""
import copy

import pytest
import torch

from genlab.config import ConfigError, RunConfig
from genlab.trainers import GRADIENT_NORM_EVERY, DivergenceError, GANTrainer, VAETrainer, make_trainer, pick_device
from genlab.training import Hook, run

SMALL_GAN = {"data.n_samples": 2000, "model.width": 32, "optim.batch_size": 64, "stats_every": 5}
SMALL_VAE = {
    "data.name": "shapes", "data.n_samples": 512, "model.family": "vae", "model.arch": "mlp",
    "model.width": 64, "model.latent_dim": 4, "optim.batch_size": 32, "optim.lr_encoder": 1e-3, "optim.lr_decoder": 1e-3,
}


def gan(**overrides) -> GANTrainer:
    return make_trainer(RunConfig().replace(**{**SMALL_GAN, **overrides}), device="cpu")


def vae(**overrides) -> VAETrainer:
    return make_trainer(RunConfig().replace(**{**SMALL_VAE, **overrides}), device="cpu")


def parameters(trainer) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.detach().clone() for n, net in trainer.networks.items() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("build", [gan, vae])
def test_same_seed_same_numbers(build):
    runs = []
    for _ in range(2):
        trainer = build()
        runs.append([trainer.step() for _ in range(12)])
    assert runs[0] == runs[1]
    other = build(seed=1)
    assert [other.step() for _ in range(12)] != runs[0]


def test_gan_metrics_cover_every_term():
    trainer = gan(**{"objective.r1_gamma": 1.0, "objective.r2_gamma": 0.5, "objective.gp_lambda": 10.0,
                     "objective.l1_discriminator": 1e-4, "objective.l2_discriminator": 1e-4,
                     "objective.l1_generator": 1e-4, "objective.l2_generator": 1e-4})
    metrics = trainer.step()
    for key in ["loss/d", "loss/g", "loss/d_adv", "loss/g_adv", "penalty/gp", "penalty/r1", "penalty/r2",
                "penalty/l1_d", "penalty/l2_d", "penalty/l1_g", "penalty/l2_g", "d/real", "d/fake",
                "grad_norm/d", "grad_norm/g", "value/V", "step"]:
        assert key in metrics, key
    assert 0 <= metrics["d/real"] <= 1 and 0 <= metrics["d/fake"] <= 1
    stats = [trainer.step() for _ in range(4)][-1]  # stats_every = 5
    assert any(k.startswith("spectral_norm/discriminator/") for k in stats)
    assert any(k.startswith("weight_norm/generator/") for k in stats)


def test_vae_metrics_and_kl_per_dimension():
    trainer = vae(stats_every=1)
    metrics = trainer.step()
    kl_dims = [metrics[f"kl/dim_{i}"] for i in range(4)]
    assert sum(kl_dims) == pytest.approx(metrics["loss/kl"], rel=1e-5)
    assert metrics["loss/total"] == pytest.approx(metrics["loss/recon"] + metrics["loss/kl"], rel=1e-5)


def kl_dims_sum(metrics: dict) -> float:
    return sum(value for key, value in metrics.items() if key.startswith("kl/dim_"))


def test_the_kl_per_dimension_is_the_mean_over_each_stats_period():
    trainer = vae(stats_every=3)
    steps = [trainer.step() for _ in range(6)]
    assert [any(k.startswith("kl/dim_") for k in m) for m in steps] == [False, False, True] * 2
    for last in (2, 5):  # Σ_i (mean over the period of KL_i) = mean over the period of Σ_i KL_i
        assert kl_dims_sum(steps[last]) == pytest.approx(sum(m["loss/kl"] for m in steps[last - 2: last + 1]) / 3,
                                                         rel=1e-5)
    first = trainer.step()  # step 7 opens the next period
    state = copy.deepcopy(trainer.state_dict())
    trainer.step()
    trainer.load_state_dict(state)  # a rollback: step 8 leaves the running mean, step 7 stays in it
    rest = [trainer.step() for _ in range(2)]
    assert kl_dims_sum(rest[-1]) == pytest.approx((first["loss/kl"] + sum(m["loss/kl"] for m in rest)) / 3, rel=1e-5)
    trainer.step()
    for malformed in (torch.ones(3), torch.tensor([1.0, 1.0, 1.0, 1.0, 2.5]), torch.tensor([1.0, 1.0, 1.0, 1.0, 3.0]),
                      torch.tensor([1.0, 1.0, 1.0, float("nan"), 1.0])):
        trainer.load_state_dict({**trainer.state_dict(), "kl_dims": malformed})
        assert trainer.state_dict()["kl_dims"].tolist() == [0.0] * 5  # it starts over


def test_live_updates_apply_at_next_step_without_rebuilding():
    trainer = gan()
    generator = trainer.generator
    assert "penalty/r1" not in trainer.step()
    trainer.update(**{"objective.r1_gamma": 2.0, "optim.lr_discriminator": 1e-5, "optim.n_critic": 3})
    metrics = trainer.step()
    assert "penalty/r1" in metrics
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == 1e-5
    assert trainer.generator is generator
    assert trainer.optimizers["discriminator"].state[next(trainer.discriminator.parameters())]["step"] == 1 + 3


def test_update_rejects_setup_fields_and_bad_values():
    trainer = vae()
    with pytest.raises(ConfigError) as info:
        trainer.update(**{"model.latent_dim": 3})
    assert info.value.field == "model.latent_dim"
    with pytest.raises(ConfigError) as info:
        trainer.update(**{"objective.beta": -1.0})
    assert info.value.field == "objective.beta"
    trainer.update(**{"objective.beta": 4.0, "objective.kl_warmup_steps": 10})
    assert trainer.step()["beta/effective"] == 0.0
    assert trainer.step()["beta/effective"] == pytest.approx(0.4)


def test_step_d_and_step_g_touch_only_their_network():
    trainer = gan()
    before = parameters(trainer)
    trainer.step_d()
    after_d = parameters(trainer)
    assert all(torch.equal(before[k], after_d[k]) for k in before if k.startswith("generator."))
    assert any(not torch.equal(before[k], after_d[k]) for k in before if k.startswith("discriminator."))
    trainer.step_g()
    after_g = parameters(trainer)
    assert all(torch.equal(after_d[k], after_g[k]) for k in before if k.startswith("discriminator."))
    assert trainer.step_count == 2


def test_weight_clipping_and_spectral_norm_in_training():
    trainer = gan(**{"objective.weight_clip": 0.01, "objective.gan_loss": "wasserstein"})
    trainer.step()
    assert max(float(p.detach().abs().max()) for p in trainer.discriminator.parameters()) <= 0.01
    sn = gan(**{"model.spectral_norm_discriminator": True, "optim.lr_discriminator": 2e-4})
    for _ in range(30):
        sn.step()
    sigmas = [v for k, v in sn.layer_stats().items() if k.startswith("spectral_norm/discriminator/")]
    # one power iteration per forward pass lags a little behind weights that keep moving
    assert sigmas and all(abs(s - 1.0) < 0.1 for s in sigmas)
    unnormalized = gan()
    for _ in range(30):
        unnormalized.step()
    assert max(v for k, v in unnormalized.layer_stats().items() if k.startswith("spectral_norm/discriminator/")) > 1.5


def test_l2_penalty_shrinks_discriminator_weights():
    def weight_norm(l2):
        trainer = gan(**{"objective.l2_discriminator": l2, "optim.lr_discriminator": 1e-3})
        for _ in range(60):
            trainer.step()
        return sum(v for k, v in trainer.layer_stats().items() if k.startswith("weight_norm/discriminator/"))
    assert weight_norm(0.05) < 0.8 * weight_norm(0.0)


@pytest.mark.parametrize("build", [gan, vae])
def test_nan_is_caught_named_and_rolled_back(build):
    trainer = build()
    trainer.step()
    before = parameters(trainer)
    first_net = next(iter(trainer.networks.values()))
    first_net.register_forward_hook(lambda module, inputs, output: output * float("nan"))
    with pytest.raises(DivergenceError) as info:
        trainer.step()  # on its own, the trainer names the term; the update is applied
    assert info.value.term.startswith("loss/") and info.value.term in str(info.value)
    assert info.value.rolled_back_to is None and "applied" in str(info.value)
    trainer = build()
    trainer.step()
    next(iter(trainer.networks.values())).register_forward_hook(lambda module, inputs, output: output * float("nan"))
    result = run(trainer, until=5)  # the loop rolls the step back
    assert result.error.term.startswith("loss/") and result.error.rolled_back_to == 1
    after = parameters(trainer)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert trainer.step_count == 1


def test_infinite_gradient_is_caught_and_rolled_back():
    trainer = gan()
    before = parameters(trainer)
    for p in trainer.discriminator.parameters():
        p.register_hook(lambda grad: grad * float("inf"))
    result = run(trainer, until=1, kind="d")
    assert result.error.term == "grad_norm/d"
    after = parameters(trainer)
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("build", [gan, vae])
def test_gradient_norms_are_read_on_the_first_step_and_every_few_steps_or_every_step_when_clipping(build):
    names = {"gan": ("grad_norm/d", "grad_norm/g"), "vae": ("grad_norm/encoder", "grad_norm/decoder")}
    trainer = build()
    wanted = names["gan" if isinstance(trainer, GANTrainer) else "vae"]
    read = [int(metrics["step"]) for metrics in (trainer.step() for _ in range(2 * GRADIENT_NORM_EVERY))
            if all(name in metrics for name in wanted)]
    assert read == [1, GRADIENT_NORM_EVERY, 2 * GRADIENT_NORM_EVERY]
    clipped = build(**{"objective.grad_clip": 1e6})  # clipping computes them anyway: every step
    assert all(set(wanted) <= set(clipped.step()) for _ in range(GRADIENT_NORM_EVERY))


@pytest.mark.parametrize("build", [gan, vae])
def test_an_infinite_gradient_between_readings_still_stops_and_rolls_back_the_run(build):
    trainer = build()
    run(trainer, until=2)
    before = parameters(trainer)
    assert (trainer.step_count + 1) % GRADIENT_NORM_EVERY  # the next step does not read the norms
    first_net = next(iter(trainer.networks.values()))
    for p in first_net.parameters():
        p.register_hook(lambda grad: grad * float("inf"))
    result = run(trainer, until=GRADIENT_NORM_EVERY - 1)
    assert result.error is not None and result.error.rolled_back_to == 2
    assert result.error.term.startswith("loss/")  # the non-finite weights' next loss names it
    after = parameters(trainer)
    assert all(torch.equal(before[k], after[k]) for k in before) and trainer.step_count == 2


@pytest.mark.parametrize("build", [gan, vae])
def test_a_run_that_ends_on_an_unread_infinite_gradient_hands_back_the_last_good_state(build):
    """One step at a time, as the Train page's Step button trains: the spoiled weights must not be
    handed back, nor kept as the next call's snapshot."""
    trainer = build()
    run(trainer, until=2)
    before = parameters(trainer)
    first_net = next(iter(trainer.networks.values()))
    handles = [p.register_hook(lambda grad: grad * float("inf")) for p in first_net.parameters()]
    result = run(trainer, until=3)  # step 3 does not read its gradient norms
    name = next(iter(trainer.networks))
    assert result.reason == "diverged" and result.error.term == f"weights/{name}"
    assert result.error.step == 3 and result.error.rolled_back_to == 2
    assert all(torch.equal(before[k], after) for k, after in parameters(trainer).items())
    for handle in handles:
        handle.remove()
    assert run(trainer, until=GRADIENT_NORM_EVERY + 1).reason == "reached"


def test_a_live_change_after_an_unread_infinite_gradient_keeps_the_state_before_it():
    trainer = gan()
    run(trainer, until=1)
    before = parameters(trainer)

    class SpoilThenChange(Hook):
        def on_step(self, trainer, metrics):
            if trainer.step_count == 2:  # G's update at step 3 (which does not read its gradients) spoils G
                for p in trainer.generator.parameters():
                    p.register_hook(lambda grad: grad * float("inf"))
            elif trainer.step_count == 3:  # then a slider moves: the loop keeps the state before the change
                trainer.update(**{"optim.lr_discriminator": 1e-3})

    result = run(trainer, until=10, hooks=[SpoilThenChange()])
    assert result.error is not None and result.error.term == "weights/generator"
    assert result.error.step == 3 and result.error.rolled_back_to == 1
    assert all(torch.equal(before[k], after) for k, after in parameters(trainer).items())


def test_preview_and_generate_in_data_space():
    image_gan = make_trainer(RunConfig().replace(**{"data.name": "shapes", "data.n_samples": 256, "model.arch": "conv",
                                                     "model.width": 16, "optim.batch_size": 16}), device="cpu")
    image_gan.step()
    preview = image_gan.preview(8)
    assert preview.shape == (8, 1, 32, 32) and preview.min() >= 0 and preview.max() <= 1
    assert gan().preview().shape == (64, 2)
    assert vae().preview(4).shape == (4, 1, 32, 32)


def test_generator_field_points_towards_higher_d():
    trainer = gan()
    for _ in range(20):
        trainer.step_d()
    points = torch.randn(16, 2)
    field = trainer.generator_field(points)
    step = points + 1e-3 * field / field.norm(dim=1, keepdim=True)
    assert (trainer.critic(step) > trainer.critic(points)).float().mean() > 0.9


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError):
            pick_device("cuda")


def test_adam_runs_fused_on_the_cpu_and_holds_every_parameter():
    """Fused Adam (one kernel for all tensors) on the CPU; the parameter groups may be one-shot
    iterators, and checking where the parameters live must not use them up."""
    from genlab.trainers.base import make_optimizer

    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    optimizer = make_optimizer(RunConfig(), [{"params": net.parameters(), "lr": 1e-3}])
    assert optimizer.param_groups[0]["fused"] is True
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [id(p) for p in net.parameters()]


@pytest.mark.parametrize(("overrides", "input_gradients", "passes"), [
    ({}, True, 1),  # an MLP critic judges both batches in one pass
    ({"model.spectral_norm_discriminator": True}, True, 1),
    ({"objective.r1_gamma": 0.1}, True, 2),  # R1 differentiates D at the real batch: its own pass, shared with R1
    ({"objective.r1_gamma": 0.1}, False, 1),  # an update lazy R1 skips: one pass again
    ({"data.name": "shapes", "data.n_samples": 256, "model.arch": "conv", "model.width": 8, "optim.batch_size": 8},
     True, 2),
])
def test_the_critic_judges_real_and_fake_as_its_own_passes_would(overrides, input_gradients, passes):
    trainer = gan(**overrides)
    D = trainer.discriminator.eval()  # spectral normalization's weights stay as they are in eval mode
    real = trainer._to_model_space(trainer._real_batch())
    fake = trainer.generator(trainer._noise(real.shape[0])).detach()
    calls = []
    handle = D.register_forward_hook(lambda module, args, output: calls.append(args[0].shape[0]))
    try:
        judged_real, judged_fake, real_logits, fake_logits = trainer._judge(real, fake, input_gradients)
    finally:
        handle.remove()
    assert len(calls) == passes and sum(calls) == 2 * real.shape[0]
    assert judged_real.requires_grad == (trainer.config.objective.r1_gamma > 0 and input_gradients)
    assert not judged_fake.requires_grad
    assert torch.equal(judged_real, real) and torch.equal(judged_fake, fake)
    with torch.no_grad():
        assert torch.allclose(real_logits, D(real), atol=1e-5)
        assert torch.allclose(fake_logits, D(fake), atol=1e-5)


@pytest.mark.parametrize("gamma_field", ["objective.r1_gamma", "objective.r2_gamma"])
def test_r1_and_r2_from_the_loss_pass_match_the_penalty_with_a_pass_of_its_own(gamma_field):
    """The D update's R1 / R2 shares D's pass with the loss; its value and its gradient on D's weights
    are those of regularizers.r1_penalty / r2_penalty, which run D again."""
    from genlab.regularizers import r1_penalty, r2_penalty
    from genlab.trainers.penalties import add_penalties

    trainer = gan(**{gamma_field: 1.0})
    D = trainer.discriminator
    real = trainer._to_model_space(trainer._real_batch())
    fake = trainer.generator(trainer._noise(real.shape[0])).detach()
    real, fake, real_logits, fake_logits = trainer._judge(real, fake, input_gradients=True)
    terms = {}
    shared = add_penalties(torch.zeros(()), "discriminator", trainer, terms, real=real, fake=fake,
                           real_scores=real_logits, fake_scores=fake_logits)
    own = r1_penalty(D, real) if gamma_field == "objective.r1_gamma" else r2_penalty(D, fake)
    assert torch.allclose(shared, own, rtol=1e-5) and shared > 0
    weights = list(D.parameters())  # the output layer's bias does not move ∇_x D: no gradient there
    grads_shared = torch.autograd.grad(shared, weights, retain_graph=True, allow_unused=True)
    grads_own = torch.autograd.grad(own, weights, allow_unused=True)
    assert sum(g is not None for g in grads_shared) >= len(weights) - 1
    for a, b in zip(grads_shared, grads_own):
        assert (a is None) == (b is None)
        assert a is None or torch.allclose(a, b, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(("n_critic", "carrying_steps"), [(1, {1, 5, 9}), (2, {1, 3, 5, 7, 9})])
def test_lazy_r1_and_r2_fall_on_every_kth_d_update_with_k_times_their_strength(n_critic, carrying_steps):
    """Lazy regularization (k = 4): R1 and R2 are computed on D updates 0, 4, 8, ... of the run (update
    = step · n_critic + sub-step) and count k·γ there; the updates between carry neither. A step's
    metrics hold the penalty when one of its D updates carried it."""
    gamma_r1, gamma_r2, k = 0.5, 0.25, 4
    trainer = gan(**{"objective.r1_gamma": gamma_r1, "objective.r2_gamma": gamma_r2,
                     "objective.lazy_interval": k, "optim.n_critic": n_critic})
    seen = set()
    for _ in range(10):
        metrics = trainer.step_d() if n_critic == 1 else trainer.step()
        if "penalty/r1" in metrics:
            seen.add(int(metrics["step"]))
            assert "penalty/r2" in metrics
        if n_critic > 1:
            continue
        if "penalty/r1" in metrics:
            penalties = k * (gamma_r1 * metrics["penalty/r1"] + gamma_r2 * metrics["penalty/r2"])
            assert metrics["loss/d"] - metrics["loss/d_adv"] == pytest.approx(penalties, rel=1e-4)
        else:
            assert metrics["loss/d"] == metrics["loss/d_adv"]
    assert seen == carrying_steps


def test_lazy_schedule_follows_the_step_count_through_a_reload():
    """The rhythm comes from the step count, so a trainer restored at step 3 carries R1 at step 5 as
    an uninterrupted one does, and an interval of 1 is every update."""
    settings = {"objective.r1_gamma": 1.0, "objective.lazy_interval": 4}
    uninterrupted = gan(**settings)
    carried = [("penalty/r1" in uninterrupted.step_d()) for _ in range(8)]
    assert carried == [True, False, False, False, True, False, False, False]
    first = gan(**settings)
    for _ in range(3):
        first.step_d()
    resumed = gan(**settings)
    resumed.load_state_dict(first.state_dict())
    assert [("penalty/r1" in resumed.step_d()) for _ in range(5)] == carried[3:]
    resumed.update(**{"objective.lazy_interval": 1})  # live
    assert all("penalty/r1" in resumed.step_d() for _ in range(3))


@pytest.mark.parametrize("on_host", [False, True])
def test_a_steps_values_are_read_once_each_and_land_where_listed(on_host):
    """genlab.trainers.base._read_once: the step's metrics and its watched terms in one copy (or, for
    tensors in CPU memory, each where it lies)."""
    from genlab.trainers.base import _read_once

    loss, other = torch.tensor(1.5), torch.tensor(-2.0, dtype=torch.bfloat16)
    grid = torch.arange(6.0).reshape(2, 3)
    column, row = grid[:, 0], grid[0, :2]  # same first address as each other, other strides
    values, position = _read_once([loss, other, grid.reshape(-1), loss.detach(), column, row], on_host=on_host)
    assert values.count(1.5) == (2 if on_host else 1)  # the loss, listed twice, is copied once
    assert [values[position[i]] for i in (0, 1, 3)] == [1.5, -2.0, 1.5]
    assert all(type(value) is float for value in values)
    assert values[position[2]: position[2] + 6] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert values[position[4]: position[4] + 2] == [0.0, 3.0]
    assert values[position[5]: position[5] + 2] == [0.0, 1.0]
    assert _read_once([], on_host=on_host) == ([], [])
