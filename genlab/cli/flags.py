"""The flags of `train` and the config fields they set.

Each is validated by RunConfig, not by argparse, so the CLI and the app share one set of rules and
messages.
"""
from __future__ import annotations

import argparse
from typing import Any

TRAIN_FLAGS: list[tuple[str, str, Any, str]] = [
    ("--family", "model.family", str, "gan or vae"),
    ("--dataset", "data.name", str, "ring, grid, spiral, moons, circles, checkerboard, swissroll, points, "
                                     "shapes, mnist, fashion_mnist, cifar10, folder"),
    ("--data-path", "data.path", str, "CSV of points, folder of images, or where torchvision sets live"),
    ("--n-samples", "data.n_samples", int, "size of synthetic data sets"),
    ("--image-size", "data.image_size", int, "28, 32 or 64 (shapes, folder)"),
    ("--arch", "model.arch", str, "mlp or conv"),
    ("--latent-dim", "model.latent_dim", int, "latent dimensions"),
    ("--width", "model.width", int, "hidden units (mlp) or base channels (conv)"),
    ("--depth", "model.depth", int, "hidden layers (mlp)"),
    ("--loss", "objective.gan_loss", str, "nonsaturating, minimax, hinge, wasserstein, least_squares"),
    ("--likelihood", "objective.likelihood", str, "VAE decoder: bernoulli or gaussian"),
    ("--gaussian-std", "objective.gaussian_std", float, "std of the Gaussian likelihood"),
    ("--beta", "objective.beta", float, "VAE KL weight β"),
    ("--capacity", "objective.capacity", float, "VAE KL capacity C (nats)"),
    ("--kl-warmup", "objective.kl_warmup_steps", int, "steps over which β ramps up from 0"),
    ("--l1-g", "objective.l1_g", float, "L1 weight penalty on G / decoder"),
    ("--l2-g", "objective.l2_g", float, "L2 weight penalty on G / decoder"),
    ("--l1-d", "objective.l1_d", float, "L1 weight penalty on D / encoder"),
    ("--l2-d", "objective.l2_d", float, "L2 weight penalty on D / encoder"),
    ("--weight-clip", "objective.weight_clip", float, "clip D weights to [-c, c] (0 = off)"),
    ("--gp", "objective.gp_lambda", float, "WGAN-GP weight λ"),
    ("--r1", "objective.r1_gamma", float, "R1 penalty γ"),
    ("--r2", "objective.r2_gamma", float, "R2 penalty γ"),
    ("--grad-clip", "objective.grad_clip", float, "max gradient norm per network (0 = off)"),
    ("--optimizer", "optim.optimizer", str, "adam, rmsprop or sgd"),
    ("--lr-g", "optim.lr_g", float, "learning rate of G / decoder"),
    ("--lr-d", "optim.lr_d", float, "learning rate of D / encoder"),
    ("--beta1", "optim.beta1", float, "Adam β1 (SGD momentum)"),
    ("--beta2", "optim.beta2", float, "Adam β2"),
    ("--batch-size", "optim.batch_size", int, "samples per step"),
    ("--n-critic", "optim.n_critic", int, "D steps per G step"),
    ("--ema-decay", "optim.ema_decay", float, "GAN samples from an EMA of G's weights with this decay (0 = off)"),
    ("--steps", "steps", int, "train until this step count"),
    ("--seed", "seed", int, "random seed"),
    ("--name", "name", str, "run name (folder under --root)"),
    ("--device", "device", str, "auto, cpu, cuda or mps"),
    ("--stats-every", "stats_every", int, "per-layer norms every N steps"),
]
BOOL_FLAGS = [
    ("--spectral-norm-d", "model.spectral_norm_d", "spectral norm on D / encoder"),
    ("--spectral-norm-g", "model.spectral_norm_g", "spectral norm on G / decoder"),
    ("--download", "data.download", "download torchvision data sets when missing"),
]


def dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Every flag of the tables above, each defaulting to None (= not given)."""
    for flag, field, kind, text in TRAIN_FLAGS:
        parser.add_argument(flag, dest=dest(flag), type=kind, default=None, help=f"{text} [{field}]")
    for flag, field, text in BOOL_FLAGS:
        parser.add_argument(flag, dest=dest(flag), action=argparse.BooleanOptionalAction, default=None,
                            help=f"{text} [{field}]")


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """{dotted config field: value} for every flag given on the command line."""
    fields = [(flag, field) for flag, field, _, _ in TRAIN_FLAGS] + [(flag, field) for flag, field, _ in BOOL_FLAGS]
    return {field: getattr(args, dest(flag)) for flag, field in fields if getattr(args, dest(flag)) is not None}
