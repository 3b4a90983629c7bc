"""Training speed: genlab's trainer next to a plain PyTorch loop on the identical model, batch and data.

For each default model (genlab.presets, what the app and the CLI start from), in one process:
  genlab  `genlab.training.run` with the metric history hook — what the app and the CLI run per step
          (the trainer's step with its metrics, divergence checks, G's weight EMA and per-layer norms
          every `stats_every` steps, recorded in a MetricHistory);
  plain   the loop the pytorch/examples way (dcgan/main.py, vae/main.py): a DataLoader with shuffling
          over a TensorDataset of the same data, the same networks (copies of the trainer's, built by
          genlab.models), the same optimizer (fused Adam, as genlab builds it) and loss; losses read with .item() each step as
          the examples do for logging. Like dcgan/main.py (and genlab with n_critic = 1), the GAN loop reuses the D step's fake batch
          for G's update (one G forward per step) and lets G's backward also fill D's
          weight gradients (genlab freezes D there).
The two alternate in rounds (genlab, plain, genlab, ...) so drift in machine load hits both alike; each
reports the median over rounds. FLOPs of one step are counted with torch.utils.flop_counter's formulas and set
against a float32 matmul peak measured in the same run. --breakdown times genlab again without the
history hook, then also without its per-layer statistics, then also without its checks and metric
readout, to show where the time goes.

    python benchmarks/train_bench.py --threads 1 --breakdown   # all models, ~3 minutes on 2 CPU cores
    python benchmarks/train_bench.py --models ring-gan --rounds 3 --seconds 0.5
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.flop_counter import flop_registry  # noqa: E402

from genlab.config import RunConfig  # noqa: E402
from genlab.presets import preset  # noqa: E402
from genlab.trainers import make_trainer  # noqa: E402
from genlab.training import HistoryHook, MetricHistory, run  # noqa: E402

# The app's defaults (genlab.presets: what the app and the CLI start from for a family and data set),
# and the pytorch/examples VAE (784-400-20, batch 128) on Fashion-MNIST.
MODELS: dict[str, tuple[str, str, dict]] = {
    "ring-gan": ("gan", "ring", {}),
    "shapes-vae": ("vae", "shapes", {"data.n_samples": 20000}),
    "fashion-gan": ("gan", "fashion_mnist", {}),
    "fashion-vae": ("vae", "fashion_mnist", {"model.arch": "mlp", "model.width": 400, "model.depth": 1,
                                             "model.latent_dim": 20, "optim.batch_size": 128}),
}


def model_config(name: str, **extra) -> RunConfig:
    family, dataset, overrides = MODELS[name]
    return RunConfig(name=name, device="cpu").replace(**{**preset(family, dataset), **overrides, **extra})


# --- the plain loops ------------------------------------------------------------------------------------
def forever(loader: DataLoader):
    while True:
        yield from loader


class PlainGAN:
    """dcgan/main.py's iteration with logits: D on real (label 1) and on detached fake (label 0), then G.
    With R1 on (the ring preset), D's loss on real data adds γ/2 · E‖∇_x D(x)‖², its gradient taken
    from the same forward pass as the loss, the way Mescheder et al.'s code does it."""

    def __init__(self, trainer):
        self.G = copy.deepcopy(trainer.generator)
        self.D = copy.deepcopy(trainer.discriminator)
        opt = trainer.config.optim
        self.optD = torch.optim.Adam(self.D.parameters(), lr=opt.lr_discriminator, betas=(opt.beta1, opt.beta2), fused=True)
        self.optG = torch.optim.Adam(self.G.parameters(), lr=opt.lr_generator, betas=(opt.beta1, opt.beta2), fused=True)
        x = trainer.data.x.float()
        if trainer.data.kind == "images":
            x = x.div(255).mul(2).sub(1)  # the generator's tanh range, as the trainer feeds D
        self.loader = forever(DataLoader(TensorDataset(x), batch_size=opt.batch_size, shuffle=True, drop_last=True))
        self.latent_dim = trainer.latent_dim
        self.r1_gamma = trainer.config.objective.r1_gamma
        self.criterion = torch.nn.BCEWithLogitsLoss()

    def step(self) -> None:
        (real,) = next(self.loader)
        b = real.shape[0]
        # (1) update D: maximize log D(x) + log(1 - D(G(z)))
        self.D.zero_grad()
        label = torch.full((b,), 1.0)
        if self.r1_gamma > 0:
            real.requires_grad_(True)
        out_real = self.D(real)
        err_real = self.criterion(out_real, label)
        if self.r1_gamma > 0:
            (grad,) = torch.autograd.grad(out_real.sum(), real, create_graph=True)
            err_real = err_real + 0.5 * self.r1_gamma * grad.pow(2).reshape(b, -1).sum(1).mean()
        err_real.backward()
        fake = self.G(torch.randn(b, self.latent_dim))
        label.fill_(0.0)
        err_fake = self.criterion(self.D(fake.detach()), label)
        err_fake.backward()
        self.optD.step()
        # (2) update G: maximize log D(G(z))
        self.G.zero_grad()
        label.fill_(1.0)
        err_g = self.criterion(self.D(fake), label)
        err_g.backward()
        self.optG.step()
        _ = (err_real + err_fake).item(), err_g.item()


class PlainVAE:
    """vae/main.py's iteration: reconstruction (Bernoulli, from logits) + KL, averaged per example."""

    def __init__(self, trainer):
        self.vae = copy.deepcopy(trainer.vae)
        opt = trainer.config.optim
        self.optimizer = torch.optim.Adam(self.vae.parameters(), lr=opt.lr_decoder, betas=(opt.beta1, opt.beta2), fused=True)
        x = trainer.data.x.float()
        if trainer.data.kind == "images":
            x = x.div(255)
        self.loader = forever(DataLoader(TensorDataset(x), batch_size=opt.batch_size, shuffle=True, drop_last=True))

    def step(self) -> None:
        (x,) = next(self.loader)
        self.optimizer.zero_grad()
        recon, mu, logvar = self.vae(x)
        bce = F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (bce + kld) / x.shape[0]
        loss.backward()
        self.optimizer.step()
        _ = loss.item()


# --- measuring ------------------------------------------------------------------------------------------
def through_the_loop(trainer, record: bool = True):
    """n -> n more steps of `trainer` through genlab's training loop (recording metrics as the app does)."""
    hooks = [HistoryHook(MetricHistory())] if record else []
    return lambda n: run(trainer, until=trainer.step_count + n, hooks=hooks)


def one_by_one(step):
    """n -> n calls of a plain loop's step."""
    def train(n: int) -> None:
        for _ in range(n):
            step()
    return train


def matmul_peak_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


class CountFlops(TorchDispatchMode):
    """FLOPs of one call, from torch.utils.flop_counter's per-operator formulas (matmuls, convolutions).
    Its FlopCounterMode also tracks modules, with hooks that autograd.grad (R1's gradient) breaks."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def flops_of(train) -> int:
    with CountFlops() as counter:
        train(1)
    return counter.total


def rate(train, n: int) -> float:
    start = time.perf_counter()
    train(n)
    return n / (time.perf_counter() - start)


@dataclass
class Result:
    model: str
    batch: int
    genlab: float  # steps/s (median over rounds)
    plain: float
    flops_genlab: int  # per step
    flops_plain: int

    @property
    def ratio(self) -> float:
        return self.genlab / self.plain


def bench(name: str, rounds: int, seconds: float) -> Result:
    torch.manual_seed(0)
    config = model_config(name)
    trainer = make_trainer(config)
    plain = PlainGAN(trainer) if config.model.family == "gan" else PlainVAE(trainer)
    sides = {"genlab": through_the_loop(trainer), "plain": one_by_one(plain.step)}
    flops_g, flops_p = flops_of(sides["genlab"]), flops_of(sides["plain"])
    # warm up, and size a round to about `seconds` for each side
    per_round = {side: max(3, round(rate(train, 3) * seconds)) for side, train in sides.items()}
    steps = {"genlab": [], "plain": []}
    for _ in range(rounds):
        for side, train in sides.items():
            steps[side].append(rate(train, per_round[side]))
    return Result(name, config.optim.batch_size, statistics.median(steps["genlab"]), statistics.median(steps["plain"]),
                  flops_g, flops_p)


def breakdown(name: str, rounds: int, seconds: float) -> dict[str, float]:
    """ms per step of genlab's loop with its extras removed one by one, next to the plain loop.

    "no history": the loop without hooks; "no layer stats": also stats_every huge (the per-layer
    Frobenius/spectral norms, every 25 steps by default); "bare": also no divergence checks and no
    metric readout (what remains is the model's own work).
    """
    config = model_config(name)
    full = make_trainer(config)
    no_history = make_trainer(config)
    no_stats = make_trainer(model_config(name, stats_every=1_000_000))
    bare = make_trainer(model_config(name, stats_every=1_000_000))
    bare._check_finite = lambda values: None

    def count_only(metrics):
        bare.step_count += 1
        return {}

    bare._finish_step = count_only
    plain = PlainGAN(full) if config.model.family == "gan" else PlainVAE(full)
    sides = {"genlab": through_the_loop(full), "genlab, no history": through_the_loop(no_history, record=False),
             "genlab, no layer stats": through_the_loop(no_stats, record=False),
             "genlab, bare": through_the_loop(bare, record=False), "plain": one_by_one(plain.step)}
    n = max(3, round(rate(sides["genlab"], 3) * seconds))
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(rounds):
        for key, train in sides.items():
            times[key].append(1e3 / rate(train, n))
    result = {k: statistics.median(v) for k, v in times.items()}
    start = time.perf_counter()
    for _ in range(3):
        full.layer_stats()
    result["layer_stats() call"] = (time.perf_counter() - start) / 3 * 1e3
    result["stats_every"] = config.stats_every
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}; {os.cpu_count()} logical CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads; "
            f"Python {platform.python_version()} on {platform.system()}")


def table(results: list[Result], peak: float) -> str:
    lines = [
        "| model | batch | genlab steps/s | plain steps/s | ratio | genlab samples/s | plain samples/s "
        "| MFLOP/step (genlab / plain) | genlab GFLOP/s | % of matmul peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        achieved = r.flops_genlab * r.genlab / 1e9
        lines.append(
            f"| {r.model} | {r.batch} | {r.genlab:.1f} | {r.plain:.1f} | {r.ratio:.2f}× | {r.genlab * r.batch:,.0f} "
            f"| {r.plain * r.batch:,.0f} | {r.flops_genlab / 1e6:.1f} / {r.flops_plain / 1e6:.1f} | {achieved:.1f} "
            f"| {100 * achieved / peak:.0f}% |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per model")
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one side of a round")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time genlab without its per-layer stats and without its checks/metrics")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    print(machine(), flush=True)
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f}", flush=True)
    if load > 0.5 and torch.get_num_threads() > 1:
        print(f"warning: the machine is busy (load {load:.1f} on {os.cpu_count()} CPUs); with "
              f"{torch.get_num_threads()} threads torch waits for descheduled threads and timings collapse "
              "(10-50x here). --threads 1 gives stable ratios on a shared machine.", flush=True)
    peak = matmul_peak_gflops()
    print(f"float32 matmul peak (1024x1024, best of 1 s): {peak:.1f} GFLOP/s", flush=True)
    results = []
    for name in args.models:
        r = bench(name, args.rounds, args.seconds)
        print(f"  {name}: genlab {r.genlab:.1f} steps/s, plain {r.plain:.1f} steps/s, ratio {r.ratio:.2f}", flush=True)
        results.append(r)
    print()
    print(table(results, peak))
    print(f"\n{args.rounds} alternating rounds of ~{args.seconds} s per side; medians. "
          f"Total {time.perf_counter() - start:.0f} s; load average at end {os.getloadavg()[0]:.1f}.")
    if args.breakdown:
        print("\nWhere genlab's time goes (ms per step, medians of alternating rounds):")
        for name in args.models:
            parts = breakdown(name, args.rounds, args.seconds / 2)
            every = parts.pop("stats_every")
            print(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + f" (every {every:g} steps)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "peak_gflops": peak,
                                         "results": [vars(r) | {"ratio": r.ratio} for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
