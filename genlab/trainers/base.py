"""What every trainer shares: device, seeding, data, live hyper-parameters, divergence checks, stats."""
from __future__ import annotations

import copy
import math
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from genlab.config import DEVICES, LIVE_FIELDS, ConfigError, RunConfig
from genlab.data import DataSource, load_data
from genlab.data.standardize import standardization_for
from genlab.hardware import cpu_has_native_bf16
from genlab.metrics.layers import LayerNormTracker
from genlab.models.budget import check_model_budget
from genlab.regularizers import clip_gradient_norm_, gradient_norms
from genlab.trainers.optimizer_step import clear_gradients, optimizer_step
from genlab.trainers.schedule import cooldown_factor

PREVIEW_COUNT = 64
# Gradient norms (charts, and the NaN/Inf check of the gradients) on the first step and every this
# many steps, unless gradient clipping computes them anyway. Reading 2.6 MB of cold gradients cost
# ≈ 3 % of the MLP VAE's step on a CPU. A non-finite gradient on a step in between still stops the
# run: the update turns the weights non-finite and the next loss is NaN/Inf, or the loop finds the
# weights so before it keeps a snapshot or returns (check_weights_after_unread_gradients), and rolls
# back to its last snapshot.
GRADIENT_NORM_EVERY = 5


class DivergenceError(RuntimeError):
    """A loss or gradient became NaN/Inf during step `step`.

    The trainer checks at the end of the step, in the same device-to-host copy as the step's metrics
    (no extra sync), so that step's updates were applied when the trainer raises this.
    genlab.training.run then restores the last good snapshot and passes on the error with
    `rolled_back_to` set: the step whose weights, buffers and optimizer state the trainer holds again.
    """

    def __init__(self, term: str, step: int, value: float, rolled_back_to: int | None = None):
        self.term = term
        self.step = step
        self.value = value
        self.rolled_back_to = rolled_back_to
        outcome = ("this step's update was applied" if rolled_back_to is None
                   else f"the run was rolled back to step {rolled_back_to}")
        super().__init__(f"training diverged at step {step}: {term} is {value} ({outcome})")

    def rolled_back(self, step: int) -> DivergenceError:
        """The same divergence, after the trainer was restored to `step`."""
        return DivergenceError(self.term, self.step, self.value, rolled_back_to=step)


def available_devices() -> list[str]:
    """The device choices this machine can run ("auto" and "cpu" always)."""
    present = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    return ["auto", "cpu"] + [name for name, ok in present.items() if ok]


def pick_device(requested: str | torch.device | None = "auto") -> torch.device:
    """cuda, then mps, then cpu for "auto"; an explicit device that is not available is a ConfigError."""
    if isinstance(requested, torch.device):
        return requested
    requested = requested or "auto"
    if requested not in DEVICES:
        raise ConfigError("device", requested, f"must be one of {', '.join(DEVICES)}")
    available = available_devices()
    if requested not in available:
        raise ConfigError("device", requested, "is not available on this machine; use auto or cpu")
    if requested == "auto":
        return torch.device(available[2] if len(available) > 2 else "cpu")
    return torch.device(requested)


class Trainer:
    """Owns the networks, optimizers and data of one run; `step()` advances it and returns metrics.

    Not thread-safe: one thread at a time calls its methods (the runner serializes them).
    """

    networks: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def __init__(self, config: RunConfig, device: str | torch.device | None = None, data: DataSource | None = None):
        self.config = copy.deepcopy(config).validate()
        check_model_budget(self.config)  # before any data or weights are allocated
        self.device = pick_device(device if device is not None else self.config.device)
        self.step_count = 0
        torch.manual_seed(self.config.seed)
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(self.config.seed)
        self.data = data if data is not None else load_data(self.config.data, self.device, seed=self.config.seed)
        self.data_shape = tuple(self.data.shape)
        # user points at any scale, seen by the networks at the ring's (genlab.data.standardize); a saved
        # run's own map replaces this one when it is loaded (genlab.runs.load)
        self.standardization = standardization_for(self.data.name, self.data.x if self.data.kind == "points" else None)
        self._layer_norms = LayerNormTracker()
        self._parameter_lists: dict[nn.Module, list[Tensor]] = {}
        self._watched: list[tuple[str, Tensor]] = []  # terms this step checks for NaN/Inf (_check_finite)
        self._gradients_read = True  # whether the last update read (and so checked) its gradient norms
        self._loaded_own_data = data is None
        self._heldout: DataSource | None | bool = False  # False: not looked for yet
        self.transfer = None  # genlab.transfer.TransferReport of a run started from a parent's weights

    # --- live hyper-parameters -------------------------------------------------------------------
    def update(self, **dotted: Any) -> None:
        """Change live fields (e.g. update(**{"objective.r1_gamma": 1.0})); applies at the next step."""
        for key in dotted:
            if key not in LIVE_FIELDS:
                raise ConfigError(key, dotted[key], f"cannot change during a run; live fields: {', '.join(LIVE_FIELDS)}")
        self.config = self.config.replace(**dotted)
        self._apply_learning_rates()

    def _apply_learning_rates(self) -> None:
        raise NotImplementedError

    def _learning_rate_factor(self) -> float:
        """What every configured learning rate is multiplied by for the next update: the fine-tuning
        factor (transfer.lr_scale) times the cool-down's factor at this step."""
        optim = self.config.optim
        return self.config.transfer.lr_scale * cooldown_factor(self.step_count, self.config.steps, optim.lr_cooldown)

    # --- precision and memory layout -------------------------------------------------------------
    @property
    def precision(self) -> str:
        """"bf16" or "fp32": config.precision with "auto" resolved: bf16 for image models on a CPU with bf16
        instructions (there an image model's step took 0.70-0.96x the float32 time and FID at equal CPU
        time came out no worse; 2D point models, whose steps are mostly per-operation overhead, got
        slower); fp32 elsewhere, CUDA included. On an H200 (benchmarks/gpu_bench.py --sweep) bf16
        autocast ran every shipped model at 0.60-0.87x its float32 speed, and their image models up to
        a step of 145 GFLOP at 0.74-0.95x: steps this small wait on kernel launches, and autocast adds
        casts. It paid (1.10x) only at 583 GFLOP a step, far beyond what the playground trains."""
        if self.config.precision != "auto":
            return self.config.precision
        if self.device.type == "cpu" and self.data.kind == "images" and cpu_has_native_bf16():
            return "bf16"
        return "fp32"

    def autocast(self) -> AbstractContextManager:
        """What a training step runs in (genlab.training.run enters it): bf16 autocast, or nothing."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def use_channels_last(self) -> None:
        """Keep convolution kernels channels_last (NHWC) where that layout measured faster: for conv and
        resnet models on a CPU, whose oneDNN convolutions work in NHWC and otherwise reorder every
        activation on the way in and out (here 4 % off a float32 step of the conv presets, 10-15 % off
        a bf16 one, 25-45 % off the resnet's), and for conv models on CUDA in bf16, where tensor cores
        read NHWC. The same convolutions up to the order of float sums; flattening stays in logical
        (C, H, W) order whatever the layout."""
        arch = self.config.model.arch
        on_cpu = self.device.type == "cpu" and arch in ("conv", "resnet")
        on_cuda = self.device.type == "cuda" and self.precision == "bf16" and arch == "conv"
        if on_cpu or on_cuda:
            for module in vars(self).values():
                if isinstance(module, nn.Module):
                    module.to(memory_format=torch.channels_last)

    # --- shared helpers ----------------------------------------------------------------------------
    def _noise(self, n: int) -> Tensor:
        return torch.randn(n, self.latent_dim, device=self.device, generator=self.rng)

    def _real_batch(self) -> Tensor:
        return self.data.sample(self.config.optim.batch_size, generator=self.rng)

    def _parameters_of(self, net: nn.Module) -> list[Tensor]:
        """`net`'s parameters, listed once: a network's parameters stay the same objects from its build
        on (loading a state or moving memory layout writes into them), and walking its module tree at
        every update took ≈ 6 % of a ring GAN step under cProfile."""
        listed = self._parameter_lists.get(net)
        if listed is None:
            listed = self._parameter_lists[net] = list(net.parameters())
        return listed

    def _gradient_norms(self, networks: dict[str, nn.Module]) -> dict[str, Tensor]:
        """{"grad_norm/<name>": the global norm of that network's gradients}, each network's first
        clipped to grad_clip when that is on; with clipping off, {} on the steps between readings
        (GRADIENT_NORM_EVERY)."""
        clip = self.config.objective.grad_clip
        self._gradients_read = clip > 0 or self.step_count == 0 or (self.step_count + 1) % GRADIENT_NORM_EVERY == 0
        if not self._gradients_read:
            return {}
        parameters = [self._parameters_of(net) for net in networks.values()]
        norms = ([clip_gradient_norm_(group, clip) for group in parameters] if clip > 0
                 else gradient_norms(parameters))
        return {f"grad_norm/{name}": norm for name, norm in zip(networks, norms)}

    def check_weights_after_unread_gradients(self) -> None:
        """DivergenceError naming the first network whose weights are NaN/Inf, when the last update did
        not read its gradients (GRADIENT_NORM_EVERY): a non-finite gradient there has not shown in a loss
        yet. The training loop calls this before it keeps the state as a snapshot or hands it back, so
        neither holds weights such a gradient spoiled; after a step that read them it costs nothing."""
        if self._gradients_read:
            return
        for name, net in self.networks.items():
            parameters = self._parameters_of(net)
            if parameters and not bool(torch.stack([p.detach().isfinite().all() for p in parameters]).all()):
                raise DivergenceError(f"weights/{name}", self.step_count, float("nan"))

    def _descend(self, optimizer: str, loss: Tensor, terms: dict[str, Tensor],
                 networks: dict[str, nn.Module], step: bool = True) -> dict[str, Tensor]:
        """One step of `optimizer` down `loss`; the loss `terms` and the gradient norms of `networks`
        (clipped first when grad_clip is on) are watched for NaN/Inf. With `step` False the gradients
        are left in place for the caller to step later. Returns {"grad_norm/<name>": norm}."""
        self._check_finite(terms)
        chosen = self.optimizers[optimizer]
        clear_gradients(chosen)
        loss.backward()
        grads = self._gradient_norms(networks)
        self._check_finite(grads)
        if step:
            optimizer_step(chosen)
        return grads

    def _check_finite(self, values: dict[str, Tensor]) -> None:
        """Have these terms checked for NaN/Inf when the step's metrics are read (`_finish_step`),
        without a device sync here: a DivergenceError then names the first non-finite one."""
        self._watched.extend((name, value.detach()) for name, value in values.items())

    def _finish_step(self, metrics: dict[str, Tensor | float]) -> dict[str, float]:
        """Read the step's metrics and the watched terms to floats in one device-to-host copy, raise
        DivergenceError for the first non-finite watched term, else count the step. A vector metric
        "kl/dim" becomes "kl/dim_0", "kl/dim_1", ... Plain numbers (a schedule's β) stay on the host:
        copying a host number to a CUDA device makes the host wait too."""
        watched, self._watched = self._watched, []
        values, position = _read_once([value for value in metrics.values() if isinstance(value, Tensor)]
                                      + [value for _, value in watched], on_host=self.device.type == "cpu")
        first_watched = len(position) - len(watched)
        for index, (name, _) in enumerate(watched, start=first_watched):
            value = values[position[index]]
            if not math.isfinite(value):
                raise DivergenceError(name, self.step_count + 1, value)
        self.step_count += 1
        if self.config.optim.lr_cooldown > 0:
            self._apply_learning_rates()
        read = iter(position)
        result: dict[str, float] = {}
        for name, value in metrics.items():
            if not isinstance(value, Tensor):
                result[name] = float(value)
            elif value.dim() == 0:
                result[name] = values[next(read)]
            else:
                start = next(read)
                result.update({f"{name}_{i}": values[start + i] for i in range(value.numel())})
        if self.step_count % self.config.stats_every == 0:
            result.update(self.periodic_stats())
        result["step"] = float(self.step_count)
        return result

    def _watch_layers(self) -> None:
        """Record each convolution's input size from the first forward pass on, so the first layer
        statistics already include the convolutions' operator norms."""
        for net in self.networks.values():
            self._layer_norms.watch(net)

    def periodic_stats(self) -> dict[str, float]:
        """What is measured every stats_every steps: the layer statistics (a GAN adds D's accuracies)."""
        return self.layer_stats()

    def heldout_data(self) -> DataSource | None:
        """Real data the run never trains on, looked up once: the held-out part carved from its training
        files, else (data this trainer loaded itself) the data set's test split; None when there is
        none (2D points, a user's images too few to split, data handed in without one, not found)."""
        if self._heldout is False:
            self._heldout = self.data.heldout
            if self._heldout is None and self._loaded_own_data and self.data.name not in ("points", "folder"):
                from genlab.data import DataUnavailableError

                try:
                    self._heldout = load_data(self.config.data, self.device, seed=self.config.seed, split="test")
                except (DataUnavailableError, ConfigError, OSError, ValueError):
                    self._heldout = None
        return self._heldout

    def layer_stats(self) -> dict[str, float]:
        """Per-layer Frobenius and spectral norms of every network's effective weights."""
        stats: dict[str, float] = {}
        for name, net in self.networks.items():
            stats.update(self._layer_norms(net, prefix=name))
        return stats

    @property
    def latent_dim(self) -> int:
        return self.config.model.latent_dim

    # --- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": {name: net.state_dict() for name, net in self.networks.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "step": self.step_count,
            "rng": self.rng.get_state(),
            "fixed_noise": self.fixed_noise.detach(),  # on the device: a snapshot copies it without a wait
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, net in self.networks.items():
            net.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers.items():
            if name in state.get("optimizers", {}):
                opt.load_state_dict(state["optimizers"][name])
        self.step_count = int(state["step"])
        if "rng" in state:
            self.rng.set_state(state["rng"].cpu())
        if "fixed_noise" in state:
            self.fixed_noise = state["fixed_noise"].to(self.device)
        self._apply_learning_rates()


def _read_once(tensors: list[Tensor], on_host: bool = False) -> tuple[list[float], list[int]]:
    """The values of `tensors` as floats: (the floats, where each listed tensor's first value lies among
    them). On a device, in one device-to-host copy, each tensor read once even when it is listed again (a
    step's loss terms are both metrics and watched for NaN/Inf). `on_host` (all tensors in CPU memory):
    each read where it lies, which waits for nothing and costs less than stacking them (3 against
    18 µs for a VAE step's 15 tensors on one CPU thread)."""
    if on_host:
        values: list[float] = []
        firsts: list[int] = []
        for tensor in tensors:
            firsts.append(len(values))
            if tensor.dim() == 0:
                values.append(float(tensor.item()))
            else:
                values.extend(float(value) for value in tensor.detach().reshape(-1).tolist())
        return values, firsts
    scalars: list[Tensor] = []
    vectors: list[Tensor] = []
    seen: dict[tuple, tuple[bool, int]] = {}  # (address, shape, strides, dtype) -> (scalar?, index)
    where: list[tuple[bool, int]] = []
    for tensor in tensors:
        key = (tensor.data_ptr(), tensor.shape, tensor.stride(), tensor.dtype)
        if key not in seen:
            kind = tensor.dim() == 0
            listed = scalars if kind else vectors
            seen[key] = (kind, len(listed))
            listed.append(tensor.detach() if kind else tensor.detach().reshape(-1))
        where.append(seen[key])
    parts = ([torch.stack(scalars).float()] if scalars else []) + [vector.float() for vector in vectors]
    if not parts:
        return [], []
    values = torch.cat(parts).cpu().tolist()
    vector_starts, offset = [], len(scalars)
    for vector in vectors:
        vector_starts.append(offset)
        offset += vector.numel()
    return values, [index if scalar else vector_starts[index] for scalar, index in where]


def make_optimizer(config: RunConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """One optimizer over parameter groups, each with its own "lr". Adam runs fused (one kernel for all
    tensors) where PyTorch has that kernel: on the small 2D nets a step is mostly per-tensor overhead,
    and the fused update took a quarter off the ring GAN's step on one CPU thread (4.9 -> 3.7 ms)."""
    optim = config.optim
    groups = [{**group, "params": list(group["params"])} for group in groups]  # may be one-shot iterators
    if optim.optimizer == "adam":
        return torch.optim.Adam(groups, betas=(optim.beta1, optim.beta2), fused=fused_adam_supported(groups))
    if optim.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups)
    return torch.optim.SGD(groups, momentum=optim.beta1)


def fused_adam_supported(groups: list[dict[str, Any]]) -> bool:
    """Whether every parameter sits where PyTorch's fused Adam runs (CPU or CUDA, floating point)."""
    params = [p for group in groups for p in group["params"]]
    return bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)

