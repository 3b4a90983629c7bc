"""Transfer (genlab.transfer): a run starts from a saved run's fitting weights, names what it skipped,
FreezeD keeps D's first layers fixed, the fine-tuning learning rate is scaled, the parent is recorded."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from genlab.cli import main
from genlab.config import ConfigError, RunConfig
from genlab.data import DataSource
from genlab.models import weight_layers
from genlab.runs import load_run
from genlab.transfer import fitting_tensors, new_trainer, parent_config, transfer_config
from test_cli import TINY_RING

PARENT = "fashion-gan"


@pytest.fixture
def shipped_root(repo_root):
    root = repo_root / "checkpoints"
    if not (root / PARENT / "weights.safetensors").is_file():
        pytest.skip(f"the shipped run {PARENT} is not in {root}")
    return root


def small_image_set(n: int = 64) -> DataSource:
    """Images of the parent's shape (1, 28, 28), so every weight fits; random, standing in for new data."""
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(5), dtype=torch.uint8)
    return DataSource(name="fashion_mnist", kind="images", x=x)


def child_config(root, **changes) -> RunConfig:
    base = RunConfig().replace(**{"data.name": "fashion_mnist", "optim.batch_size": 8,
                                  "stats_every": 1000, "device": "cpu"})
    return transfer_config(base, parent_config(PARENT, root), PARENT).replace(**changes).validate()


def parent_tensors(root) -> dict[str, torch.Tensor]:
    """The parent's weights read straight from its file (not through genlab.transfer)."""
    return load_file(str(root / PARENT / "weights.safetensors"))


def test_a_transfer_run_starts_from_the_parents_weights(shipped_root):
    trainer = new_trainer(child_config(shipped_root), shipped_root, data=small_image_set())
    saved = parent_tensors(shipped_root)
    for network in ("generator", "discriminator", "generator_ema"):
        for name, value in trainer.state_dict()["networks"][network].items():
            key = f"networks.{network}.{name}"
            if key in saved:
                assert torch.equal(value, saved[key]), key
    report = trainer.transfer
    assert report.parent == PARENT and not report.skipped and len(report.loaded) == len(saved)
    assert trainer.step_count == 0


def test_the_first_preview_is_the_parents_samples(shipped_root):
    trainer = new_trainer(child_config(shipped_root), shipped_root, data=small_image_set())
    parent = load_run(shipped_root / PARENT, device="cpu", load_data=False).trainer
    assert torch.equal(trainer.fixed_noise, parent.fixed_noise)
    assert torch.allclose(trainer.preview(), parent.preview(), atol=1e-6)


def test_weights_that_do_not_fit_are_skipped_and_named(shipped_root):
    config = child_config(shipped_root, **{"model.latent_dim": 16})  # G's first layer takes 16 inputs, not 32
    trainer = new_trainer(config, shipped_root, data=small_image_set())
    skipped = trainer.transfer.skipped
    assert set(skipped) == {"generator.net.0.weight", "generator_ema.net.0.weight"}
    rows = trainer.generator.state_dict()["net.0.weight"].shape[0]
    assert skipped["generator.net.0.weight"] == f"parent ({rows}, 32), here ({rows}, 16)"
    assert "skipped: generator.net.0.weight" in trainer.transfer.summary()
    saved = parent_tensors(shipped_root)
    assert torch.equal(trainer.discriminator.state_dict()["net.0.weight"], saved["networks.discriminator.net.0.weight"])


def test_fitting_tensors_maps_spectral_norm_names_both_ways():
    plain = {"net.0.weight": torch.ones(2, 3), "net.0.bias": torch.zeros(2)}
    normalized = {"net.0.parametrizations.weight.original": torch.zeros(2, 3), "net.0.bias": torch.ones(2)}
    fits, skipped = fitting_tensors(normalized, plain)
    assert not skipped and torch.equal(fits["net.0.parametrizations.weight.original"], torch.ones(2, 3))
    fits, skipped = fitting_tensors(plain, {"net.0.parametrizations.weight.original": torch.ones(3, 3)})
    assert skipped == {"net.0.weight": "parent (3, 3), here (2, 3)", "net.0.bias": "not in the parent"}


@pytest.mark.parametrize("k", [1, 2])
def test_freezed_keeps_the_first_k_discriminator_layers_fixed(shipped_root, k):
    config = child_config(shipped_root, **{"transfer.freeze_d": k, "optim.lr_discriminator": 1e-2})
    trainer = new_trainer(config, shipped_root, data=small_image_set())
    before = {name: layer.weight.detach().clone() for name, layer in weight_layers(trainer.discriminator)}
    biases = {name: layer.bias.detach().clone() for name, layer in weight_layers(trainer.discriminator)}
    for _ in range(3):
        trainer.step()
    layers = list(weight_layers(trainer.discriminator))
    assert len(trainer.transfer.frozen) == k
    for index, (name, layer) in enumerate(layers):
        unchanged = torch.equal(layer.weight, before[name]) and torch.equal(layer.bias, biases[name])
        assert unchanged == (index < k), (name, index)


def test_freezing_more_layers_than_d_has_is_a_config_error(shipped_root):
    config = child_config(shipped_root, **{"transfer.freeze_d": 40})
    with pytest.raises(ConfigError, match="transfer.freeze_d"):
        new_trainer(config, shipped_root, data=small_image_set())


def test_fine_tuning_scales_every_learning_rate(shipped_root):
    config = child_config(shipped_root, **{"transfer.lr_scale": 0.1})
    trainer = new_trainer(config, shipped_root, data=small_image_set())
    assert trainer.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(config.optim.lr_generator * 0.1)
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(
        config.optim.lr_discriminator * 0.1)


def test_a_parent_of_the_other_family_is_refused(shipped_root):
    vae = RunConfig().replace(**{"model.family": "vae", "data.name": "fashion_mnist"})
    with pytest.raises(ConfigError, match="is a GAN; this run is a VAE"):
        transfer_config(vae, parent_config(PARENT, shipped_root), PARENT)


def test_cli_from_run_records_the_parent_and_freezes_d(tmp_path, capsys):
    root = str(tmp_path)
    assert main(["train", "--family", "gan", *TINY_RING, "--steps", "20", "--name", "parent", "--root", root,
                 "--quiet"]) == 0
    code = main(["train", "--from-run", "parent", "--dataset", "moons", "--n-samples", "256", "--batch-size", "32",
                 "--device", "cpu", "--freeze-d", "1", "--lr-scale", "0.5", "--steps", "5", "--name", "child",
                 "--root", root, "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "transfer: loaded" in err and "from parent (step 20)" in err
    child_config_json = json.loads((tmp_path / "child" / "config.json").read_text())
    assert child_config_json["transfer"] == {"from_run": "parent", "freeze_d": 1, "lr_scale": 0.5}
    assert child_config_json["model"]["width"] == 16 and child_config_json["model"]["latent_dim"] == 4  # the parent's
    meta = json.loads((tmp_path / "child" / "meta.json").read_text())
    first, second = [name for name, _ in weight_layers(load_run(tmp_path / "child", load_data=False).trainer.discriminator)][:2]
    assert meta["parent"]["run"] == "parent" and meta["parent"]["frozen"] == [first]
    parent = load_file(str(tmp_path / "parent" / "weights.safetensors"))
    child = load_file(str(tmp_path / "child" / "weights.safetensors"))
    weight = "networks.discriminator.{}.weight".format
    assert torch.equal(child[weight(first)], parent[weight(first)])  # frozen
    assert not torch.equal(child[weight(second)], parent[weight(second)])


def test_cli_from_a_missing_run_is_one_clear_error(tmp_path, capsys):
    code = main(["train", "--from-run", "nowhere", "--dataset", "ring", "--steps", "2", "--name", "child",
                 "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0 and "nowhere" in err and "Traceback" not in err
    assert not (tmp_path / "child").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)
