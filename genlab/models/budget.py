"""How large the model of a config is, known before anything is allocated, and the limits on it.

Config validation bounds each field, not their product: conv width 2048 at 64 px builds a GAN of
5.6 G parameters (21 GiB of float32 weights). `check_model_budget` refuses such a config with a
ConfigError naming the size, before any memory is spent: at trainer construction (genlab.trainers)
and before a saved or uploaded run is loaded (genlab.runs).

Sizes are exact for parameters and stored tensors: the networks are built on PyTorch's meta device
(shapes only: no memory, no initialisation), spectral normalization is counted by its rule (each
weight W of shape (out, ...) gains buffers u of `out` and v of `W.numel() / out` values), and one
sample's shape is propagated through the layers. The data shape comes from the config alone
(`data_shapes`), never from a file that came with a run.

Activation memory of one training step (an estimate; every layer's output for the whole batch is kept
for the backward pass, and the backward pass makes a gradient of the same size):

    GAN:  2 × 4 bytes × batch × (A(G) + 3 A(D))      D runs on real data, on samples and for a penalty
    VAE:  2 × 4 bytes × batch × (A(encoder) + A(decoder))

where A(net) is the number of values all layers of `net` output for one sample.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from genlab.config import ConfigError, DataConfig, RunConfig
from genlab.models.spectral import weight_layers
from genlab.nn_utils import eval_mode

MAX_PARAMETERS = 100_000_000  # 381 MiB of float32 weights; DCGAN at 64 px (width 64) has 10 M
MAX_ACTIVATION_BYTES = 4 * 2**30
FLOAT_BYTES = 4
GRADIENT_PENALTY_PASSES = 3  # D on real data, on samples, and on the points of a gradient penalty


def data_shapes(data: DataConfig) -> tuple[tuple[int, ...], ...]:
    """Every per-sample shape the data set of `data` can have, from the config alone, largest last.

    A folder of images keeps one channel when all its pictures are grey, else three.
    """
    size = data.image_size
    if data.is_2d:
        return ((2,),)
    if data.name in ("mnist", "fashion_mnist"):
        return ((1, 28, 28),)
    if data.name == "cifar10":
        return ((3, 32, 32),)
    if data.name == "folder":
        return ((1, size, size), (3, size, size))
    return ((1, size, size),)  # shapes


@dataclass(frozen=True)
class ModelSize:
    parameters: int  # of every network the trainer keeps (a GAN also keeps a moving average of G)
    trainable: int  # parameters the optimizers update (their state: at most two values for each)
    trainable_tensors: int
    weight_layers: int  # Linear / conv layers of the trained networks (each gets its norms recorded)
    weight_tensors: int  # tensors in weights.safetensors
    weights_bytes: int  # their data, in bytes
    activation_bytes: int  # estimate for one training step at the configured batch size

    @property
    def parameter_bytes(self) -> int:
        return self.parameters * FLOAT_BYTES


def computing_layers(net: nn.Module) -> list[nn.Module]:
    """The modules of `net` that compute an output of their own: those without submodules, counting a
    layer under spectral normalization (whose only submodules are its parametrization) as one."""
    parametrizing = {id(sub) for module in net.modules() if hasattr(module, "parametrizations")
                     for sub in module.parametrizations.modules()}
    return [module for module in net.modules()
            if id(module) not in parametrizing and all(id(child) in parametrizing for child in module.children())]


def activations_per_sample(net: nn.Module, in_shape: tuple[int, ...]) -> int:
    """How many values the layers of `net` output for one sample: the outputs of its computing layers in one
    forward pass, in eval mode, on the device of `net`'s weights; model_size builds its networks on
    PyTorch's meta device, where the pass works out shapes only (nothing is allocated or computed).
    Any architecture, residual blocks included; what a forward computes outside a module (a residual
    sum, a pooling by `.sum`) is left out of the estimate."""
    counted: list[int] = []
    hooks = [layer.register_forward_hook(lambda _module, _inputs, out: counted.append(out.numel()))
             for layer in computing_layers(net)]
    try:
        with torch.no_grad(), eval_mode(net):
            net(torch.zeros((1, *in_shape), device=next(net.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
    return sum(counted)


def _stored(net: nn.Module, spectral: bool) -> tuple[int, int, int]:
    """(tensors, float values, int64 values) of `net`'s state dict, with spectral normalization's u and v."""
    tensors = [*net.parameters(), *net.buffers()]
    floats = sum(t.numel() for t in tensors if t.is_floating_point())
    ints = sum(t.numel() for t in tensors if not t.is_floating_point())
    count = len(tensors)
    if spectral:
        for _, layer in weight_layers(net):
            out = layer.weight.shape[1 if isinstance(layer, nn.ConvTranspose2d) else 0]
            floats += out + layer.weight.numel() // out
            count += 2
    return count, floats, ints


def model_size(config: RunConfig, data_shape: tuple[int, ...] | None = None) -> ModelSize:
    """The sizes of the model `config` builds for `data_shape` (default: the largest its data can have)."""
    from genlab.models import build_gan, build_vae

    shape = tuple(data_shape) if data_shape is not None else data_shapes(config.data)[-1]
    model = config.model
    plain = dataclasses.replace(model, spectral_norm_generator=False, spectral_norm_discriminator=False,
                                spectral_norm_encoder=False, spectral_norm_decoder=False)
    with torch.device("meta"):
        if model.family == "gan":
            G, D = build_gan(plain, shape)
            networks = [(G, model.spectral_norm_generator, True), (D, model.spectral_norm_discriminator, True),
                        (G, model.spectral_norm_generator, False)]  # the moving average of G: stored, not trained
            acts = activations_per_sample(G, (model.latent_dim,)) + GRADIENT_PENALTY_PASSES * activations_per_sample(D, shape)
        else:
            vae = build_vae(plain, shape)
            networks = [(vae.encoder, model.spectral_norm_encoder, True), (vae.decoder, model.spectral_norm_decoder, True)]
            acts = activations_per_sample(vae.encoder, shape) + activations_per_sample(vae.decoder, (model.latent_dim,))
    parameters = trainable = trainable_tensors = layers = tensors = stored_bytes = 0
    for net, spectral, trained in networks:
        count = sum(p.numel() for p in net.parameters())
        parameters += count
        if trained:
            trainable += count
            trainable_tensors += len(list(net.parameters()))
            layers += len(list(weight_layers(net)))
        n, floats, ints = _stored(net, spectral)
        tensors += n
        stored_bytes += FLOAT_BYTES * floats + 8 * ints
    return ModelSize(parameters=parameters, trainable=trainable, trainable_tensors=trainable_tensors,
                     weight_layers=layers, weight_tensors=tensors, weights_bytes=stored_bytes,
                     activation_bytes=2 * FLOAT_BYTES * config.optim.batch_size * acts)


def _amount(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:g}"


def _bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:g} bytes"


def check_model_budget(config: RunConfig, data_shape: tuple[int, ...] | None = None) -> ModelSize:
    """The model's sizes, or ConfigError naming them when they pass MAX_PARAMETERS / MAX_ACTIVATION_BYTES."""
    size = model_size(config, data_shape)
    if size.parameters > MAX_PARAMETERS:
        raise ConfigError(
            "model.width", config.model.width,
            f"this model would have {_amount(size.parameters)} parameters ({_bytes(size.parameter_bytes)}); "
            f"the limit is {_amount(MAX_PARAMETERS)} ({_bytes(MAX_PARAMETERS * FLOAT_BYTES)}): "
            "use a smaller width, fewer layers or smaller images")
    if size.activation_bytes > MAX_ACTIVATION_BYTES:
        raise ConfigError(
            "optim.batch_size", config.optim.batch_size,
            f"one training step of this model would need about {_bytes(size.activation_bytes)} for activations; "
            f"the limit is {_bytes(MAX_ACTIVATION_BYTES)}: use a smaller batch or model")
    return size
