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


@pytest.mark.parametrize("regularizer, field", [("r1", "objective.r1_gamma"), ("r2", "objective.r2_gamma"),
                                                ("gradient_penalty", "objective.gp_lambda"),
                                                ("weight_clip", "objective.weight_clip")])
def test_a_regularized_game_keeps_its_loss_and_strength_and_nothing_else_changes(regularizer, field):
    setup = ring_setup(DiracGame("minimax", regularizer, 2.35))
    assert changed_fields(setup.config) == {"objective.gan_loss": "minimax", field: 2.35}
    assert (setup.config.model.family, setup.config.data.name) == ("gan", "ring")


def test_every_loss_crosses_over_and_the_unregularized_game_adds_no_penalty():
    for loss in LOSSES:
        setup = ring_setup(DiracGame(loss, "none", 0.0))
        assert setup.config.objective.gan_loss == loss
        assert set(changed_fields(setup.config)) <= {"objective.gan_loss"}
        assert setup.note == ""


def test_what_the_train_page_cannot_copy_is_said():
    noise = ring_setup(DiracGame("nonsaturating", "instance_noise", 0.5))
    assert changed_fields(noise.config) == {}  # the preset's loss is already non-saturating; no noise knob
    assert "no instance noise" in noise.note
    assert "±0.02" in ring_setup(DiracGame("wasserstein", "weight_clip", 0.02)).note
    for regularizer in REGULARIZERS:  # each regularizer either crosses over or says why not
        setup = ring_setup(DiracGame("minimax", regularizer, 0.5 if regularizer != "none" else 0.0))
        carried = set(changed_fields(setup.config)) - {"objective.gan_loss"}
        assert carried or setup.note or regularizer == "none", regularizer
