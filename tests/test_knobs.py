"""Knob declarations: every config field has one, and validation, labels and presets follow from them."""
from __future__ import annotations

import dataclasses
import re

import pytest

from genlab.config import KNOBS, LIVE_FIELDS, ConfigError, RunConfig, counterpart, get_dotted, knob_by_key, knob_for
from genlab.presets import config_for, preset
from genlab.runs.labels import KEY_SETTINGS, SETTING_LABELS, run_settings, settings_text

NETWORKS = {"gan": ("generator", "discriminator"), "vae": ("encoder", "decoder")}


def leaf_fields(cls, prefix=""):
    for f in dataclasses.fields(cls):
        if callable(f.default_factory) and dataclasses.is_dataclass(f.default_factory):
            yield from leaf_fields(f.default_factory, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, f


def test_every_config_field_is_declared_once_with_a_unique_url_safe_key():
    paths = [path for path, _ in leaf_fields(RunConfig)]
    assert [k.path for k in KNOBS] == paths
    assert all("knob" in f.metadata for _, f in leaf_fields(RunConfig))
    keys = [k.key for k in KNOBS]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", key) for key in keys), keys
    assert all(knob_by_key(k.key) is knob_for(k.path) for k in KNOBS)


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.key)
def test_declaration_is_consistent(knob):
    knob.check(knob.default)  # the default is allowed
    for value in knob.ui_values + knob.choices:
        knob.check(value)
    assert knob.kind in (bool, int, float, str)
    if knob.kind in (int, float) and not knob.choices:
        assert knob.bounds is not None
    if knob.live:
        assert knob.ui, "a live knob is a live control on the Train page"
        if knob.kind in (int, float) and not knob.choices:
            assert knob.ui_values, "a live number gets a slider's value ladder"
    if knob.family is not None and knob.acts_on is not None:
        assert knob.acts_on in NETWORKS[knob.family]
    if knob.column:
        assert knob.short
    if knob.only_if is not None:
        knob_for(knob.only_if[0])  # names a real field


@pytest.mark.parametrize("knob", [k for k in KNOBS if k.kind in (int, float) and k.bounds and not k.choices],
                         ids=lambda k: k.key)
def test_bounds_are_enforced_naming_the_field(knob):
    low, high = knob.bounds
    bad = [high + 1, low - 1, "1", True, None] + ([float("nan"), float("inf")] if knob.kind is float else [1.5])
    if knob.low_open:
        bad.append(low)
    for value in bad:
        with pytest.raises(ConfigError) as info:
            RunConfig().replace(**{knob.path: value})
        assert info.value.field == knob.path and "must be" in str(info.value)
    RunConfig().replace(**{knob.path: high})


@pytest.mark.parametrize("knob", [k for k in KNOBS if k.choices], ids=lambda k: k.key)
def test_choices_are_enforced(knob):
    for value in ("nonsense", 7, True, None):
        with pytest.raises(ConfigError) as info:
            RunConfig().replace(**{knob.path: value})
        assert info.value.field == knob.path and "one of" in str(info.value)


def test_live_fields_are_the_live_declarations():
    assert set(LIVE_FIELDS) == {k.path for k in KNOBS if k.live}
    assert {"objective.r1_gamma", "objective.beta", "optim.lr_discriminator", "optim.lr_encoder"} <= set(LIVE_FIELDS)
    assert not {"model.width", "objective.gan_loss", "optim.batch_size"} & set(LIVE_FIELDS)


def test_each_network_has_its_own_learning_rate_penalties_and_spectral_norm():
    for family, networks in NETWORKS.items():
        for network in networks:
            for path in (f"optim.lr_{network}", f"objective.l1_{network}", f"objective.l2_{network}",
                         f"model.spectral_norm_{network}"):
                knob = knob_for(path)
                assert knob.family == family and knob.acts_on == network
    lr_d = knob_for("optim.lr_discriminator")
    assert counterpart(lr_d) is knob_for("optim.lr_encoder") and counterpart(counterpart(lr_d)) is lr_d
    assert counterpart(knob_for("objective.r1_gamma")) is None


def test_run_settings_follow_the_declarations():
    gan = RunConfig().replace(**{"objective.r1_gamma": 1.0, "model.spectral_norm_discriminator": True,
                                 "objective.l2_encoder": 0.5})  # a VAE field on a GAN: not a GAN setting
    settings = run_settings(gan)
    assert settings["r1"] == 1.0 and settings["sn-d"] is True and settings["depth"] == 2
    assert "l2-enc" not in settings and "r2" not in settings and "sn-g" not in settings  # off or other family
    assert {"lr-g", "lr-d", "batch-size", "latent-dim"} <= set(settings)
    text = settings_text(settings)
    assert "R1 γ 1" in text and "SN(D) on" in text and "latent 2" in text
    vae = config_for("vae", "shapes", dotted={"objective.l2_encoder": 0.01, "model.spectral_norm_decoder": True})
    settings = run_settings(vae)
    assert settings["l2-enc"] == 0.01 and settings["sn-dec"] is True and settings["beta"] == 1.0
    assert "depth" not in settings  # a conv net has no depth setting
    assert not {"loss", "r1", "lr-d", "ema-decay"} & set(settings)
    assert "L2(enc) 0.01" in settings_text(settings) and "SN(dec) on" in settings_text(settings)
    assert set(KEY_SETTINGS) <= set(SETTING_LABELS) and SETTING_LABELS["lr-enc"] == "lr enc"


def test_config_for_layers_preset_then_raw_then_dotted():
    config = config_for("vae", "shapes", raw={"model": {"latent_dim": 3}, "optim": {"lr_d": 5e-4}},
                        dotted={"model.width": 8})
    assert config.name == "shapes-vae" and config.model.arch == preset("vae", "shapes")["model.arch"]
    assert config.model.latent_dim == 3 and config.model.width == 8
    assert config.optim.lr_encoder == 5e-4  # an old key in a raw layer means the encoder for a VAE
    assert config_for("gan", "ring") == RunConfig(name="ring-gan").replace(**preset("gan", "ring"))
    with pytest.raises(ConfigError) as info:
        config_for("gan", "ring", dotted={"objective.r1_gamma": -1.0})
    assert info.value.field == "objective.r1_gamma"


@pytest.mark.parametrize("family", ["gan", "vae"])
@pytest.mark.parametrize("dataset", ["ring", "shapes"])
def test_presets_set_only_their_family_s_networks(family, dataset):
    for path in preset(family, dataset):
        knob = knob_for(path)
        assert knob.family in (None, family), path
    config = config_for(family, dataset)
    for knob in KNOBS:
        if knob.family not in (None, family):
            assert get_dotted(config, knob.path) == knob.default, knob.path
