"""Training speed: genlab's trainer next to a plain PyTorch loop on the identical model, batch and data.

For each default model (genlab.presets, what the app and the CLI start from), in one process:
  genlab  `genlab.training.run` with the metric history hook — what the app and the CLI run per step
          (the trainer's step with its metrics, divergence checks, G's weight EMA and per-layer norms
          every `stats_every` steps, recorded in a MetricHistory);
  plain   the loop the pytorch/examples way (dcgan/main.py, vae/main.py): a DataLoader with shuffling
          over a TensorDataset of the same data, the same networks (copies of the trainer's, built by
          genlab.models, in PyTorch's default memory layout; --plain-channels-last gives them genlab's), the same optimizer (fused Adam, as genlab builds it; stepped with optimizer.step()) and loss; losses read with .item() each step as
          the examples do for logging. Like dcgan/main.py (and genlab with n_critic = 1), the GAN loop reuses the D step's fake batch
          for G's update (one G forward per step) and lets G's backward also fill D's
          weight gradients (genlab freezes D there).
Each model runs as a few independent pairs (a trainer and the plain copy of its networks), since the
same code runs a few % faster in one instance than in another. Each round times every pair back to
back, in alternating order, so drift in machine load hits both alike; a round is a whole number of
stats_every periods. The ratio is the median of the pairs' ratios, shown with its quartiles and the
spread between instances, which says how far apart two runs of identical code land here. FLOPs of one
step (the mean over a lazy-R1 cycle) are counted with torch.utils.flop_counter's formulas and set against a float32 matmul peak
measured in the same run. genlab runs in float32 like the plain loop unless --precision says
otherwise. --breakdown times genlab again without the history hook, then also without its per-layer
statistics, then also without its checks and metric readout, to show where the time goes.

    python benchmarks/train_bench.py --threads 1 --breakdown   # all models, ~6 minutes on 2 CPU cores
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


def copied(net: torch.nn.Module, same_layout: bool) -> torch.nn.Module:
    """A copy of `net`, in PyTorch's default (NCHW) memory layout as the examples train, unless
    `same_layout`: genlab keeps conv kernels channels_last on a CPU, and a copy carries that over."""
    net = copy.deepcopy(net)
    return net if same_layout else net.to(memory_format=torch.contiguous_format)


def plain_loop(trainer, same_layout: bool = False):
    return (PlainGAN if trainer.config.model.family == "gan" else PlainVAE)(trainer, same_layout)


class PlainGAN:
    """dcgan/main.py's iteration with logits: D on real (label 1) and on detached fake (label 0), then G.
    With R1 on (the ring preset), D's loss on real data adds γ/2 · E‖∇_x D(x)‖², its gradient taken
    from the same forward pass as the loss, the way Mescheder et al.'s code does it; lazily (the ring
    preset: every 2nd update) as StyleGAN2 does, k·γ/2 · E‖∇_x D(x)‖² on every k-th D update, none between."""

    def __init__(self, trainer, same_layout: bool = False):
        self.G = copied(trainer.generator, same_layout)
        self.D = copied(trainer.discriminator, same_layout)
        opt = trainer.config.optim
        self.optD = torch.optim.Adam(self.D.parameters(), lr=opt.lr_discriminator, betas=(opt.beta1, opt.beta2), fused=True)
        self.optG = torch.optim.Adam(self.G.parameters(), lr=opt.lr_generator, betas=(opt.beta1, opt.beta2), fused=True)
        x = trainer.data.x.float().cpu()
        if trainer.data.kind == "images":
            x = x.div(255).mul(2).sub(1)  # the generator's tanh range, as the trainer feeds D
        self.loader = forever(DataLoader(TensorDataset(x), batch_size=opt.batch_size, shuffle=True, drop_last=True))
        self.device = trainer.device
        self.latent_dim = trainer.latent_dim
        self.r1_gamma = trainer.config.objective.r1_gamma
        self.lazy_interval = trainer.config.objective.lazy_interval
        self.updates = 0
        self.criterion = torch.nn.BCEWithLogitsLoss()

    def step(self) -> None:
        (real,) = next(self.loader)
        real = real.to(self.device)
        b = real.shape[0]
        # (1) update D: maximize log D(x) + log(1 - D(G(z)))
        self.D.zero_grad()
        label = torch.full((b,), 1.0, device=self.device)
        r1_weight = self.r1_gamma * self.lazy_interval if self.updates % self.lazy_interval == 0 else 0.0
        self.updates += 1
        if r1_weight > 0:
            real.requires_grad_(True)
        out_real = self.D(real)
        err_real = self.criterion(out_real, label)
        if r1_weight > 0:
            (grad,) = torch.autograd.grad(out_real.sum(), real, create_graph=True)
            err_real = err_real + 0.5 * r1_weight * grad.pow(2).reshape(b, -1).sum(1).mean()
        err_real.backward()
        fake = self.G(torch.randn(b, self.latent_dim, device=self.device))
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

    def __init__(self, trainer, same_layout: bool = False):
        self.vae = copied(trainer.vae, same_layout)
        opt = trainer.config.optim
        self.optimizer = torch.optim.Adam(self.vae.parameters(), lr=opt.lr_decoder, betas=(opt.beta1, opt.beta2), fused=True)
        x = trainer.data.x.float().cpu()
        if trainer.data.kind == "images":
            x = x.div(255)
        self.device = trainer.device
        self.loader = forever(DataLoader(TensorDataset(x), batch_size=opt.batch_size, shuffle=True, drop_last=True))

    def step(self) -> None:
        (x,) = next(self.loader)
        x = x.to(self.device)
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


def synchronize(device: str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; a timer must not stop before it)."""
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_peak_gflops(device: str = "cpu", dtype: torch.dtype = torch.float32, seconds: float = 1.0) -> float:
    """The best GFLOP/s of an n×n matmul in `dtype` on `device` (n = 8192 on CUDA, 1024 on a CPU), each
    timing a batch of 4 products."""
    n = 8192 if device == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    synchronize(device)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(4):
            a @ b
        synchronize(device)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t) / 1e9)
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


def flops_of(train, steps: int = 1) -> int:
    """FLOPs per step, averaged over `steps` steps (a lazy-R1 cycle: R1 on one update of k)."""
    with CountFlops() as counter:
        train(steps)
    return round(counter.total / steps)


def clock(device: str = "cpu") -> float:
    """CPU seconds of this thread when torch runs on the CPU in it alone (time the machine spent
    elsewhere, e.g. on other virtual machines, left out), else wall seconds."""
    return time.thread_time() if device == "cpu" and torch.get_num_threads() == 1 else time.perf_counter()


def rate(train, n: int, device: str = "cpu") -> float:
    synchronize(device)
    start = clock(device)
    train(n)
    synchronize(device)
    return n / (clock(device) - start)


@dataclass
class Result:
    model: str
    batch: int
    genlab: float  # steps/s: median over every instance and round
    plain: float
    ratios: list[float]  # genlab/plain of each (round, instance) pair, timed back to back
    spread_genlab: float  # fastest instance's median steps/s over the slowest's, minus 1
    spread_plain: float
    flops_genlab: int  # per step
    flops_plain: int

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def round_length(steps_per_second: float, seconds: float, stats_every: int) -> int:
    """Steps in one side of a round: about `seconds` worth, a whole number of stats_every periods so
    that every genlab round carries the same share of per-layer statistics (one per period)."""
    periods = max(1, round(steps_per_second * seconds / stats_every))
    return periods * stats_every


def spread(rates_by_instance: list[list[float]]) -> float:
    medians = [statistics.median(rates) for rates in rates_by_instance]
    return max(medians) / min(medians) - 1


def bench(name: str, rounds: int, seconds: float, instances: int, precision: str = "fp32",
          device: str = "cpu", same_layout: bool = False) -> Result:
    """`instances` independent genlab trainers and plain loops (one pair per instance, the plain copy of
    its trainer's networks): the same code runs a few % faster or slower in one instance than in another
    (presumably where its tensors lie in memory), as large as the gaps measured here, so one pair would mistake
    that for the loops' difference. Each round times every pair back to back, genlab first in even
    rounds and plain first in odd ones."""
    config = model_config(name, precision=precision, device=device)
    pairs = []
    for instance in range(instances):
        torch.manual_seed(instance)
        trainer = make_trainer(config.replace(seed=instance))
        plain = plain_loop(trainer, same_layout)
        pairs.append((through_the_loop(trainer), one_by_one(plain.step)))
    cycle = config.objective.lazy_interval
    flops_g, flops_p = flops_of(pairs[0][0], cycle), flops_of(pairs[0][1], cycle)
    n = round_length(rate(pairs[0][0], 3, device), seconds, config.stats_every)  # also warms up
    for genlab_side, _ in pairs[1:]:
        genlab_side(3)
    for _, plain_side in pairs:
        plain_side(3)
    genlab_rates: list[list[float]] = [[] for _ in pairs]
    plain_rates: list[list[float]] = [[] for _ in pairs]
    ratios = []
    for index in range(rounds):
        for instance, (genlab_side, plain_side) in enumerate(pairs):
            if index % 2 == 0:
                g, p = rate(genlab_side, n, device), rate(plain_side, n, device)
            else:
                p, g = rate(plain_side, n, device), rate(genlab_side, n, device)
            genlab_rates[instance].append(g)
            plain_rates[instance].append(p)
            ratios.append(g / p)
    return Result(name, config.optim.batch_size, statistics.median(sum(genlab_rates, [])),
                  statistics.median(sum(plain_rates, [])), ratios, spread(genlab_rates), spread(plain_rates),
                  flops_g, flops_p)


def breakdown(name: str, rounds: int, seconds: float, device: str = "cpu", same_layout: bool = False
              ) -> dict[str, float]:
    """ms per step of genlab's loop with its extras removed one by one, next to the plain loop.

    "no history": the loop without hooks; "no layer stats": also stats_every huge (the per-layer
    Frobenius/spectral norms, every 25 steps by default); "bare": also no divergence checks and no
    metric readout (what remains is the model's own work).
    """
    config = model_config(name, precision="fp32", device=device)
    full = make_trainer(config)
    no_history = make_trainer(config)
    no_stats = make_trainer(config.replace(stats_every=1_000_000))
    bare = make_trainer(config.replace(stats_every=1_000_000))
    bare._check_finite = lambda values: None

    def count_only(metrics):
        bare.step_count += 1
        return {}

    bare._finish_step = count_only
    plain = plain_loop(full, same_layout)
    sides = {"genlab": through_the_loop(full), "genlab, no history": through_the_loop(no_history, record=False),
             "genlab, no layer stats": through_the_loop(no_stats, record=False),
             "genlab, bare": through_the_loop(bare, record=False), "plain": one_by_one(plain.step)}
    n = round_length(rate(sides["genlab"], 3, device), seconds, config.stats_every)
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(rounds):
        for key, train in sides.items():
            times[key].append(1e3 / rate(train, n, device))
    result = {k: statistics.median(v) for k, v in times.items()}
    synchronize(device)
    start = time.perf_counter()
    for _ in range(3):
        full.layer_stats()
    synchronize(device)
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
        "| model | batch | genlab steps/s | plain steps/s | ratio | ratio's quartiles | instance spread (genlab / plain) "
        "| genlab samples/s | MFLOP/step (genlab / plain) | genlab GFLOP/s | % of matmul peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        achieved = r.flops_genlab * r.genlab / 1e9
        low, _, high = statistics.quantiles(r.ratios, n=4) if len(r.ratios) > 1 else (r.ratio,) * 3
        lines.append(
            f"| {r.model} | {r.batch} | {r.genlab:.1f} | {r.plain:.1f} | {r.ratio:.2f}× | {low:.2f}–{high:.2f} "
            f"| {100 * r.spread_genlab:.0f} % / {100 * r.spread_plain:.0f} % | {r.genlab * r.batch:,.0f} "
            f"| {r.flops_genlab / 1e6:.1f} / {r.flops_plain / 1e6:.1f} | {achieved:.1f} "
            f"| {100 * achieved / peak:.0f}% |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=7, help="rounds per model")
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one side of a round")
    parser.add_argument("--instances", type=int, default=3, help="independent genlab/plain pairs per model")
    parser.add_argument("--precision", choices=("fp32", "auto", "bf16"), default="fp32",
                        help="genlab's precision setting (the plain loop is float32): fp32 (default) compares "
                             "like with like; auto is what the app and the CLI use (bf16 for image models on a "
                             "CPU with bf16 instructions)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where both loops train (cuda: the plain loop moves each batch there, as the "
                             "examples do; timed in wall seconds with a synchronize at each end)")
    parser.add_argument("--plain-channels-last", action="store_true",
                        help="give the plain loop genlab's memory layout (channels_last conv kernels on a CPU) "
                             "instead of PyTorch's default, to compare the loops alone")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time genlab without its per-layer stats and without its checks/metrics")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("train_bench: error: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
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
    if args.device == "cuda":
        print(f"CUDA device: {torch.cuda.get_device_name()}", flush=True)
    peak = matmul_peak_gflops(args.device)
    print(f"float32 matmul peak on {args.device} (best of 1 s): {peak:.1f} GFLOP/s", flush=True)
    results = []
    for name in args.models:
        r = bench(name, args.rounds, args.seconds, args.instances, args.precision, args.device,
                  args.plain_channels_last)
        print(f"  {name}: genlab {r.genlab:.1f} steps/s, plain {r.plain:.1f} steps/s, ratio {r.ratio:.2f}; instances "
              f"differ by {100 * r.spread_genlab:.0f} % (genlab) / {100 * r.spread_plain:.0f} % (plain)", flush=True)
        results.append(r)
    print()
    print(table(results, peak))
    layout = "genlab's (channels_last conv kernels)" if args.plain_channels_last else "PyTorch's default"
    print(f"\nDevice: {args.device}; genlab's precision setting: {args.precision}; the plain loop's memory layout: {layout}. "
          f"{args.rounds} rounds of ~{args.seconds} s per side and instance, {args.instances} instances; steps/s "
          "are medians, the ratio is the median (and quartiles) of the back-to-back pairs' ratios; instance "
          "spread: the fastest instance's median over the slowest's. "
          f"Total {time.perf_counter() - start:.0f} s; load average at end {os.getloadavg()[0]:.1f}.")
    if args.breakdown:
        print("\nWhere genlab's time goes (ms per step, medians of alternating rounds):")
        for name in args.models:
            parts = breakdown(name, args.rounds, args.seconds / 2, args.device, args.plain_channels_last)
            every = parts.pop("stats_every")
            print(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + f" (every {every:g} steps)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "peak_gflops": peak,
                                         "results": [vars(r) | {"ratio": r.ratio} for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
