"""From the Dirac-GAN to a real network: the Train page's run with the same GAN loss and regularizer.

The Dirac lab's games name genlab's own loss kinds and penalties, so a game maps onto a RunConfig field
by field: the loss onto objective.gan_loss, the regularizer's strength onto the field of the same
penalty (R1 γ, R2 γ, WGAN-GP λ, weight clipping c), taken on every D update, and the critic's other
regularizers are off, as in the game: the ring preset's own R1 as well, which the page then says. Everything else is the preset
GAN on the 8-Gaussian ring (genlab.presets), as the CLI and the Train page build it. Instance noise is
no Train page knob: that game's run keeps its loss only and says so.
"""
from __future__ import annotations

from dataclasses import dataclass

from genlab.config import GAN_LOSSES, RunConfig, get_dotted
from genlab.presets import config_for
from genlab.theory.dirac import LOSSES, REGULARIZERS, DiracGame

RING = ("gan", "ring")
STRENGTH_FIELDS = {"weight_clip": "objective.weight_clip", "gradient_penalty": "objective.gp_lambda",
                   "r1": "objective.r1_gamma", "r2": "objective.r2_gamma"}
LAZY_FIELDS = ("objective.r1_gamma", "objective.r2_gamma")  # what objective.lazy_interval thins out
NOT_ON_TRAIN = {"instance_noise": "The Train page has no instance noise: the ring run uses the loss alone."}
PRESET_OFF_NOTE = ("The ring preset trains with {name} {symbol} = {value:g}; it is off here, so that D "
                   "carries only the game's regularizer.")
# why: the Dirac critic is one slope, an MLP critic has thousands of weights of order 0.1
CLIP_NOTE = ("Clipping bounds every one of D's weights to ±{c:g}; an MLP's weights start near ±0.1, "
             "so only c of about 0.01 to 0.05 holds it back.")

assert set(LOSSES) <= set(GAN_LOSSES), "every Dirac loss must be a loss the trainers know"


@dataclass(frozen=True)
class RingSetup:
    """The run the Train page opens for a Dirac game, and what differs from the game ("" if nothing)."""

    config: RunConfig
    note: str = ""


def ring_setup(game: DiracGame) -> RingSetup:
    """The preset ring GAN with `game`'s loss, its regularizer at the same strength and no other."""
    changes = {field: 0.0 for field in STRENGTH_FIELDS.values()}
    changes["objective.gan_loss"] = game.loss
    field = STRENGTH_FIELDS.get(game.regularizer)
    if field is not None:
        changes[field] = game.strength
    if field in LAZY_FIELDS:
        changes["objective.lazy_interval"] = 1  # on every update, as in the game (the ring preset's R1 is lazy)
    notes = [CLIP_NOTE.format(c=game.strength) if game.clips else NOT_ON_TRAIN.get(game.regularizer, "")]
    preset = config_for(*RING)
    for name, field in STRENGTH_FIELDS.items():
        if get_dotted(preset, field) > 0 and changes[field] == 0:
            label, symbol, _ = REGULARIZERS[name]
            notes.append(PRESET_OFF_NOTE.format(name=label.split(" (")[0], symbol=symbol,
                                                value=get_dotted(preset, field)))
    return RingSetup(preset.replace(**changes), " ".join(note for note in notes if note))
