"""genlab.models.budget: the model's size known from the config alone, exact against real models, and
oversized models refused (with their size in the message) before anything is allocated."""
from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from genlab.config import ConfigError, RunConfig
from genlab.data import images_from_zip_bytes, load_data
from genlab.models.budget import (
    MAX_ACTIVATION_BYTES,
    MAX_PARAMETERS,
    activations_per_sample,
    check_model_budget,
    computing_layers,
    data_shapes,
    model_size,
)
from genlab.trainers import make_trainer

from conftest import REPO_ROOT

CONFIGS = {  # small versions of every architecture the models package builds
    "gan-mlp-points": {"data.name": "ring", "data.n_samples": 64, "model.width": 16, "model.depth": 3},
    "gan-mlp-images-sn": {"data.name": "shapes", "data.image_size": 28, "data.n_samples": 64, "model.width": 8,
                          "model.spectral_norm_discriminator": True, "model.spectral_norm_generator": True},
    "gan-conv-28-sn": {"data.name": "shapes", "data.image_size": 28, "data.n_samples": 64, "model.arch": "conv",
                       "model.width": 4, "model.spectral_norm_discriminator": True},
    "gan-conv-64": {"data.name": "shapes", "data.image_size": 64, "data.n_samples": 64, "model.arch": "conv",
                    "model.width": 4, "model.latent_dim": 5, "model.spectral_norm_generator": True},
    "vae-mlp-points": {"data.name": "ring", "data.n_samples": 64, "model.family": "vae", "model.width": 16,
                       "objective.likelihood": "gaussian"},
    "gan-resnet-32-sn": {"data.name": "shapes", "data.image_size": 32, "data.n_samples": 64, "model.arch": "resnet",
                         "model.width": 4, "model.spectral_norm_discriminator": True},
    "vae-resnet-28": {"data.name": "shapes", "data.image_size": 28, "data.n_samples": 64, "model.family": "vae",
                      "model.arch": "resnet", "model.width": 4},
    "vae-conv-32-sn": {"data.name": "shapes", "data.image_size": 32, "data.n_samples": 64, "model.family": "vae",
                       "model.arch": "conv", "model.width": 4, "model.spectral_norm_encoder": True,
                       "model.spectral_norm_decoder": True},
}


LAYER_TYPES = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Identity,
               nn.Flatten, nn.Unflatten, nn.Upsample, nn.AvgPool2d)


def config_of(key: str) -> RunConfig:
    return RunConfig().replace(**CONFIGS[key])


@pytest.mark.parametrize("key", CONFIGS)
def test_sizes_match_the_models_the_trainer_builds(key):
    config = config_of(key)
    trainer = make_trainer(config, device="cpu")
    size = model_size(config, trainer.data_shape)
    stored = [t for state in trainer.state_dict()["networks"].values() for t in state.values()]
    trained = [p for net in trainer.networks.values() for p in net.parameters()]
    every = [p for net in trainer.networks.values() for p in net.parameters()]
    if hasattr(trainer, "generator_ema"):
        every += list(trainer.generator_ema.parameters())
    assert size.weight_tensors == len(stored)
    assert size.weights_bytes == sum(t.numel() * t.element_size() for t in stored)
    assert size.parameters == sum(p.numel() for p in every)
    assert size.trainable == sum(p.numel() for p in trained)
    assert size.trainable_tensors == len(trained)


@pytest.mark.parametrize("key", CONFIGS)
def test_activations_per_sample_match_a_forward_pass(key):
    """The meta-device count against the outputs of every layer in a real forward pass of 3 samples."""
    config = config_of(key)
    trainer = make_trainer(config, device="cpu")
    for name, net in trainer.networks.items():
        counted = []
        layers = [m for m in net.modules() if isinstance(m, LAYER_TYPES)]
        assert len(layers) == len(computing_layers(net)), "a layer type is missing from LAYER_TYPES"
        hooks = [layer.register_forward_hook(lambda m, i, out: counted.append(out.numel())) for layer in layers]
        decodes = name in ("generator", "decoder")
        x = torch.randn(3, config.model.latent_dim) if decodes else torch.rand(3, *trainer.data_shape)
        with torch.no_grad():
            net(x)
        for hook in hooks:
            hook.remove()
        in_shape = (config.model.latent_dim,) if decodes else trainer.data_shape
        assert activations_per_sample(net, in_shape) * 3 == sum(counted), name


def _zip_of(images: list[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for i, image in enumerate(images):
            png = io.BytesIO()
            Image.fromarray(image).save(png, format="PNG")
            zf.writestr(f"img{i}.png", png.getvalue())
    return buffer.getvalue()


def test_data_shapes_from_the_config_hold_the_real_data_shape():
    rng = np.random.default_rng(0)
    for name, size in (("ring", 32), ("shapes", 28), ("shapes", 64)):
        config = RunConfig().replace(**{"data.name": name, "data.image_size": size, "data.n_samples": 32})
        assert tuple(load_data(config.data).shape) in data_shapes(config.data)
    if Path("/usr/share/datasets/fashion-mnist").is_dir():
        config = RunConfig().replace(**{"data.name": "fashion_mnist"})
        assert data_shapes(config.data) == (tuple(load_data(config.data).shape),)
    folder = RunConfig().replace(**{"data.name": "folder", "data.path": "upload:x", "data.image_size": 32}).data
    grey = images_from_zip_bytes(_zip_of([rng.integers(0, 255, (40, 40), dtype=np.uint8)] * 2), 32)
    colour = images_from_zip_bytes(_zip_of([rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)] * 2), 32)
    assert data_shapes(folder) == (tuple(grey.shape), tuple(colour.shape))


@pytest.mark.parametrize("changes, message", [
    ({"data.name": "shapes", "data.image_size": 64, "model.arch": "conv", "model.width": 2048},
     r"model\.width=2048 is invalid: this model would have 8\.46 G parameters \(31\.5 GiB\); the limit is 100 M"),
    ({"data.name": "shapes", "data.image_size": 64, "model.arch": "mlp", "model.width": 2048, "model.depth": 8},
     r"this model would have 113 M parameters \(432 MiB\)"),
    ({"data.name": "ring", "model.width": 2048, "model.depth": 8, "optim.batch_size": 65536},
     r"optim\.batch_size=65536 is invalid: one training step of this model would need about 64 GiB for activations; "
     r"the limit is 4 GiB"),
])
def test_oversized_models_are_refused_naming_their_size(changes, message):
    config = RunConfig().replace(**changes)
    with pytest.raises(ConfigError, match=message):
        check_model_budget(config)


def test_the_limits_leave_the_usual_models_alone():
    usual = [{"data.name": "shapes", "data.image_size": 64, "model.arch": "conv", "model.width": 64,
              "optim.batch_size": 128},  # DCGAN at 64 px
             {"data.name": "fashion_mnist", "model.arch": "conv", "model.width": 32, "optim.batch_size": 4096},
             {"data.name": "ring", "model.width": 1024, "model.depth": 8, "optim.batch_size": 4096}]
    for changes in usual:
        size = check_model_budget(RunConfig().replace(**changes))
        assert size.parameters <= MAX_PARAMETERS and size.activation_bytes <= MAX_ACTIVATION_BYTES


def test_a_trainer_refuses_an_oversized_model_before_loading_data_or_weights(monkeypatch):
    import genlab.trainers.base as base

    def no_data(*args, **kwargs):
        raise AssertionError("the data set was loaded before the model's size was checked")

    monkeypatch.setattr(base, "load_data", no_data)
    config = RunConfig().replace(**{"data.name": "shapes", "data.image_size": 64, "model.arch": "conv",
                                    "model.width": 512})  # 530 M parameters: 2 GiB if it were built
    with pytest.raises(ConfigError, match="G parameters|M parameters"):
        make_trainer(config, device="cpu")


def test_refusing_the_22_gib_model_costs_no_memory():
    """Peak memory of a process that tries the width-2048 conv GAN at 64 px (5.6 G parameters in G and D).
    Its address space is capped at 4 GiB, so a regression fails here instead of exhausting the machine."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))\n"
        "from genlab.config import ConfigError, RunConfig\n"
        "from genlab.trainers import make_trainer\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "config = RunConfig().replace(**{'data.name': 'shapes', 'data.image_size': 64, 'model.arch': 'conv',"
        " 'model.width': 2048})\n"
        "try:\n"
        "    make_trainer(config, device='cpu')\n"
        "except ConfigError as exc:\n"
        "    print(str(exc))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                         check=True).stdout.splitlines()
    growth_mib = int(out[-1]) / 1024
    print(f"peak RSS growth while refusing the 31.5 GiB GAN: {growth_mib:.0f} MiB")
    assert "this model would have 8.46 G parameters (31.5 GiB)" in out[0]
    assert growth_mib < 200


def test_the_budget_is_computed_without_running_anything_heavy():
    config = RunConfig().replace(**{"data.name": "shapes", "data.image_size": 64, "model.arch": "conv",
                                    "model.width": 2048, "model.spectral_norm_discriminator": True})
    size = model_size(config)
    assert size.parameters > 8e9 and math.isfinite(size.activation_bytes)
    json.dumps(size.__dict__)  # plain numbers
