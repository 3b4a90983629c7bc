"""The Dirac lab's bridge to Train: a game becomes the preset ring GAN with the same loss and regularizer."""
from __future__ import annotations

import pytest

from genlab.config import get_dotted
from genlab.presets import config_for
from genlab.theory.bridge import ring_setup
from genlab.theory.dirac import LOSSES, REGULARIZERS, DiracGame


def changed_fields(config) -> dict:
    """The dotted fields where `config` differs from the preset ring GAN."""
    preset = config_for("gan", "ring")

    def flat(raw, prefix=""):
        for key, value in raw.items():
            if isinstance(value, dict):
                yield from flat(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    return {path: value for path, value in flat(config.to_dict()) if get_dotted(preset, path) != value}


CRITIC_REGULARIZERS = {"r1": "objective.r1_gamma", "r2": "objective.r2_gamma",
                       "gradient_penalty": "objective.gp_lambda", "weight_clip": "objective.weight_clip"}


def regularizer_strengths(config) -> dict:
    return {name: get_dotted(config, field) for name, field in CRITIC_REGULARIZERS.items()}


@pytest.mark.parametrize("regularizer", list(CRITIC_REGULARIZERS))
def test_a_regularized_game_keeps_its_loss_and_strength_and_no_other_regularizer(regularizer):
    setup = ring_setup(DiracGame("minimax", regularizer, 2.35))
    expected = {name: 2.35 if name == regularizer else 0.0 for name in CRITIC_REGULARIZERS}
    assert regularizer_strengths(setup.config) == expected
    outside = {path: value for path, value in changed_fields(setup.config).items()
               if path not in CRITIC_REGULARIZERS.values()}
    # R1 and R2 on every D update, as the game takes them (the ring preset's own R1 is lazy: every 2nd)
    lazy_off = {"objective.lazy_interval": 1} if regularizer in ("r1", "r2") else {}
    assert outside == {"objective.gan_loss": "minimax", **lazy_off}
    assert (setup.config.model.family, setup.config.data.name) == ("gan", "ring")


def test_every_loss_crosses_over_and_the_unregularized_game_trains_without_any_penalty():
    assert config_for("gan", "ring").objective.r1_gamma > 0, "the ring preset carries R1; this test is about that"
    for loss in LOSSES:
        setup = ring_setup(DiracGame(loss, "none", 0.0))
        assert setup.config.objective.gan_loss == loss
        assert regularizer_strengths(setup.config) == dict.fromkeys(CRITIC_REGULARIZERS, 0.0)
        assert set(changed_fields(setup.config)) <= {"objective.gan_loss", "objective.r1_gamma"}
        assert setup.note.startswith("The ring preset trains with R1 γ = 0.1; it is off here")


def test_the_preset_r1_stays_unmentioned_when_the_game_is_r1():
    setup = ring_setup(DiracGame("nonsaturating", "r1", 1.0))
    assert setup.config.objective.r1_gamma == 1.0 and setup.note == ""


def test_what_the_train_page_cannot_copy_is_said():
    noise = ring_setup(DiracGame("nonsaturating", "instance_noise", 0.5))
    # the preset's loss is already non-saturating; no noise knob, and the preset's R1 is off as in the game
    assert changed_fields(noise.config) == {"objective.r1_gamma": 0.0}
    assert "no instance noise" in noise.note and "R1 γ = 0.1; it is off here" in noise.note
    assert "±0.02" in ring_setup(DiracGame("wasserstein", "weight_clip", 0.02)).note
    for regularizer in REGULARIZERS:  # each regularizer either crosses over or says why not
        setup = ring_setup(DiracGame("minimax", regularizer, 0.5 if regularizer != "none" else 0.0))
        carried = set(changed_fields(setup.config)) - {"objective.gan_loss", "objective.r1_gamma",
                                                       "objective.lazy_interval"}
        assert carried or setup.note or regularizer in ("none", "r1"), regularizer
