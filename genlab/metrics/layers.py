"""Per-layer weight norms: what the norm regularizers act on, made visible.

Keys, for every Linear / Conv2d / ConvTranspose2d layer ("<net>/<layer>"):

- weight_norm/<net>/<layer>: ‖W‖_F, the Frobenius norm of the weight;
- spectral_norm/<net>/<layer>: σ_max of the weight reshaped to a matrix (out, in·k·k), the number
  spectral normalization divides by (Miyato et al. 2018);
- operator_norm/<net>/<layer>: the layer's operator norm max ‖Wx‖₂ / ‖x‖₂ as a linear map on its
  input, i.e. its Lipschitz constant (bias aside). For a Linear layer it is the same number as
  spectral_norm, reported under both keys so that either family covers every layer. For a
  convolution it is measured at the input size the layer last saw in a forward pass, and differs:
  a Conv2d's is at most ⌈k/s⌉ × spectral_norm (each input pixel lies in up to ⌈k/s⌉² patches; 2×
  for genlab's 4×4 stride-2 layers), 1.4-1.9× on the shipped conv runs and 1.7-1.9× with spectral
  normalization; a ConvTranspose2d's was 0.9-1.7× (its kernel is reshaped the other way round). A
  convolution that has not run a forward pass since the tracker first saw it, or one with a
  padding mode other than zeros, gets no operator_norm yet.

and for every network:

- power_iteration_unconverged/<net>: how many of the network's σ estimates stopped at the iteration
  cap before reaching the tolerance (normally 0). Those estimates are lower bounds; their vectors are
  kept, so the next call carries on where this one stopped.
"""
from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.models.spectral import weight_layers
from genlab.nn_utils import eval_mode

TOLERANCE = 1e-3  # relative error of each σ estimate
MAX_ITERATIONS = 500  # per estimate and call
BLOCK = 8  # vectors iterated together
ROUNDING = 1e-6  # relative; σ from float32 products wobbles by up to ~3e-7 between iterations at convergence
CONV_LAYERS = (nn.Conv2d, nn.ConvTranspose2d)

LinearMap = Callable[[Tensor], Tensor]  # a batch of vectors (b, ...) to their images (b, ...)


@dataclass(frozen=True)
class SingularValueEstimate:
    sigma: float  # estimate of σ_max: a lower bound, up to float rounding
    vectors: Tensor  # orthonormal input-side block; pass it back as `start` to warm-start the next call
    converged: bool  # False: stopped at max_iterations before the tolerance was reached
    iterations: int


def largest_singular_value(apply: LinearMap, apply_adjoint: LinearMap, start: Tensor,
                           tolerance: float = TOLERANCE, max_iterations: int = MAX_ITERATIONS
                           ) -> SingularValueEstimate:
    """σ_max of a linear map A, given as x ↦ Ax and y ↦ Aᵀy on batches, to a relative `tolerance`.

    Block power iteration on AᵀA from the b vectors in `start` (b, ...): Q_{k+1} = orth(AᵀA Q_k), and
    σ_k = σ_max(A Q_k), the largest ‖Ax‖ over unit x in span Q_k (Rayleigh–Ritz), which rises
    monotonically to σ_max. One vector is not enough: when σ₂ is within a few % of σ₁, as in
    spectrally normalized layers, it gains little per step for many steps and any rule that watches
    the gains stops early, several % low; b vectors converge at the rate σ_{b+1}/σ₁ instead.

    Stopping: the gains δ_k = σ_k − σ_{k−1} say what is still missing, in two ways:
    δ_k² / (δ_{k−1} − δ_k) (Aitken's, exact when the gains shrink geometrically, as with an isolated
    σ₂) and k·δ_k (exact when the error falls like 1/k, as at a dense edge of the spectrum, e.g. a
    convolution's). The iteration stops when 4× the larger of the two is at most tolerance · σ_k,
    with the gains shrinking, or when σ stops rising (by more than float rounding); otherwise after
    max_iterations, with converged=False. Only an estimate: a direction that starts with almost no
    weight can still overtake later. On test spectra with σ₂/σ₁ from 0.9 to 0.999, six-fold
    near-ties, flat tops and convolutions, the worst error found was 1.3e-4 with tolerance 1e-3.
    """
    q = _orthonormal(start)
    y = apply(q)
    sigma = _largest_of_block(y)
    gain_before = None
    for iteration in range(1, max_iterations + 1):
        q = _orthonormal(apply_adjoint(y))
        y = apply(q)
        new_sigma = _largest_of_block(y)
        gain = new_sigma - sigma
        sigma = max(sigma, new_sigma)
        if gain <= ROUNDING * sigma:
            return SingularValueEstimate(sigma, q, True, iteration)
        if gain_before is not None and gain < gain_before:
            missing = max(gain * gain / (gain_before - gain), iteration * gain)
            if 4 * missing <= tolerance * sigma:
                return SingularValueEstimate(sigma, q, True, iteration)
        gain_before = gain
    return SingularValueEstimate(sigma, q, False, max_iterations)


def _orthonormal(block: Tensor) -> Tensor:
    """The b vectors of `block` (b, ...) made orthonormal, spanning the same space."""
    q, _ = torch.linalg.qr(block.reshape(block.shape[0], -1).T)
    return q.T.reshape(block.shape)


def _largest_of_block(images: Tensor) -> float:
    """σ_max of the matrix whose rows are the images A q_i of an orthonormal block: the square root of
    the largest eigenvalue of their b × b Gram matrix (solved on the CPU: tiny, and read at once)."""
    rows = images.reshape(images.shape[0], -1)
    return float(torch.linalg.eigvalsh((rows @ rows.T).double().cpu())[-1].clamp(min=0).sqrt())


def weight_matrix(module: nn.Module) -> Tensor:
    """The layer's effective weight as a matrix (out, in·k·k), as spectral normalization reshapes it;
    with a spectral-norm parametrization, the normalized weight."""
    weight = module.weight.detach()
    if isinstance(module, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)  # stored (in, out, k, k); as a map it is (out, in·k·k)
    return weight.reshape(weight.shape[0], -1).float()


def convolution_maps(module: nn.Conv2d | nn.ConvTranspose2d, input_size: tuple[int, int, int]
                     ) -> tuple[LinearMap, LinearMap] | None:
    """(x ↦ conv(x), y ↦ convᵀ(y)) for the layer's linear part (no bias) on inputs of size (C, H, W),
    with its stride, padding, dilation and groups; None for a padding mode other than zeros.

    The adjoint of conv2d is conv_transpose2d with the same arguments, plus the output padding that
    gives back H × W where the stride skipped the last rows or columns, and the other way round."""
    weight = module.weight.detach().float()
    stride, padding, dilation, groups = module.stride, module.padding, module.dilation, module.groups
    if isinstance(module, nn.ConvTranspose2d):
        def transposed(x: Tensor) -> Tensor:
            return F.conv_transpose2d(x, weight, None, stride, padding, module.output_padding, groups, dilation)

        def plain(y: Tensor) -> Tensor:
            return F.conv2d(y, weight, None, stride, padding, dilation, groups)

        return transposed, plain
    if module.padding_mode != "zeros" or isinstance(padding, str):
        return None
    sizes = input_size[1:]
    kernel = weight.shape[2:]
    outputs = [(n + 2 * p - d * (k - 1) - 1) // s + 1
               for n, p, d, k, s in zip(sizes, padding, dilation, kernel, stride)]
    output_padding = tuple(n - ((m - 1) * s - 2 * p + d * (k - 1) + 1)
                           for n, m, p, d, k, s in zip(sizes, outputs, padding, dilation, kernel, stride))

    def convolve(x: Tensor) -> Tensor:
        return F.conv2d(x, weight, None, stride, padding, dilation, groups)

    def convolve_adjoint(y: Tensor) -> Tensor:
        return F.conv_transpose2d(y, weight, None, stride, padding, output_padding, groups, dilation)

    return convolve, convolve_adjoint


class LayerNormTracker:
    """Measures the keys listed in the module docstring for a network, cheaply enough to run every few
    training steps.

    Each σ comes from `largest_singular_value`, warm-started from the block the previous call ended
    with, so while weights change slowly a call costs a few products with a block of vectors (or
    convolutions of a small batch) per layer instead of an SVD (a full SVD of a 400×784 layer costs
    tens of ms, longer than a training step). The first call on a network hooks its convolutions to
    record their input size (C, H, W) on each forward pass; call `watch` right after building a
    network to have their operator norms from the first reading on.
    """

    def __init__(self, tolerance: float = TOLERANCE, max_iterations: int = MAX_ITERATIONS):
        self.tolerance = tolerance
        self.max_iterations = max_iterations
        self._vectors: dict[str, Tensor] = {}
        self._watched: weakref.WeakSet[nn.Module] = weakref.WeakSet()
        self._input_sizes: weakref.WeakKeyDictionary[nn.Module, tuple[int, ...]] = weakref.WeakKeyDictionary()

    def watch(self, net: nn.Module) -> None:
        """Record the input size of every convolution in `net` on each of its forward passes."""
        input_sizes = self._input_sizes

        # a plain function, not a bound method: copying the network must not copy the tracker
        def record_input_size(module: nn.Module, args: tuple) -> None:
            if args:
                input_sizes[module] = tuple(args[0].shape[-3:])  # (C, H, W), batched or not

        for _, layer in weight_layers(net):
            if isinstance(layer, CONV_LAYERS) and layer not in self._watched:
                layer.register_forward_pre_hook(record_input_size)
                self._watched.add(layer)

    @torch.no_grad()
    def __call__(self, net: nn.Module, prefix: str) -> dict[str, float]:
        self.watch(net)
        stats: dict[str, float] = {}
        unconverged = 0
        device_type = next((p.device.type for p in net.parameters()), "cpu")
        # eval mode: reading a spectrally normalized weight in train mode would run its power iteration.
        # No autocast, even inside a bf16 training step: products in bf16 put σ ~0.3 % off, beyond
        # the tolerance, and the stopping rule's rounding threshold assumes float32
        with eval_mode(net), torch.autocast(device_type, enabled=False):
            for name, module in weight_layers(net):
                key = f"{prefix}/{name}"
                matrix = weight_matrix(module)
                stats[f"weight_norm/{key}"] = float(torch.linalg.matrix_norm(matrix))
                kernel = self._estimate(f"spectral_norm/{key}", lambda x: x @ matrix.T, lambda y: y @ matrix,
                                        (matrix.shape[1],), min(matrix.shape), matrix)
                stats[f"spectral_norm/{key}"] = kernel.sigma
                unconverged += not kernel.converged
                if isinstance(module, nn.Linear):
                    stats[f"operator_norm/{key}"] = kernel.sigma
                    continue
                input_size = self._input_sizes.get(module)
                maps = convolution_maps(module, input_size) if input_size is not None else None
                if maps is not None:
                    operator = self._estimate(f"operator_norm/{key}", *maps, input_size,
                                              math.prod(input_size), matrix)
                    stats[f"operator_norm/{key}"] = operator.sigma
                    unconverged += not operator.converged
        stats[f"power_iteration_unconverged/{prefix}"] = float(unconverged)
        return stats

    def _estimate(self, key: str, apply: LinearMap, apply_adjoint: LinearMap, vector_shape: tuple[int, ...],
                  rank_bound: int, like: Tensor) -> SingularValueEstimate:
        shape = (min(BLOCK, rank_bound), *vector_shape)
        start = self._vectors.get(key)
        if start is None or start.shape != shape:
            start = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(like)
        result = largest_singular_value(apply, apply_adjoint, start, self.tolerance, self.max_iterations)
        self._vectors[key] = result.vectors
        return result
