"""Run configuration: dataclasses, validation and a JSON round trip.

Every value a user can type goes through `validate()`; anything wrong raises `ConfigError` naming the
field, the bad value and what is allowed. No other exception type escapes `RunConfig.from_dict`.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

from genlab import safe_json

TOY2D_DATASETS = ("ring", "grid", "spiral", "moons", "circles", "checkerboard", "swissroll", "points")
IMAGE_DATASETS = ("shapes", "mnist", "fashion_mnist", "cifar10", "folder")
DATASETS = TOY2D_DATASETS + IMAGE_DATASETS
FAMILIES = ("gan", "vae")
ARCHS = ("mlp", "conv")
GAN_LOSSES = ("nonsaturating", "minimax", "hinge", "wasserstein", "least_squares")
LIKELIHOODS = ("bernoulli", "gaussian")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DEVICES = ("auto", "cpu", "cuda", "mps")
IMAGE_SIZES = (28, 32, 64)
RUN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field, the value and what is allowed."""

    def __init__(self, field_name: str, value: Any, allowed: str):
        self.field = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field_name}={value!r} is invalid: {allowed}")


def _check_choice(name: str, value: Any, choices: tuple) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(name, value, f"must be one of {', '.join(choices)}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, value, f"must be an integer in [{low}, {high}]")


def _check_float(name: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (low < value if low_open else low <= value)
        and value <= high
    )
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(name, value, f"must be a finite number in {bracket}{low}, {high}]")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(name, value, "must be true or false")


def check_run_name(name: Any) -> str:
    """A run name is a folder name: letters, digits, '.', '_', '-', starting with a letter or digit."""
    if not isinstance(name, str) or not RUN_NAME_PATTERN.match(name) or name in (".", ".."):
        raise ConfigError(
            "name", name, "must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


@dataclass
class DataConfig:
    name: str = "ring"
    n_samples: int = 50_000  # synthetic sets only (2D and shapes)
    image_size: int = 32  # shapes and folder; MNIST-like sets are 28, CIFAR-10 is 32
    path: str = ""  # CSV of points, folder of images, or the root where torchvision sets live
    download: bool = False  # torchvision sets: try to download when not found offline

    def validate(self, prefix: str = "data") -> None:
        _check_choice(f"{prefix}.name", self.name, DATASETS)
        _check_int(f"{prefix}.n_samples", self.n_samples, 16, 2_000_000)
        if isinstance(self.image_size, bool) or self.image_size not in IMAGE_SIZES:
            raise ConfigError(f"{prefix}.image_size", self.image_size, f"must be one of {IMAGE_SIZES}")
        if not isinstance(self.path, str):
            raise ConfigError(f"{prefix}.path", self.path, "must be a string path")
        if self.name in ("points", "folder") and not self.path:
            raise ConfigError(f"{prefix}.path", self.path, f"is required for dataset {self.name!r}")
        _check_bool(f"{prefix}.download", self.download)

    @property
    def is_2d(self) -> bool:
        return self.name in TOY2D_DATASETS


@dataclass
class ModelConfig:
    family: str = "gan"
    arch: str = "mlp"
    latent_dim: int = 2
    width: int = 128  # hidden units (MLP) or base channels (conv)
    depth: int = 2  # hidden layers (MLP); conv depth follows the image size
    spectral_norm_d: bool = False  # D for a GAN, the encoder for a VAE
    spectral_norm_g: bool = False  # G for a GAN, the decoder for a VAE

    def validate(self, prefix: str = "model") -> None:
        _check_choice(f"{prefix}.family", self.family, FAMILIES)
        _check_choice(f"{prefix}.arch", self.arch, ARCHS)
        _check_int(f"{prefix}.latent_dim", self.latent_dim, 1, 512)
        _check_int(f"{prefix}.width", self.width, 4, 2048)
        _check_int(f"{prefix}.depth", self.depth, 1, 8)
        _check_bool(f"{prefix}.spectral_norm_d", self.spectral_norm_d)
        _check_bool(f"{prefix}.spectral_norm_g", self.spectral_norm_g)


@dataclass
class ObjectiveConfig:
    """Loss and every norm regularizer. All of these can change between steps (live)."""

    gan_loss: str = "nonsaturating"
    likelihood: str = "bernoulli"
    gaussian_std: float = 0.1  # fixed decoder std of the Gaussian likelihood
    beta: float = 1.0  # weight of the KL term
    capacity: float = 0.0  # Burgess et al. target KL C (nats): penalty beta * |KL - C|
    kl_warmup_steps: int = 0  # beta ramps linearly from 0 over this many steps
    l1_g: float = 0.0
    l2_g: float = 0.0
    l1_d: float = 0.0
    l2_d: float = 0.0
    weight_clip: float = 0.0  # D weights clamped to [-c, c]; 0 = off
    gp_lambda: float = 0.0  # WGAN-GP
    r1_gamma: float = 0.0
    r2_gamma: float = 0.0
    grad_clip: float = 0.0  # max gradient L2 norm per network; 0 = off

    def validate(self, prefix: str = "objective") -> None:
        _check_choice(f"{prefix}.gan_loss", self.gan_loss, GAN_LOSSES)
        _check_choice(f"{prefix}.likelihood", self.likelihood, LIKELIHOODS)
        _check_float(f"{prefix}.gaussian_std", self.gaussian_std, 0.0, 10.0, low_open=True)
        _check_float(f"{prefix}.beta", self.beta, 0.0, 1000.0)
        _check_float(f"{prefix}.capacity", self.capacity, 0.0, 1000.0)
        _check_int(f"{prefix}.kl_warmup_steps", self.kl_warmup_steps, 0, 10_000_000)
        for name in ("l1_g", "l2_g", "l1_d", "l2_d", "gp_lambda", "r1_gamma", "r2_gamma"):
            _check_float(f"{prefix}.{name}", getattr(self, name), 0.0, 1000.0)
        _check_float(f"{prefix}.weight_clip", self.weight_clip, 0.0, 100.0)
        _check_float(f"{prefix}.grad_clip", self.grad_clip, 0.0, 1e6)


@dataclass
class OptimConfig:
    optimizer: str = "adam"
    lr_g: float = 1e-3  # generator / decoder
    lr_d: float = 1e-3  # discriminator / encoder
    beta1: float = 0.0  # Adam (0, 0.9) kept the 2D ring GAN from stalling on more seeds than (0.5, 0.999)
    beta2: float = 0.9
    batch_size: int = 256
    n_critic: int = 1  # D steps per G step
    ema_decay: float = 0.99  # GAN samples come from an exponential moving average of G's weights; 0 = off

    def validate(self, prefix: str = "optim") -> None:
        _check_choice(f"{prefix}.optimizer", self.optimizer, OPTIMIZERS)
        _check_float(f"{prefix}.lr_g", self.lr_g, 0.0, 10.0, low_open=True)
        _check_float(f"{prefix}.lr_d", self.lr_d, 0.0, 10.0, low_open=True)
        _check_float(f"{prefix}.beta1", self.beta1, 0.0, 0.9999)
        _check_float(f"{prefix}.beta2", self.beta2, 0.0, 0.99999)
        _check_int(f"{prefix}.batch_size", self.batch_size, 1, 65_536)
        _check_int(f"{prefix}.n_critic", self.n_critic, 1, 100)
        _check_float(f"{prefix}.ema_decay", self.ema_decay, 0.0, 0.99999)


@dataclass
class RunConfig:
    name: str = "run"
    seed: int = 0
    device: str = "auto"
    steps: int = 4000  # budget for headless/CLI training
    stats_every: int = 25  # per-layer weight/spectral norms are measured every N steps
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def validate(self) -> "RunConfig":
        check_run_name(self.name)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_choice("device", self.device, DEVICES)
        _check_int("steps", self.steps, 1, 100_000_000)
        _check_int("stats_every", self.stats_every, 1, 1_000_000)
        self.data.validate()
        self.model.validate()
        self.objective.validate()
        self.optim.validate()
        if self.model.arch == "conv" and self.data.is_2d:
            raise ConfigError("model.arch", self.model.arch, "2D data needs the mlp architecture")
        if self.model.family == "vae" and self.data.is_2d and self.objective.likelihood != "gaussian":
            raise ConfigError("objective.likelihood", self.objective.likelihood, "2D data needs the gaussian likelihood")
        return self

    # --- JSON round trip -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Any) -> "RunConfig":
        config = _build(cls, raw, "")
        return config.validate()

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            raw = safe_json.loads(text, "config")
        except safe_json.JSONError as exc:
            raise ConfigError("config", str(text)[:40], f"must be valid JSON ({exc})") from None
        return cls.from_dict(raw)

    def replace(self, **dotted: Any) -> "RunConfig":
        """A validated copy with some fields changed, e.g. replace(**{"objective.beta": 4.0})."""
        raw = self.to_dict()
        for key, value in dotted.items():
            _set_dotted(raw, key, value)
        return RunConfig.from_dict(raw)


def _build(cls, raw: Any, prefix: str):
    where = prefix.rstrip(".") or "config"
    if not isinstance(raw, dict):
        raise ConfigError(where, raw, "must be a JSON object")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}", raw[unknown[0]], f"unknown key; allowed keys: {', '.join(known)}")
    kwargs = {}
    for name, value in raw.items():
        default = known[name].default_factory() if callable(known[name].default_factory) else None
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{prefix}{name}.")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _set_dotted(raw: dict, key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise ConfigError(key, value, "unknown field")
        node = node[part]
    if parts[-1] not in node:
        raise ConfigError(key, value, "unknown field")
    node[parts[-1]] = value


# Fields that may change while a run trains, without rebuilding anything.
LIVE_FIELDS = tuple(f"objective.{f.name}" for f in fields(ObjectiveConfig)) + (
    "optim.lr_g",
    "optim.lr_d",
    "optim.n_critic",
    "optim.ema_decay",
)
