"""Training subsets and held-out splits (genlab.data.split): seeded, disjoint, nested, labelled."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genlab.config import ConfigError, DataConfig, RunConfig
from genlab.data import DataSource, carve_heldout, heldout_part, load_data, training_subset
from genlab.data.split import HELDOUT_SHARE, MIN_IMAGES_TO_SPLIT
from genlab.trainers import make_trainer
from test_data import write_mnist_split

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no ./data to find by accident


def numbered(n: int) -> DataSource:
    """n one-pixel-row images whose first pixel is their index: a sample's identity is visible."""
    x = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    ids = torch.arange(n)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = (ids % 256).to(torch.uint8), (ids // 256).to(torch.uint8)
    return DataSource(name="folder", kind="images", x=x, labels=ids % 10, origin="numbered")


def ids(source: DataSource) -> set[int]:
    return set((source.x[:, 0, 0, 0].long() + 256 * source.x[:, 0, 0, 1].long()).tolist())


def test_heldout_split_is_disjoint_complete_seeded_and_labelled():
    whole = numbered(500)
    train = carve_heldout(whole, seed=3, why="no test files")
    held = heldout_part(train)
    assert len(held) == round(500 * HELDOUT_SHARE) and len(train) == 500 - len(held)
    assert ids(train).isdisjoint(ids(held)) and ids(train) | ids(held) == set(range(500))
    assert torch.equal(held.labels, torch.tensor(sorted(ids(held))) % 10)  # labels travel with their images
    again = carve_heldout(numbered(500), seed=3, why="no test files")
    other = carve_heldout(numbered(500), seed=4, why="no test files")
    assert ids(heldout_part(again)) == ids(held) and ids(heldout_part(other)) != ids(held)
    assert "held-out" in held.split_note and "seed 3" in held.origin and "no test files" in held.origin


def test_a_set_too_small_to_split_says_its_test_split_is_the_training_images():
    tiny = numbered(MIN_IMAGES_TO_SPLIT - 1)
    train = carve_heldout(tiny, seed=0, why="a user's images have no test split")
    assert train.heldout is None and len(train) == len(tiny)
    stand_in = heldout_part(train)
    assert ids(stand_in) == ids(tiny) and "no held-out split" in stand_in.split_note


def test_training_subsets_are_seeded_nested_and_keep_the_heldout_part_apart():
    train = carve_heldout(numbered(2000), seed=0, why="test")
    small, large = training_subset(train, 100, seed=7), training_subset(train, 500, seed=7)
    assert len(small) == 100 and len(large) == 500
    assert ids(small) <= ids(large) <= ids(train)  # 100 ⊂ 500 ⊂ the training part
    assert ids(large).isdisjoint(ids(heldout_part(large)))
    assert ids(heldout_part(large)) == ids(heldout_part(train))
    assert ids(training_subset(train, 100, seed=8)) != ids(small)
    assert training_subset(train, 0, seed=7) is train and training_subset(train, 5000, seed=7) is train
    assert "training subset: 100 of 1,800" in small.origin


def test_mnist_copy_without_test_files_gets_a_seeded_heldout_split(tmp_path):
    images, _ = write_mnist_split(tmp_path / "mnist", "train", 200, seed=0, gz=False)
    cfg = DataConfig(name="mnist", path=str(tmp_path / "mnist"), subset_seed=5)
    train, test = load_data(cfg, CPU), load_data(cfg, CPU, split="test")
    assert len(train) + len(test) == 200 and len(test) == 20
    rows = {bytes(image) for image in images.reshape(200, -1)}
    train_rows = {bytes(image) for image in train.x.reshape(len(train), -1).numpy()}
    test_rows = {bytes(image) for image in test.x.reshape(len(test), -1).numpy()}
    assert train_rows.isdisjoint(test_rows) and train_rows | test_rows == rows
    assert "held-out split" in test.origin and test.split_note
    subset = load_data(DataConfig(name="mnist", path=str(tmp_path / "mnist"), subset_seed=5, train_size=100), CPU)
    assert len(subset) == 100
    assert {bytes(image) for image in subset.x.reshape(100, -1).numpy()} <= train_rows


def test_mnist_copy_with_test_files_keeps_the_official_split(tmp_path):
    write_mnist_split(tmp_path / "mnist", "train", 50, seed=0, gz=False)
    test_images, _ = write_mnist_split(tmp_path / "mnist", "t10k", 30, seed=1, gz=False)
    cfg = DataConfig(name="mnist", path=str(tmp_path / "mnist"), train_size=0)
    assert len(load_data(cfg, CPU)) == 50
    assert np.array_equal(load_data(cfg, CPU, split="test").x[:, 0].numpy(), test_images)


def test_train_size_must_be_one_of_the_offered_sizes():
    with pytest.raises(ConfigError, match="data.train_size"):
        RunConfig().replace(**{"data.name": "shapes", "data.train_size": 123}).validate()


def test_gan_records_d_accuracy_on_training_and_heldout_images():
    config = RunConfig().replace(**{
        "data.name": "shapes", "data.n_samples": 300, "data.train_size": 50, "model.arch": "conv",
        "model.width": 8, "model.latent_dim": 8, "optim.batch_size": 8, "stats_every": 2}).validate()
    trainer = make_trainer(config)
    assert len(trainer.data) == 50
    rows = [trainer.step() for _ in range(2)]
    last = rows[-1]
    assert 0.0 <= last["d/acc_train"] <= 1.0 and 0.0 <= last["d/acc_heldout"] <= 1.0
    assert "d/acc_train" not in rows[0]  # measured every stats_every steps only
    heldout = trainer.heldout_data()
    assert heldout is not None and len(heldout) == 300


def test_test_elbo_of_a_copy_without_test_files_uses_and_names_its_heldout_split(tmp_path):
    from genlab.metrics.vae_metrics import vae_test_metrics

    write_mnist_split(tmp_path / "mnist", "train", 100, seed=0, gz=False)
    config = RunConfig().replace(**{
        "model.family": "vae", "data.name": "mnist", "data.path": str(tmp_path / "mnist"), "model.width": 16,
        "model.depth": 1, "model.latent_dim": 2, "optim.batch_size": 8}).validate()
    trainer = make_trainer(config)
    assert len(trainer.data) == 90
    result = vae_test_metrics(trainer, n_test=50, ks=(1,), nll_examples=5)
    assert result["n_test"] == 10  # all of the held-out part, none of the 90 training images
    assert "seeded held-out split" in result["split"] and "seed 0" in result["split"]
