"""Would torch.compile make the ring GAN's step cheaper on this CPU? Eager against compiled, one thread.

The ring preset's step is mostly per-operation overhead (about 1 ms of arithmetic in 3.5-4.5 ms), the
cost a compiler removes by fusing operations. This script trains copies of the preset's networks
(genlab.presets, MLP 64x3) with a plain loop: D's update (non-saturating loss, optionally R1), then
G's, fused Adam at the preset's rates, and times D's loss function eager and under torch.compile
(inductor; C++ for the CPU, so it needs a compiler such as g++):

  no R1     D judges real and generated batches in one pass (what genlab does between lazy R1 updates)
  R1        R1's input gradient from the loss's own pass, autograd.grad with create_graph (genlab's way)
  R1 func   the same penalty written with torch.func.grad, the form torch.compile accepts: compiled
            autograd does not differentiate twice ("does not currently support double backward")

Each variant's first compiled step (tracing, code generation, C++ build) is reported apart, in CPU
seconds (inductor keeps what it built in an on-disk cache, so a second run of the script pays less);
then milliseconds per step, medians of alternating rounds, in process CPU time.

    python benchmarks/compile_bench.py             # ~1-2 min
    python benchmarks/compile_bench.py --rounds 9 --steps 200
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genlab.presets import config_for  # noqa: E402
from genlab.trainers import make_trainer  # noqa: E402


class PlainRingLoop:
    """The ring preset's networks and optimizers, stepped by a plain loop around a D-loss function."""

    def __init__(self, trainer, d_loss_name: str):
        optim = trainer.config.optim
        self.G = copy.deepcopy(trainer.generator)
        self.D = copy.deepcopy(trainer.discriminator)
        betas = (optim.beta1, optim.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=optim.lr_generator, betas=betas, fused=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=optim.lr_discriminator, betas=betas, fused=True)
        self.data = trainer.data.x.float()
        self.batch = optim.batch_size
        self.latent_dim = trainer.latent_dim
        self.gamma = trainer.config.objective.r1_gamma
        self.d_loss: Callable = getattr(self, d_loss_name)

    def no_r1(self, real, fake):
        logits = self.D(torch.cat([real, fake]))
        return F.softplus(-logits[: real.shape[0]]).mean() + F.softplus(logits[real.shape[0]:]).mean()

    def r1(self, real, fake):
        real = real.detach().requires_grad_(True)
        real_logits = self.D(real)
        (input_grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        penalty = 0.5 * self.gamma * input_grad.pow(2).sum(1).mean()
        return F.softplus(-real_logits).mean() + F.softplus(self.D(fake)).mean() + penalty

    def r1_func(self, real, fake):
        params = dict(self.D.named_parameters())
        input_grad = grad(lambda x: functional_call(self.D, params, (x,)).sum())(real)
        penalty = 0.5 * self.gamma * input_grad.pow(2).sum(1).mean()
        return F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake)).mean() + penalty

    def compile(self) -> None:
        self.d_loss = torch.compile(self.d_loss)

    def step(self) -> None:
        real = self.data[torch.randint(0, self.data.shape[0], (self.batch,))]
        fake = self.G(torch.randn(self.batch, self.latent_dim))
        self.opt_d.zero_grad(set_to_none=True)
        self.d_loss(real, fake.detach()).backward()
        self.opt_d.step()
        self.opt_g.zero_grad(set_to_none=True)
        for parameter in self.D.parameters():
            parameter.requires_grad_(False)
        F.softplus(-self.D(fake)).mean().backward()
        for parameter in self.D.parameters():
            parameter.requires_grad_(True)
        self.opt_g.step()


def cpu_ms_per_step(loop: PlainRingLoop, steps: int) -> float:
    started = time.process_time()
    for _ in range(steps):
        loop.step()
    return (time.process_time() - started) / steps * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=100, help="steps per round")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    trainer = make_trainer(config_for("gan", "ring", dotted={"device": "cpu"}))
    loops, compile_cpu_s, failures = {}, {}, {}
    for variant in ("no_r1", "r1", "r1_func"):
        loops[f"{variant} eager"] = PlainRingLoop(trainer, variant)
        compiled = PlainRingLoop(trainer, variant)
        compiled.compile()
        started = time.process_time()
        try:
            compiled.step()
        except RuntimeError as error:  # r1: compiled autograd does not differentiate twice
            failures[variant] = str(error).splitlines()[0][:80]
            continue
        compile_cpu_s[variant] = time.process_time() - started
        loops[f"{variant} compiled"] = compiled
    for loop in loops.values():
        cpu_ms_per_step(loop, 20)
    rounds: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, loop in loops.items():
            rounds[name].append(cpu_ms_per_step(loop, args.steps))
    print(f"ring preset networks, batch {trainer.config.optim.batch_size}, 1 thread, torch {torch.__version__}; "
          f"CPU ms per step, medians of {args.rounds} alternating rounds of {args.steps} steps\n")
    print("| D loss | eager ms | compiled ms | compiled / eager | first compiled step (CPU s) |")
    print("|---|---:|---:|---:|---:|")
    for variant in ("no_r1", "r1", "r1_func"):
        eager = statistics.median(rounds[f"{variant} eager"])
        if variant in compile_cpu_s:
            compiled = statistics.median(rounds[f"{variant} compiled"])
            print(f"| {variant} | {eager:.2f} | {compiled:.2f} | {compiled / eager:.2f}× | {compile_cpu_s[variant]:.1f} |")
        else:
            print(f"| {variant} | {eager:.2f} | fails: {failures[variant]} | — | — |")


if __name__ == "__main__":
    main()
