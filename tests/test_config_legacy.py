"""Runs saved under the old GAN-named fields (lr_d, l2_d, spectral_norm_d, ...) still load, mapped by family."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from genlab.config import LEGACY_FIELDS, ConfigError, RunConfig, get_dotted, knob_for, upgrade_legacy_keys

REPO = Path(__file__).resolve().parents[1]
SAVED_BEFORE_THE_RENAME = [REPO / "checkpoints" / name for name in ("fashion-gan", "fashion-vae", "ring-gan", "shapes-beta-vae")]


def old_value(raw: dict, dotted: str):
    section, key = dotted.split(".")
    return raw[section][key]


@pytest.mark.parametrize("run", SAVED_BEFORE_THE_RENAME, ids=lambda p: p.name)
def test_every_shipped_run_loads_with_its_values_under_the_new_names(run):
    raw = json.loads((run / "config.json").read_text())
    old_keys = [old for old in LEGACY_FIELDS if old.split(".")[1] in raw.get(old.split(".")[0], {})]
    assert old_keys, "the shipped runs were saved before the rename: they exercise the migration"
    config = RunConfig.from_json((run / "config.json").read_text())
    family = raw["model"]["family"]
    assert config.model.family == family
    for old in old_keys:
        new = LEGACY_FIELDS[old][family]
        assert get_dotted(config, new) == old_value(raw, old), (old, new)
        other = LEGACY_FIELDS[old]["vae" if family == "gan" else "gan"]
        assert get_dotted(config, other) == knob_for(other).default  # the other family's field is untouched


@pytest.mark.parametrize("run", SAVED_BEFORE_THE_RENAME, ids=lambda p: p.name)
def test_every_shipped_run_opens_as_a_trainer(run):
    from genlab.runs import load_run

    loaded = load_run(run)
    family = loaded.config.model.family
    raw = json.loads((run / "config.json").read_text())
    if family == "gan":
        lr = loaded.trainer.optimizers["discriminator"].param_groups[0]["lr"]
        assert lr == raw["optim"]["lr_d"] == loaded.config.optim.lr_discriminator
    else:
        groups = {g["name"]: g["lr"] for g in loaded.trainer.optimizers["vae"].param_groups}
        assert groups == {"encoder": raw["optim"]["lr_d"], "decoder": raw["optim"]["lr_g"]}


@pytest.mark.parametrize("family, expected", [
    ("gan", {"optim.lr_generator": 1e-4, "optim.lr_discriminator": 4e-4, "objective.l1_generator": 0.1,
             "objective.l2_generator": 0.2, "objective.l1_discriminator": 0.3, "objective.l2_discriminator": 0.4,
             "model.spectral_norm_generator": False, "model.spectral_norm_discriminator": True}),
    ("vae", {"optim.lr_decoder": 1e-4, "optim.lr_encoder": 4e-4, "objective.l1_decoder": 0.1,
             "objective.l2_decoder": 0.2, "objective.l1_encoder": 0.3, "objective.l2_encoder": 0.4,
             "model.spectral_norm_decoder": False, "model.spectral_norm_encoder": True}),
])
def test_old_names_map_by_family(family, expected):
    raw = {"data": {"name": "ring"}, "model": {"family": family, "spectral_norm_g": False, "spectral_norm_d": True},
           "objective": {"likelihood": "gaussian", "l1_g": 0.1, "l2_g": 0.2, "l1_d": 0.3, "l2_d": 0.4},
           "optim": {"lr_g": 1e-4, "lr_d": 4e-4}}
    config = RunConfig.from_dict(raw)
    assert {path: get_dotted(config, path) for path in expected} == expected
    assert raw["optim"] == {"lr_g": 1e-4, "lr_d": 4e-4}  # the caller's dict is left alone


def test_old_and_new_name_together_is_an_error_naming_both():
    raw = {"model": {"family": "vae"}, "data": {"name": "shapes"}, "optim": {"lr_d": 1e-3, "lr_encoder": 2e-3}}
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(raw)
    assert info.value.field == "optim.lr_d" and "optim.lr_encoder" in str(info.value)
    # the old name of the other family's network is no conflict
    config = RunConfig.from_dict({**raw, "optim": {"lr_d": 1e-3, "lr_discriminator": 2e-3}})
    assert config.optim.lr_encoder == 1e-3 and config.optim.lr_discriminator == 2e-3


def test_a_config_without_family_is_a_gan_and_bad_input_still_gets_config_errors():
    assert upgrade_legacy_keys({"optim": {"lr_d": 0.5}}) == {"optim": {"lr_discriminator": 0.5}}
    assert upgrade_legacy_keys({"optim": {"lr_d": 0.5}}, family="vae") == {"optim": {"lr_encoder": 0.5}}
    for raw, field in [({"model": {"family": "flow"}, "optim": {"lr_d": 1.0}}, "model.family"),
                       ({"optim": {"lr_d": -1.0}}, "optim.lr_discriminator"), ("text", "config")]:
        with pytest.raises(ConfigError) as info:
            RunConfig.from_dict(raw)
        assert info.value.field == field
