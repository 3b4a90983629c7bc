"""Does a larger β disentangle? Train one shapes VAE per β, everything else equal, and measure MIG.

    python -m genlab.experiments.mig_betas compare --betas 1 4 --steps 3000

MIG (genlab.metrics.mig) on fresh test examples, plus active units and the final loss terms.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch

from genlab.config import DataConfig, ModelConfig, ObjectiveConfig, OptimConfig, RunConfig
from genlab.metrics.mig import DEFAULT_EXAMPLES, trainer_mig
from genlab.metrics.vae_metrics import posterior_stats
from genlab.trainers import make_trainer
from genlab.training import DIVERGED, run


def shapes_vae(beta: float, steps: int, arch: str = "mlp", latent_dim: int = 10, width: int = 256, depth: int = 2,
               seed: int = 0, batch_size: int = 64, lr: float = 1e-3) -> RunConfig:
    """The config of one arm of the experiment (Bernoulli likelihood, Adam, no layer statistics)."""
    return RunConfig(
        name=f"shapes-beta{beta:g}", seed=seed, device="cpu", steps=steps, stats_every=1_000_000,
        data=DataConfig(name="shapes", image_size=32, n_samples=50_000),
        model=ModelConfig(family="vae", arch=arch, latent_dim=latent_dim, width=width, depth=depth),
        objective=ObjectiveConfig(likelihood="bernoulli", beta=float(beta)),
        optim=OptimConfig(optimizer="adam", lr_encoder=lr, lr_decoder=lr, beta1=0.9, beta2=0.999, batch_size=batch_size),
    )


def compare_betas(betas: Sequence[float], steps: int, arch: str = "mlp", latent_dim: int = 10, width: int = 256,
                  depth: int = 2, seed: int = 0, batch_size: int = 64, lr: float = 1e-3,
                  n_examples: int = DEFAULT_EXAMPLES, log=print) -> list[dict[str, Any]]:
    """Train one shapes VAE per β (everything else equal) and measure MIG on fresh test examples."""
    rows = []
    for beta in betas:
        trainer = make_trainer(shapes_vae(beta, steps, arch, latent_dim, width, depth, seed, batch_size, lr))
        started = time.perf_counter()
        result = run(trainer, until=steps)
        if result.reason == DIVERGED:
            raise result.error
        seconds = time.perf_counter() - started
        mig = trainer_mig(trainer, n_examples)
        x = trainer.data.sample(1000, generator=torch.Generator().manual_seed(seed))
        row = {"beta": beta, "mig": mig["mig"], **{k: v for k, v in mig.items() if k.startswith("mig/")},
               "active_units": posterior_stats(trainer, x)["active_units"], "final_recon": result.metrics["loss/recon"],
               "final_kl": result.metrics["loss/kl"], "train_seconds": round(seconds, 1)}
        log(json.dumps(row))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genlab.experiments.mig_betas", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare", help="train shapes VAEs with several β and report their MIG")
    p.add_argument("--betas", type=float, nargs="+", default=[1.0, 4.0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp")
    p.add_argument("--latent-dim", type=int, default=10)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--depth", type=int, default=2, help="hidden layers (mlp)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    compare_betas(args.betas, args.steps, args.arch, args.latent_dim, args.width, args.depth, args.seed,
                  args.batch_size, args.lr, args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
