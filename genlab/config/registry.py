"""Every knob of RunConfig by its dotted path, and what is derived from the whole set."""
from __future__ import annotations

import dataclasses

from genlab.config.knobs import Knob, declared_knobs
from genlab.config.sections import RunConfig


def _collect(cls: type, prefix: str) -> list[Knob]:
    found = [dataclasses.replace(k, path=prefix + k.path) for k in declared_knobs(cls)]
    for f in dataclasses.fields(cls):
        if callable(f.default_factory) and dataclasses.is_dataclass(f.default_factory):
            found += _collect(f.default_factory, f"{prefix}{f.name}.")
    return found


# every config field, in declaration order: the run's own fields, then data, model, objective, optim
KNOBS: tuple[Knob, ...] = tuple(_collect(RunConfig, ""))
_BY_PATH = {k.path: k for k in KNOBS}
_BY_KEY = {k.key: k for k in KNOBS}
assert len(_BY_KEY) == len(KNOBS), "two knobs share a key"

# fields that may change while a run trains, without rebuilding anything
LIVE_FIELDS: tuple[str, ...] = tuple(k.path for k in KNOBS if k.live)

COUNTERPART_NETWORK = {"generator": "decoder", "decoder": "generator", "discriminator": "encoder",
                       "encoder": "discriminator"}


def knob_for(path: str) -> Knob:
    """The knob of a dotted field, e.g. knob_for("objective.r1_gamma").key == "r1"; KeyError if none."""
    return _BY_PATH[path]


def knob_by_key(key: str) -> Knob:
    """The knob with this short name (CLI flag without "--", URL query key); KeyError if none."""
    return _BY_KEY[key]


def counterpart(knob: Knob) -> Knob | None:
    """The same knob for the other model family's matching network (a GAN's discriminator ↔ a VAE's
    encoder, generator ↔ decoder), e.g. lr_discriminator → lr_encoder; None when there is none."""
    if knob.acts_on not in COUNTERPART_NETWORK:
        return None
    twin = knob.path.replace(knob.acts_on, COUNTERPART_NETWORK[knob.acts_on])
    return _BY_PATH.get(twin) if twin != knob.path else None
