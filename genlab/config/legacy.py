"""Runs saved before the role-neutral names still load: their keys are renamed by model family.

Until then one field served both families under GAN names (`optim.lr_d` was a VAE's encoder learning
rate); now each network has its own field (`lr_discriminator` for a GAN, `lr_encoder` for a VAE).
"""
from __future__ import annotations

import copy
from typing import Any

from genlab.config.errors import ConfigError

FAMILIES = ("gan", "vae")
# old dotted name -> the field it meant, per model family
RENAMED: dict[str, dict[str, str]] = {
    "optim.lr_g": {"gan": "optim.lr_generator", "vae": "optim.lr_decoder"},
    "optim.lr_d": {"gan": "optim.lr_discriminator", "vae": "optim.lr_encoder"},
    "objective.l1_g": {"gan": "objective.l1_generator", "vae": "objective.l1_decoder"},
    "objective.l2_g": {"gan": "objective.l2_generator", "vae": "objective.l2_decoder"},
    "objective.l1_d": {"gan": "objective.l1_discriminator", "vae": "objective.l1_encoder"},
    "objective.l2_d": {"gan": "objective.l2_discriminator", "vae": "objective.l2_encoder"},
    "model.spectral_norm_g": {"gan": "model.spectral_norm_generator", "vae": "model.spectral_norm_decoder"},
    "model.spectral_norm_d": {"gan": "model.spectral_norm_discriminator", "vae": "model.spectral_norm_encoder"},
}


def upgrade_legacy_keys(raw: Any, family: str | None = None) -> Any:
    """A copy of the raw config dict with old keys renamed for the run's model family (its own
    model.family, else `family`, else "gan"). ConfigError when an old key and its new one are both given.
    Anything that is not a dict of dicts is returned as is, for RunConfig.from_dict to explain."""
    if not isinstance(raw, dict) or not any(_holds(raw, old) for old in RENAMED):
        return raw
    model = raw.get("model")
    family = model.get("family", family) if isinstance(model, dict) else family
    family = family or "gan"
    if family not in FAMILIES:
        raise ConfigError("model.family", family, f"must be one of {', '.join(FAMILIES)}")
    upgraded = copy.deepcopy(raw)
    for old, new_by_family in RENAMED.items():
        if not _holds(upgraded, old):
            continue
        section_name, old_key = old.split(".")
        new = new_by_family[family]
        section = upgraded[section_name]
        new_key = new.split(".")[1]
        if new_key in section:
            raise ConfigError(old, section[old_key], f"is the old name of {new} for a {family.upper()}; "
                                                     f"give only {new}")
        section[new_key] = section.pop(old_key)
    return upgraded


def _holds(raw: dict, dotted: str) -> bool:
    section_name, key = dotted.split(".")
    return isinstance(raw.get(section_name), dict) and key in raw[section_name]
