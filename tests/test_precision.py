"""Precision and memory layout: bf16 autocast and channels_last on CUDA (those tests skip without
CUDA), bf16 autocast for image models on a CPU with bf16 instructions, float32 elsewhere unless asked;
channels_last conv kernels on a CPU."""
from __future__ import annotations

import math

import pytest
import torch

from genlab.config import ConfigError, RunConfig
from genlab import hardware
from genlab.trainers import base, make_trainer
from genlab.training import REACHED, Hook, run
from genlab.training.host_syncs import HostSyncs

RING = RunConfig(name="precision", seed=0).replace(**{"data.n_samples": 256, "model.width": 16,
                                                       "optim.batch_size": 32})
CONV = RunConfig(name="precision-conv", seed=0).replace(**{
    "data.name": "shapes", "data.n_samples": 64, "model.arch": "conv", "model.width": 8, "optim.batch_size": 8})
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class AutocastSeen(Hook):
    """Records, per step, whether the generator's forward pass ran under autocast and in which dtype."""

    def __init__(self, trainer):
        self.seen: list[tuple[bool, torch.dtype]] = []
        device = trainer.device.type

        def record(module, inputs, output):
            self.seen.append((torch.is_autocast_enabled(device), output.dtype))
        trainer.generator.register_forward_hook(record)


def test_auto_is_float32_on_the_cpu_and_bf16_is_a_choice():
    trainer = make_trainer(RING, device="cpu")
    assert trainer.precision == "fp32"
    seen = AutocastSeen(trainer)
    assert run(trainer, until=2).reason == REACHED
    assert seen.seen and all(not enabled and dtype == torch.float32 for enabled, dtype in seen.seen)

    trainer = make_trainer(RING.replace(precision="bf16"), device="cpu")
    seen = AutocastSeen(trainer)
    result = run(trainer, until=3)
    assert result.reason == REACHED and all(math.isfinite(v) for v in result.metrics.values())
    assert seen.seen and all(enabled and dtype == torch.bfloat16 for enabled, dtype in seen.seen)
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())  # weights stay float32


@pytest.mark.parametrize("native", [True, False])
def test_auto_on_the_cpu_is_bf16_for_image_models_only_where_the_cpu_has_bf16(monkeypatch, native):
    monkeypatch.setattr(base, "cpu_has_native_bf16", lambda: native)
    images = make_trainer(CONV, device="cpu")
    assert images.precision == ("bf16" if native else "fp32")
    seen = AutocastSeen(images)
    result = run(images, until=2)
    assert result.reason == REACHED and all(math.isfinite(v) for v in result.metrics.values())
    assert seen.seen and all(enabled == native for enabled, _ in seen.seen)
    assert make_trainer(RING, device="cpu").precision == "fp32"  # 2D points: bf16 made their steps slower
    assert make_trainer(CONV.replace(precision="fp32"), device="cpu").precision == "fp32"


def kernels_of(trainer) -> list[torch.Tensor]:
    return [p for net in trainer.networks.values() for p in net.parameters() if p.dim() == 4]


@pytest.mark.parametrize("arch", ["conv", "resnet"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_conv_models_on_the_cpu_keep_channels_last_kernels_and_train_the_same(arch, precision):
    """The layout is the only difference: a trainer put back to NCHW takes the same steps (float sums in
    another order). In float32 three steps agree to rounding; in bf16 only the first D update is
    compared, since Adam's first updates move every weight by about its rate whatever the gradient's
    size, so bf16's ~3 digits flip the sign of tiny gradient entries and the runs part after it."""
    config = CONV.replace(precision=precision, **{"model.arch": arch})
    channels_last = make_trainer(config, device="cpu")
    assert kernels_of(channels_last)
    assert all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
               for p in kernels_of(channels_last) if p.shape[1] > 1 and p.shape[2:] != (1, 1))
    nchw = make_trainer(config, device="cpu")
    for module in vars(nchw).values():
        if isinstance(module, torch.nn.Module):
            module.to(memory_format=torch.contiguous_format)
    assert all(p.is_contiguous() for p in kernels_of(nchw))
    every = ("loss/d", "loss/g", "grad_norm/d", "grad_norm/g")
    comparisons = ([(1, ("loss/d", "grad_norm/d"), 2e-2)] if precision == "bf16"
                   else [(1, every, 1e-4), (3, ("loss/d", "loss/g"), 1e-4)])  # step 1 reads the gradient norms
    for steps, names, tolerance in comparisons:
        first, second = run(channels_last, until=steps).metrics, run(nchw, until=steps).metrics
        for name in names:
            assert first[name] == pytest.approx(second[name], rel=tolerance), (name, steps)
    assert all(p.is_contiguous() for p in make_trainer(RING, device="cpu").generator.parameters())  # MLPs as they are


def test_losses_are_float32_inside_bf16_autocast(monkeypatch):
    """The networks run in bf16, their outputs go into the losses (and the readouts) in float32."""
    from genlab import losses

    seen: list[tuple[str, torch.dtype]] = []
    for name in ("discriminator_loss", "generator_loss", "kl_standard_normal"):
        original = getattr(losses, name)

        def recording(*args, _name=name, _original=original, **kwargs):
            seen.extend((_name, arg.dtype) for arg in args if isinstance(arg, torch.Tensor))
            return _original(*args, **kwargs)
        monkeypatch.setattr(losses, name, recording)
    for family in ("gan", "vae"):
        trainer = make_trainer(CONV.replace(precision="bf16", **{"model.family": family}), device="cpu")
        assert run(trainer, until=2).reason == REACHED
    assert {name for name, _ in seen} == {"discriminator_loss", "generator_loss", "kl_standard_normal"}
    assert all(dtype == torch.float32 for _, dtype in seen), seen


def test_the_train_page_names_the_precision_beside_the_device(monkeypatch):
    from genlab.live.view import device_label

    monkeypatch.setattr(base, "cpu_has_native_bf16", lambda: True)
    assert device_label(make_trainer(CONV, device="cpu")) == "cpu · bf16"
    assert device_label(make_trainer(RING, device="cpu")) == "cpu"


@pytest.mark.parametrize("cpuinfo, expected", [
    ("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n", True),
    ("flags\t\t: fpu avx2 amx_bf16 amx_tile\n", True),
    ("Features\t: fp asimd bf16 i8mm\n", True),  # ARM
    ("flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl\n", False),  # AVX-512 without bf16: emulated
    ("model name\t: bf16 in a name is no flag\nflags\t\t: fpu avx2\n", False),
    ("", False),
])
def test_cpuinfo_flags_tell_native_bf16(cpuinfo, expected):
    assert hardware.cpuinfo_lists_bf16(cpuinfo) is expected


@pytest.mark.parametrize("cpuinfo, vendor", [
    ("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu\n", "GenuineIntel"),
    ("vendor_id\t: AuthenticAMD\nvendor_id\t: AuthenticAMD\n", "AuthenticAMD"),
    ("Features\t: fp asimd\n", ""),  # ARM lists no vendor_id
])
def test_cpuinfo_tells_the_vendor_and_the_bernoulli_kernel_follows_it(monkeypatch, cpuinfo, vendor):
    from genlab import losses

    assert hardware.cpuinfo_vendor(cpuinfo) == vendor
    monkeypatch.setattr(losses, "cpu_vendor", lambda: vendor)
    choose = losses.per_dimension_kernel_is_faster.__wrapped__  # uncached
    assert choose(torch.device("cpu")) is (vendor != "GenuineIntel")
    assert choose(torch.device("cuda")) is False


def test_an_unknown_precision_is_a_named_config_error():
    with pytest.raises(ConfigError, match="precision"):
        RING.replace(precision="fp8")


@needs_cuda
def test_cuda_trains_in_bf16_with_channels_last_conv_weights():
    assert make_trainer(CONV, device="cuda").precision == "fp32"  # auto: the playground's models ran slower in bf16
    trainer = make_trainer(CONV.replace(precision="bf16"), device="cuda")
    assert trainer.precision == "bf16"
    kernels = [p for p in trainer.generator.parameters() if p.dim() == 4]
    assert kernels and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
    seen = AutocastSeen(trainer)
    result = run(trainer, until=5)
    assert result.reason == REACHED and all(math.isfinite(v) for v in result.metrics.values())
    assert all(enabled for enabled, _ in seen.seen)


@needs_cuda
def test_cuda_divergence_rolls_back_on_the_device():
    trainer = make_trainer(RING, device="cuda")
    run(trainer, until=2)
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    trainer.discriminator.register_forward_hook(lambda module, inputs, output: output * float("nan"))
    result = run(trainer, until=5)
    assert result.error is not None and result.error.rolled_back_to == 2
    for name, value in trainer.generator.state_dict().items():
        assert value.device.type == "cuda" and torch.equal(value, before[name])


@needs_cuda
@pytest.mark.parametrize("config", [
    RING, CONV, CONV.replace(precision="bf16"), RING.replace(**{"model.family": "vae", "objective.likelihood": "gaussian"}),
    CONV.replace(**{"model.family": "vae"})], ids=["gan-mlp", "gan-conv", "gan-conv-bf16", "vae-mlp", "vae-conv"])
def test_cuda_steps_wait_for_the_device_once_to_read_their_metrics(config):
    """Between the periodic per-layer statistics, the one device-to-host copy of a step is its metric
    readout (losses, gradient norms and the finiteness check together): nothing else in the hot path
    makes the host wait, so the GPU has the next step's work queued behind it."""
    trainer = make_trainer(config.replace(stats_every=10), device="cuda")
    syncs = HostSyncs()
    assert run(trainer, until=31, hooks=[syncs]).reason == REACHED
    ordinary = {step: sites for step, sites in syncs.per_step.items() if step > 1 and step % 10}
    assert len(ordinary) == 27
    assert all(len(sites) == 1 for sites in ordinary.values()), ordinary
    assert len({sites[0] for sites in ordinary.values()}) == 1, ordinary  # the same call each time
