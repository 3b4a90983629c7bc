"""Augmentation (genlab.augment): each operation against an independent computation, differentiability,
the GAN trainer feeding D only augmented real and generated batches, and ADA's p following r_t."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlab.augment import ADJUST_EVERY, AdaptiveProbability, ada_augment, adjust_p, augment_input, diff_augment, ops
from genlab.config import RunConfig
from genlab.data import DataSource
from genlab.models import ConvDiscriminator, ConvGenerator
from genlab.trainers import make_trainer
from genlab.trainers import gan as gan_module


def images(n: int = 6, c: int = 3, side: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def seeded(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the operations, each against a loop over pixels ---------------------------------------------

def test_translate_matches_a_pixel_loop():
    x = images()
    dy, dx = torch.tensor([0, 2, -3, 1, -1, 3]), torch.tensor([0, -2, 1, 3, 0, -3])
    moved = ops.translate(x, dy, dx).numpy()
    source = x.numpy()
    expected = np.zeros_like(source)
    for b in range(x.shape[0]):
        for i in range(16):
            for j in range(16):
                si, sj = i - int(dy[b]), j - int(dx[b])
                if 0 <= si < 16 and 0 <= sj < 16:
                    expected[b, :, i, j] = source[b, :, si, sj]
    np.testing.assert_array_equal(moved, expected)


def test_cutout_zeroes_exactly_the_square():
    x = images(n=2) + 5.0  # no pixel is 0 before
    out = ops.cutout(x, torch.tensor([8, 0]), torch.tensor([8, 15]), torch.tensor([4, 6]))
    holes = (out == 0).all(dim=1)
    assert holes[0].sum() == 16 and holes[0, 6:10, 6:10].all()  # centred at 8: rows 6..9
    assert holes[1].sum() == 3 * 4 and holes[1, 0:3, 12:16].all()  # over the corner: 3 rows, 4 columns
    assert torch.equal(out[~holes[:, None].expand_as(out)], x[~holes[:, None].expand_as(x)])


def test_colour_operations_follow_their_formulas():
    x = images(n=3)
    bright = ops.brightness(x, torch.tensor([0.0, 0.5, -0.25]))
    assert torch.allclose(bright - x, torch.tensor([0.0, 0.5, -0.25]).reshape(3, 1, 1, 1).expand_as(x))
    contrasted = ops.contrast(x, torch.tensor([1.0, 2.0, 0.5]))
    assert torch.allclose(contrasted.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-6)
    assert torch.allclose(contrasted.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3)), torch.tensor([1.0, 2.0, 0.5]))
    grey = ops.saturation(x, torch.tensor([0.0, 1.0, 3.0]))
    assert torch.allclose(grey[0], x[0].mean(dim=0, keepdim=True).expand_as(x[0]))
    assert torch.allclose(grey[1], x[1])
    flipped = ops.xflip(x, torch.tensor([True, False, True]))
    assert torch.equal(flipped[0], x[0].flip(2))
    assert torch.equal(flipped[1], x[1])


# --- differentiability --------------------------------------------------------------------------

@pytest.mark.parametrize("augment", [
    lambda x, g: diff_augment(x, "color", g),
    lambda x, g: diff_augment(x, "translation", g),
    lambda x, g: diff_augment(x, "cutout", g),
    lambda x, g: ada_augment(x, 1.0, g),
    lambda x, g: augment_input(x, "xflip,translation", g),
], ids=["color", "translation", "cutout", "ada", "vae-input"])
def test_each_augmentation_passes_gradients_to_the_generator(augment):
    torch.manual_seed(0)
    generator_net, critic = ConvGenerator(8, (1, 28, 28), 8), ConvDiscriminator((1, 28, 28), 8)
    fake = generator_net(torch.randn(4, 8))
    critic(augment(fake, seeded())).mean().backward()
    grads = [p.grad for p in generator_net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_translation_gradient_is_one_on_pixels_that_stay_in_view():
    x = images(n=1, c=1).requires_grad_(True)
    ops.translate(x, torch.tensor([2]), torch.tensor([-3])).sum().backward()
    expected = torch.zeros(1, 1, 16, 16)
    expected[0, 0, :14, 3:] = 1  # moved down 2, left 3: the bottom 2 rows and left 3 columns leave
    assert torch.equal(x.grad, expected)


def test_strength_zero_is_the_identity_and_the_stream_does_not_depend_on_it():
    x = images()
    assert torch.allclose(diff_augment(x, "color,translation,cutout", seeded(), p=0.0), x, atol=1e-6)
    first, second = seeded(), seeded()
    diff_augment(x, "color,translation,cutout", first, p=0.0)
    diff_augment(x, "color,translation,cutout", second, p=1.0)
    assert torch.equal(torch.rand(3, generator=first), torch.rand(3, generator=second))


# --- the GAN trainer: D sees real and generated images through the same augmentation -------------

def tiny_image_gan(**changes) -> RunConfig:
    return RunConfig().replace(**{
        "data.name": "shapes", "data.n_samples": 64, "model.arch": "conv", "model.width": 8, "model.latent_dim": 8,
        "optim.batch_size": 8, "stats_every": 1000, **changes}).validate()


def shapes_source(n: int = 64) -> DataSource:
    x = (torch.rand(n, 1, 28, 28, generator=seeded(3)) > 0.5).to(torch.uint8) * 255
    return DataSource(name="shapes", kind="images", x=x)


def test_d_sees_real_and_generated_batches_only_through_the_augmentation(monkeypatch):
    views: list[tuple[torch.Tensor, torch.Tensor]] = []
    real_view = gan_module.discriminator_view

    def recording_view(x, settings, generator, p):
        out = real_view(x, settings, generator, p)
        views.append((x, out))
        return out

    monkeypatch.setattr(gan_module, "discriminator_view", recording_view)
    trainer = make_trainer(tiny_image_gan(**{"augment.policy": "translation,cutout"}), data=shapes_source())
    seen_by_d: list[torch.Tensor] = []
    trainer.discriminator.register_forward_pre_hook(lambda module, args: seen_by_d.append(args[0]))
    trainer.step()  # one D update (real, fake), one G update (fake)
    assert len(seen_by_d) == 3 and len(views) == 3
    for given, (before, after) in zip(seen_by_d, views):
        assert given is after  # D got exactly the augmented batch ...
        assert not torch.equal(after, before)  # ... which differs from the one handed in
        holes = (after == 0).all(dim=1).flatten(1).sum(dim=1)
        assert (holes >= 7 * 7).all()  # every image, real or generated, lost a square of half the side
    assert views[0][0].shape == views[1][0].shape  # the real batch and the generated one alike
    assert not views[2][0].requires_grad or views[2][1].requires_grad  # G's batch keeps its graph through it


def test_augmentation_off_hands_d_the_batches_unchanged():
    trainer = make_trainer(tiny_image_gan(), data=shapes_source())
    seen_by_d: list[torch.Tensor] = []
    trainer.discriminator.register_forward_pre_hook(lambda module, args: seen_by_d.append(args[0]))
    trainer.step()
    real = seen_by_d[0]
    assert len(seen_by_d) == 3
    assert set(real.unique().tolist()) <= {-1.0, 1.0}  # the binary training images in [-1, 1], not moved or cut


# --- ADA: p follows r_t ----------------------------------------------------------------------------

def margins(n: int, positive_share: float) -> torch.Tensor:
    k = round(n * positive_share)
    return torch.cat([torch.ones(k), -torch.ones(n - k)])


def test_adjust_p_takes_one_step_of_images_over_speed():
    assert adjust_p(0.3, 0.9, 0.6, 64, 6400) == pytest.approx(0.31)
    assert adjust_p(0.3, 0.1, 0.6, 64, 6400) == pytest.approx(0.29)
    assert adjust_p(0.3, 0.6, 0.6, 64, 6400) == 0.3
    assert adjust_p(0.995, 1.0, 0.6, 64, 6400) == 1.0 and adjust_p(0.001, 0.0, 0.6, 64, 6400) == 0.0


def test_ada_measures_r_t_every_four_batches():
    ada = AdaptiveProbability()
    for _ in range(ADJUST_EVERY - 1):
        ada.observe(margins(16, 1.0), target=0.6, speed=6400)
    assert ada.p == 0 and math.isnan(ada.r_t)
    ada.observe(margins(16, 0.5), target=0.6, speed=6400)
    assert ada.r_t == pytest.approx((48 + 8 - 8) / 64)  # 56 of the 64 margins positive, 8 negative
    assert ada.p == pytest.approx(64 / 6400)


@pytest.mark.parametrize("target", [0.4, 0.6, 0.8])
def test_ada_p_settles_where_r_t_meets_its_target(target):
    """A synthetic D that overfits less the more it is augmented: r_t = 1 − p. ADA must drive p to
    1 − target from below and from above, and hold it there within one step."""
    speed, batch = 12_800, 64
    for start in (0.0, 1.0):
        ada = AdaptiveProbability(p=start)
        for _ in range(ADJUST_EVERY * 400):
            ada.observe(margins(batch, 1.0 - ada.p / 2), target=target, speed=speed)  # mean sign 1 − p
        step = ADJUST_EVERY * batch / speed
        assert abs(ada.p - (1.0 - target)) <= 2 * step + 2 / batch, (start, ada.p)


def test_ada_p_rises_while_d_overfits_and_falls_once_it_stops():
    ada = AdaptiveProbability()
    trace = []
    for interval in range(40):
        share = 0.95 if interval < 20 else 0.2  # D sure of the real images, then unsure
        for _ in range(ADJUST_EVERY):
            ada.observe(margins(16, share), target=0.6, speed=6400)
        trace.append(ada.p)
    assert trace[19] == pytest.approx(20 * 64 / 6400) and trace[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(b > a for a, b in zip(trace[:19], trace[1:20]))


def test_ada_in_the_trainer_records_p_and_r_t_and_p_rises_on_a_memorized_set():
    config = tiny_image_gan(**{"augment.policy": "ada", "augment.ada_speed": 1000,
                               "optim.lr_discriminator": 2e-3})
    trainer = make_trainer(config, data=shapes_source(8))
    rows = [trainer.step() for _ in range(24)]
    assert "d/augment_p" in rows[-1] and "d/r_t" in rows[-1]
    r_t = [row["d/r_t"] for row in rows if "d/r_t" in row]
    p = [row["d/augment_p"] for row in rows]
    assert max(r_t) > 0.6 and p[-1] > 0  # D is sure of its 8 real images: p moves up
    state = trainer.state_dict()["ada"]
    assert float(state[0]) == pytest.approx(p[-1])


def test_ada_state_round_trips_with_finite_values_before_and_after_the_first_r_t():
    fresh, measured = AdaptiveProbability(p=0.25), AdaptiveProbability(p=0.5, r_t=0.75)
    for ada in (fresh, measured):
        state = ada.state()
        assert torch.isfinite(state).all()  # checkpoints refuse NaN
        again = AdaptiveProbability()
        again.load(state)
        assert again.p == ada.p and (again.r_t == ada.r_t or (math.isnan(again.r_t) and math.isnan(ada.r_t)))
