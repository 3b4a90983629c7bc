"""FID / KID on genlab's own classifier features, and the shipped feature classifiers themselves."""
import json

import pytest
import torch

from genlab.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from genlab.data import DataUnavailableError, load_data
from genlab.metrics.classifier import (
    CONFIG_FILE,
    DEFAULT_ROOT,
    WEIGHTS_FILE,
    ClassifierUnavailableError,
    FeatureClassifier,
    load_feature_extractor,
    save_classifier,
    train_classifier,
)
from genlab.metrics.fid import fid_label, sample_fid, trainer_fid
from genlab.trainers import make_trainer

SHIPPED = {"fashion_mnist": 0.89, "shapes": 0.95}  # data set -> lowest acceptable test accuracy
N = 1000



def draw(source, n, seed):
    return source.x[torch.randperm(len(source), generator=torch.Generator().manual_seed(seed))[:n]]


@pytest.fixture(scope="module")
def fashion():
    try:
        cfg = DataConfig(name="fashion_mnist")
        return load_data(cfg), load_data(cfg, split="test")
    except DataUnavailableError as exc:
        pytest.skip(f"Fashion-MNIST not installed: {exc}")


@pytest.fixture(scope="module")
def shapes():
    cfg = DataConfig(name="shapes", image_size=32, n_samples=N)
    return load_data(cfg), load_data(cfg, split="test")


@pytest.mark.parametrize("dataset", sorted(SHIPPED))
def test_shipped_classifier_records_its_command_and_accuracy(dataset):
    folder = DEFAULT_ROOT / dataset
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]  # no pickles
    assert all(p.stat().st_size < 1_000_000 for p in folder.iterdir())
    meta = json.loads((folder / CONFIG_FILE).read_text())
    assert meta["dataset"] == dataset
    assert meta["test_accuracy"] >= SHIPPED[dataset]
    assert meta["command"].startswith(f"python -m genlab.metrics.classifier train --dataset {dataset}")
    extractor = load_feature_extractor(dataset)
    assert extractor.num_features == meta["architecture"]["feature_dim"] == 64
    assert not extractor.training and not any(p.requires_grad for p in extractor.parameters())


def test_torchmetrics_takes_num_features_without_probing():
    """With num_features set, torchmetrics never feeds its 299x299 RGB dummy image to the network."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    extractor = load_feature_extractor("fashion_mnist")
    calls = []
    hook = extractor.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape))
    try:
        FrechetInceptionDistance(feature=extractor, normalize=True)
    finally:
        hook.remove()
    assert calls == []


def test_extractor_accepts_uint8_floats_and_other_sizes():
    extractor = load_feature_extractor("fashion_mnist")
    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(extractor(images), extractor(images.float() / 255.0))
    assert extractor(torch.rand(4, 1, 32, 32)).shape == (4, 64)  # resized to 28 px
    with pytest.raises(ValueError, match="needs images"):
        extractor(torch.rand(4, 3, 28, 28))


def test_missing_classifier_says_how_to_make_one(tmp_path):
    with pytest.raises(ClassifierUnavailableError, match="python -m genlab.metrics.classifier train --dataset mnist"):
        load_feature_extractor("mnist", root=tmp_path)


def test_fid_of_a_split_against_itself_is_near_zero_fashion(fashion):
    train, test = fashion
    real = draw(train, N, 0)
    same = sample_fid(real, draw(test, N, 1), "fashion_mnist", kid_subsets=20)
    noise = sample_fid(real, torch.rand(N, 1, 28, 28, generator=torch.Generator().manual_seed(2)), "fashion_mnist",
                       kid_subsets=20)
    other = sample_fid(real, draw(load_data(DataConfig(name="shapes", image_size=28, n_samples=N)), N, 3),
                       "fashion_mnist", kid_subsets=20)
    assert same["fid"] < 10.0
    assert same["fid"] < 0.02 * min(noise["fid"], other["fid"])
    assert abs(same["kid_mean"]) < 0.02 * min(noise["kid_mean"], other["kid_mean"])
    assert "not comparable with Inception" in same["feature_space"]


def test_fid_of_a_split_against_itself_is_near_zero_shapes(shapes, fashion):
    train, test = shapes
    real = draw(train, N, 0)
    same = sample_fid(real, test.x, "shapes", kid_subsets=20)
    noise = sample_fid(real, torch.rand(N, 1, 32, 32, generator=torch.Generator().manual_seed(2)), "shapes",
                       kid_subsets=20)
    other = sample_fid(real, draw(fashion[1], N, 3), "shapes", kid_subsets=20)  # 28 px, resized to 32
    assert same["fid"] < 0.02 * min(noise["fid"], other["fid"])
    assert abs(same["kid_mean"]) < 0.02 * min(noise["kid_mean"], other["kid_mean"])


@pytest.mark.slow
def test_fid_falls_as_a_gan_trains(fashion):
    """A small MLP GAN on Fashion-MNIST, 1,200 CPU steps: FID and KID against the test split fall."""
    cfg = RunConfig(
        name="fid", device="cpu", seed=0, stats_every=10_000, data=DataConfig(name="fashion_mnist"),
        model=ModelConfig(family="gan", arch="mlp", latent_dim=32, width=256, depth=2),
        optim=OptimConfig(lr_generator=5e-4, lr_discriminator=5e-4, beta1=0.5, beta2=0.999, batch_size=64, ema_decay=0.9),
    )
    trainer = make_trainer(cfg)
    before = trainer_fid(trainer, 500, torch.Generator().manual_seed(0))
    for _ in range(1200):
        trainer.step()
    after = trainer_fid(trainer, 500, torch.Generator().manual_seed(0))
    assert after["fid"] < 0.7 * before["fid"]  # measured alone: 598 -> 286 at 800 steps, 208 at 1,200
    assert after["kid_mean"] < 0.7 * before["kid_mean"]
    assert after["reference"] == "test split" and after["n_fake"] == 500


def test_train_save_load_round_trip(tmp_path):
    """A tiny classifier (shapes, 1 epoch on 512 images) survives safetensors + JSON unchanged."""
    classifier, meta = train_classifier("shapes", epochs=1, n_train=512, n_test=256, log=lambda *_: None)
    assert 0.0 <= meta["test_accuracy"] <= 1.0 and meta["regressed"] == ["scale", "pos_x", "pos_y"]
    save_classifier(classifier, tmp_path / "shapes", {**meta, "command": "test"})
    loaded = load_feature_extractor("shapes", root=tmp_path)
    x = torch.rand(5, 1, 32, 32)
    assert torch.equal(loaded(x), classifier.features(x))
    assert isinstance(loaded.classifier, FeatureClassifier)


def test_fid_label_says_what_it_is():
    assert "genlab" in fid_label("shapes") and "not Inception" in fid_label("shapes")
