"""genlab.share: a setup as URL parameters and back, short, exact, and forgiving of tampered links."""
from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlsplit

import pytest

from conftest import REPO_ROOT
from genlab.config import KNOBS, RunConfig, get_dotted
from genlab.presets import config_for, preset
from genlab.share import (
    NOT_SHARED, RESERVED_KEYS, SHARED_KNOBS, View, config_to_params, format_value, params_to_config, train_link,
)


def random_config(rng: random.Random) -> RunConfig:
    """A valid config with many knobs moved away from the preset: values from each knob's choices or ladder."""
    family, dataset = rng.choice(["gan", "vae"]), rng.choice(["ring", "grid", "moons", "shapes", "mnist"])
    config = config_for(family, dataset)
    for knob in SHARED_KNOBS:
        if knob.path in ("model.family", "data.name") or rng.random() < 0.5:
            continue
        options = knob.choices or knob.ui_values or ((True, False) if knob.kind is bool else ())
        if knob.kind is int and not options:
            options = (knob.bounds[0], min(knob.bounds[1], knob.bounds[0] + 7))
        if not options:
            continue
        try:
            config = config.replace(**{knob.path: rng.choice(options)})
        except ValueError:  # a combination two fields' rules reject (e.g. conv on 2D data)
            pass
    return config


@pytest.mark.parametrize("seed", range(25))
def test_params_round_trip_to_the_same_config(seed):
    config = random_config(random.Random(seed))
    params = config_to_params(config)
    back, view, problems = params_to_config(params)
    assert problems == []
    assert view == View()
    for knob in KNOBS:
        if knob.path not in NOT_SHARED and knob.family in (None, config.model.family):
            assert get_dotted(back, knob.path) == get_dotted(config, knob.path), knob.key
    assert config_to_params(back) == params


def test_params_hold_only_what_differs_from_the_preset_keyed_by_knob_keys():
    assert config_to_params(config_for("gan", "ring")) == {"family": "gan", "dataset": "ring"}
    config = config_for("gan", "ring").replace(**{"objective.r1_gamma": 1.0, "optim.lr_discriminator": 5e-4, "seed": 3,
                                                  "objective.gan_loss": "minimax",
                                                  "model.spectral_norm_discriminator": True})
    params = config_to_params(config)
    assert params == {"family": "gan", "dataset": "ring", "seed": "3", "sn-d": "true", "loss": "minimax", "r1": "1",
                      "lr-d": "0.0005"}
    # the preset of (family, dataset) is the base: an image GAN's preset learning rate is not written
    assert "lr-d" not in config_to_params(config_for("gan", "mnist"))


def test_view_state_is_written_only_when_not_the_default():
    config = config_for("vae", "ring")
    view = View(refresh=2.0, lesson="vae-terms", present=True, show=("beta",), hide=("kl-warmup",), lock=("beta", "seed"))
    params = config_to_params(config, view)
    assert params == {"family": "vae", "dataset": "ring", "refresh": "2", "lesson": "vae-terms", "present": "true",
                      "show": "beta", "hide": "kl-warmup", "lock": "beta,seed"}
    assert params_to_config(params)[1] == view


def test_train_link_is_short_readable_and_never_holds_the_tab_token():
    config = config_for("gan", "ring").replace(**{"objective.r1_gamma": 0.5})
    link = train_link(config, View(lock=("r1", "lr-d")))
    assert link == "train?family=gan&dataset=ring&r1=0.5&lock=r1,lr-d"
    params = dict(parse_qsl(urlsplit(link).query))
    assert params_to_config({**params, "tab": "a-private-token"})[2] == []  # reserved keys are neither read nor flagged
    assert not RESERVED_KEYS & set(config_to_params(config, View(lock=("r1",))))


def test_numbers_are_written_in_their_shortest_exact_form():
    assert [format_value(v) for v in (1.0, 0.1, 1e-5, 2e-4, 5, True, False, "minimax")] == \
        ["1", "0.1", "1e-05", "0.0002", "5", "true", "false", "minimax"]


RING_R1 = ("objective.r1_gamma", preset("gan", "ring")["objective.r1_gamma"])  # a bad r1 leaves the preset's
TAMPERED = [  # (params, the key the problem names, words in its message, what the field is then)
    ({"r1": "abc"}, "r1", "finite number", RING_R1),
    ({"r1": "-1"}, "r1", "[0, 1000]", RING_R1),
    ({"r1": "nan"}, "r1", "finite number", RING_R1),
    ({"lr-d": "0"}, "lr-d", "(0, 10]", ("optim.lr_discriminator", 4e-3)),  # the ring preset's
    ({"seed": "1.5"}, "seed", "integer", ("seed", 0)),
    ({"seed": "99999999999"}, "seed", "integer", ("seed", 0)),
    ({"loss": "magic"}, "loss", "one of", ("objective.gan_loss", "nonsaturating")),
    ({"sn-d": "maybe"}, "sn-d", "true or false", ("model.spectral_norm_discriminator", False)),
    ({"family": "cat"}, "family", "one of gan, vae", ("model.family", "gan")),
    ({"dataset": "imagenet"}, "dataset", "one of", ("data.name", "ring")),
    ({"dataset": "points"}, "dataset", "uploaded", ("data.name", "ring")),
    ({"beta": "4"}, "beta", "VAE setting", ("objective.beta", 1.0)),
    ({"arch": "conv"}, "arch", "2D data needs the mlp", ("model.arch", "mlp")),
    ({"name": "x"}, "name", "cannot be set by a link", ("name", "ring-gan")),
    ({"data-path": "/etc/passwd"}, "data-path", "cannot be set by a link", ("data.path", "")),
    ({"r9": "1"}, "r9", "not a genlab setting", RING_R1),
    ({"refresh": "7"}, "refresh", "0.5, 1, 2", ("seed", 0)),
    ({"present": "sometimes"}, "present", "true or false", ("seed", 0)),
    ({"lock": "r1,self-destruct"}, "lock", "self-destruct", ("seed", 0)),
    ({"device": "tpu"}, "device", "one of", ("device", "auto")),
]


@pytest.mark.parametrize("params, key, words, field", TAMPERED, ids=[str(t[0]) for t in TAMPERED])
def test_a_tampered_parameter_is_named_and_its_default_used(params, key, words, field):
    base = {"family": "gan", "dataset": "ring"}
    config, view, problems = params_to_config({**base, **params})
    assert [p.key for p in problems] == [key], problems
    assert words in problems[0].message and key in str(problems[0])
    assert get_dotted(config, field[0]) == field[1]
    config.validate()  # always a valid config


def test_a_bad_value_keeps_the_bases_value_and_good_values_still_apply():
    lesson_setup = {"family": "gan", "dataset": "grid", "r1": "1", "loss": "minimax"}
    config, _, problems = params_to_config({"r1": "lots", "seed": "4", "tab": "x"}, base=lesson_setup)
    assert [p.key for p in problems] == ["r1"]
    assert config.objective.r1_gamma == 1.0 and config.objective.gan_loss == "minimax" and config.seed == 4
    assert config.data.name == "grid"


def test_view_shows_hides_and_locks_by_key_and_by_group():
    from genlab.config import knob_by_key

    r1, seed, beta = knob_by_key("r1"), knob_by_key("seed"), knob_by_key("beta")
    view = View(show=("r1", "setup"), lock=("live",))
    assert view.shows(r1) and view.shows(seed) and view.locks(r1) and not view.locks(seed)
    assert not View(show=("seed",)).shows(r1) and not View(hide=("r1",)).shows(r1) and View().shows(beta)


# --- drawings --------------------------------------------------------------------------------------
def drawn_config(anchors, spread: float = 0.1, family: str = "gan") -> RunConfig:
    from genlab.drawing_codec import drawing_path

    return config_for(family, "points", dotted={"data.path": drawing_path(anchors, spread), "seed": 5})


def test_a_drawing_travels_in_the_link_and_comes_back_exactly():
    config = drawn_config([(0.0, 0.0), (1.0, 1.0), (-2.0, 0.4)], spread=0.25)
    params = config_to_params(config)
    assert params["dataset"] == "points" and params["drawing"] == config.data.path.removeprefix("drawn:")
    assert "data-path" not in params
    back, _, problems = params_to_config(params)
    assert problems == [] and back == config
    assert dict(parse_qsl(urlsplit(train_link(config)).query))["drawing"] == params["drawing"]


@pytest.mark.parametrize("params, problem_keys", [
    ({"dataset": "ring", "drawing": "0.1:UgUg"}, ["drawing"]),  # a drawing only means something for points
    ({"dataset": "points", "drawing": "0.1:Ug!"}, ["drawing", "dataset"]),  # not grid text: no data, so the ring
    ({"dataset": "points", "drawing": "lots:Ug"}, ["drawing", "dataset"]),  # σ not a number
    ({"dataset": "points", "data-path": "/etc/passwd"}, ["data-path", "dataset"]),  # a file path never comes in
])
def test_a_bad_or_misplaced_drawing_is_named_and_left_out(params, problem_keys):
    config, _, problems = params_to_config({"family": "gan", **params})
    assert [p.key for p in problems] == problem_keys, problems
    assert config.data.path == "" and config.data.name == "ring"
    config.validate()


def test_the_link_format_needs_neither_torch_nor_streamlit():
    import subprocess
    import sys

    code = "import sys, genlab.share; print(sorted({'torch', 'streamlit'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO_ROOT).stdout.strip()
    assert out == "[]"
