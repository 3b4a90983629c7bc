"""Configuration: JSON round trip, and every bad value gives a ConfigError naming its field."""
import json

import pytest

from genlab.config import ConfigError, RunConfig, check_run_name


def test_json_round_trip():
    config = RunConfig(name="beta4").replace(**{"objective.beta": 4.0, "model.family": "vae", "data.name": "shapes",
                                                "model.arch": "conv", "optim.lr_decoder": 1e-3})
    again = RunConfig.from_json(config.to_json())
    assert again == config
    assert again.objective.beta == 4.0 and again.model.arch == "conv"


def test_defaults_are_valid():
    RunConfig().validate()


BAD_VALUES = [
    ("data.name", "imagenet"),
    ("data.n_samples", 0),
    ("data.n_samples", "many"),
    ("data.image_size", 48),
    ("data.image_size", True),
    ("model.family", "flow"),
    ("model.latent_dim", 0),
    ("model.latent_dim", 2.5),
    ("model.width", -3),
    ("model.depth", 100),
    ("model.spectral_norm_discriminator", "yes"),
    ("objective.gan_loss", "bce"),
    ("objective.beta", -1.0),
    ("objective.beta", float("nan")),
    ("objective.beta", float("inf")),
    ("objective.beta", "4"),
    ("objective.r1_gamma", -0.1),
    ("objective.gaussian_std", 0.0),
    ("objective.weight_clip", None),
    ("objective.kl_warmup_steps", -5),
    ("optim.lr_generator", 0.0),
    ("optim.lr_encoder", 1e9),
    ("optim.batch_size", 0),
    ("optim.n_critic", 0),
    ("optim.optimizer", "lbfgs"),
    ("seed", -1),
    ("device", "tpu"),
    ("steps", 0),
    ("name", "../escape"),
    ("name", "/abs/path"),
    ("name", "bad\x00name"),
    ("name", ""),
]


@pytest.mark.parametrize("field, value", BAD_VALUES)
def test_bad_values_raise_config_error_naming_the_field(field, value):
    raw = RunConfig().to_dict()
    node = raw
    *parents, leaf = field.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(raw)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"nonsense": 1}, "nonsense"),
        ({"objective": {"r3_gamma": 1.0}}, "objective.r3_gamma"),
        ({"objective": [1, 2]}, "objective"),
        ([], "config"),
        ("text", "config"),
    ],
)
def test_unknown_keys_and_wrong_structure(raw, field):
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(raw)
    assert info.value.field == field


def test_invalid_json_is_a_config_error():
    with pytest.raises(ConfigError):
        RunConfig.from_json("{not json")


def test_cross_field_rules():
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{"model.arch": "conv"})  # ring is 2D
    assert info.value.field == "model.arch"
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{"model.family": "vae"})  # 2D VAE needs a Gaussian likelihood
    assert info.value.field == "objective.likelihood"
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{"data.name": "points"})
    assert info.value.field == "data.path"


def test_replace_rejects_unknown_field():
    with pytest.raises(ConfigError):
        RunConfig().replace(**{"objective.nope": 1})


def test_run_names():
    assert check_run_name("ring-gan_2.v1") == "ring-gan_2.v1"
    for bad in ["..", ".hidden", "a/b", "a\\b", "x" * 65, "tab\tname", 5]:
        with pytest.raises(ConfigError):
            check_run_name(bad)


def test_fuzzed_values_only_raise_config_error():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings, strategies as st

    leaves = [k for k, _ in BAD_VALUES]
    values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(leaves), values)
    def check(field, value):
        raw = json.loads(RunConfig().to_json())
        node = raw
        *parents, leaf = field.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
        try:
            RunConfig.from_dict(raw)
        except ConfigError:
            pass

    check()


@pytest.mark.parametrize("family", ["gan", "vae"])
@pytest.mark.parametrize("dataset", ["ring", "spiral", "shapes", "fashion_mnist", "cifar10"])
def test_presets_validate(family, dataset):
    from genlab.presets import preset

    config = RunConfig().replace(**preset(family, dataset))
    assert config.model.family == family and config.data.name == dataset
    assert config.model.arch == ("mlp" if dataset in ("ring", "spiral") else "conv")


def test_a_config_saved_before_the_cool_down_existed_loads_without_it():
    """The ring preset cools its learning rates down; a run saved before optim.lr_cooldown existed
    (its config.json does not name it) must go on training as it did: the field's default is off."""
    from genlab.presets import preset

    saved = RunConfig().replace(**preset("gan", "ring")).to_dict()
    del saved["optim"]["lr_cooldown"]
    assert RunConfig.from_dict(saved).optim.lr_cooldown == 0.0
    assert preset("gan", "ring")["optim.lr_cooldown"] > 0
