"""`genlab train`'s flags come from the knob declarations: one per config field, old names refused by name."""
from __future__ import annotations

import json

import pytest

from genlab.cli import build_parser, config_from_args, main
from genlab.cli.flags import flag_values
from genlab.config import KNOBS, LEGACY_FIELDS, knob_for

from test_cli import TINY_RING, assert_bad_input, run_main


def flag_args(knob, value) -> list[str]:
    if knob.kind is bool:
        return [f"--{knob.key}" if value else f"--no-{knob.key}"]
    return [f"--{knob.key}", str(value)]


def some_value(knob):
    """A value other than the default where one is allowed (so a flag that sets nothing is caught)."""
    if knob.kind is bool:
        return not knob.default
    candidates = [v for v in knob.choices + knob.ui_values if v != knob.default]
    if knob.bounds and not candidates:
        candidates = [knob.bounds[1]]
    return candidates[0] if candidates else "other-name"


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.key)
def test_every_knob_has_a_flag_that_sets_its_field(knob):
    value = some_value(knob)
    args = build_parser().parse_args(["train", *flag_args(knob, value)])
    assert flag_values(args) == {knob.path: value}


def test_help_lists_every_flag_with_its_label_grouped_by_family(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for knob in KNOBS:
        assert f"--{knob.key}" in text and knob.label in text and f"[{knob.path}]" in text
    gan, vae = text.index("GAN settings:"), text.index("VAE settings:")
    assert gan < text.index("--lr-d FLOAT Discriminator") < vae < text.index("--lr-enc FLOAT Encoder")


@pytest.mark.parametrize("old, new_flags", [
    ("--spectral-norm-d", ["--sn-d (GAN)", "--sn-enc (VAE)"]),
    ("--spectral-norm-g", ["--sn-g (GAN)", "--sn-dec (VAE)"]),
    ("--no-spectral-norm-d", ["--no-sn-d (GAN)", "--no-sn-enc (VAE)"]),
])
def test_renamed_flags_are_refused_naming_the_new_ones(capsys, tmp_path, old, new_flags):
    assert_bad_input(run_main(capsys, "train", *TINY_RING, old, "--root", str(tmp_path)),
                     f"{old} was renamed", *new_flags)


@pytest.mark.parametrize("family, flag, instead", [
    ("vae", "--lr-d", "--lr-enc"), ("vae", "--lr-g", "--lr-dec"), ("vae", "--l2-d", "--l2-enc"),
    ("vae", "--sn-d", "--sn-enc"), ("gan", "--lr-enc", "--lr-d"), ("gan", "--l1-dec", "--l1-g"),
    ("vae", "--r1", None), ("gan", "--beta", None),
])
def test_a_flag_of_the_other_family_is_refused_naming_this_family_s_flag(capsys, tmp_path, family, flag, instead):
    knob = next(k for k in KNOBS if f"--{k.key}" == flag)
    args = ["train", "--family", family, *flag_args(knob, some_value(knob)), "--root", str(tmp_path)]
    needles = [flag, f"is a {knob.family.upper()} setting", f"this run is a {family.upper()}"]
    assert_bad_input(run_main(capsys, *args), *needles, *([f"use {instead}"] if instead else []))


def test_old_flag_names_kept_their_gan_meaning_and_every_old_field_has_a_flag():
    config = config_from_args(build_parser().parse_args(["train", "--lr-d", "5e-4", "--l2-g", "0.01", "--sn-d"]))
    assert config.optim.lr_discriminator == 5e-4 and config.objective.l2_generator == 0.01
    assert config.model.spectral_norm_discriminator
    for new_by_family in LEGACY_FIELDS.values():
        for new in new_by_family.values():
            assert knob_for(new) in KNOBS


def test_a_config_file_with_old_names_trains(tmp_path, capsys):
    (tmp_path / "old.json").write_text(json.dumps({
        "name": "old-vae", "data": {"name": "ring", "n_samples": 256},
        "model": {"family": "vae", "width": 16, "depth": 1, "spectral_norm_d": True},
        "objective": {"likelihood": "gaussian", "l2_d": 0.01}, "optim": {"lr_d": 5e-4, "lr_g": 2e-4, "batch_size": 32},
    }))
    config = config_from_args(build_parser().parse_args(["train", "--config", str(tmp_path / "old.json")]))
    assert (config.optim.lr_encoder, config.optim.lr_decoder, config.objective.l2_encoder) == (5e-4, 2e-4, 0.01)
    assert config.model.spectral_norm_encoder and not config.model.spectral_norm_discriminator
    assert main(["train", "--config", str(tmp_path / "old.json"), "--steps", "2", "--device", "cpu",
                 "--root", str(tmp_path / "runs"), "--quiet"]) == 0
    capsys.readouterr()
