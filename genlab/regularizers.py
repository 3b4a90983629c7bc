"""Norm regularizers, each a small pure function with its formula in the docstring.

Penalties return the unweighted value; the trainer multiplies by the live strength (λ, γ, ...) and
skips the computation when the strength is 0. `critic` is any callable mapping a batch to one score
per sample, so the same functions serve a real discriminator and the 1-parameter Dirac-GAN.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

Critic = Callable[[Tensor], Tensor]


def penalized_weights(module: nn.Module) -> list[Tensor]:
    """Weight matrices and kernels (tensors with ≥ 2 dims); biases and norm gains are not penalized."""
    return [p for p in module.parameters() if p.dim() >= 2]


def _total(terms: Iterable[Tensor]) -> Tensor:
    """Σ terms, on the terms' device and dtype (a float32 0 on the CPU when there are none): the sum
    starts from the first term, not from a CPU zero."""
    total = None
    for term in terms:
        total = term if total is None else total + term
    return torch.zeros(()) if total is None else total


def l2_penalty(weights: Iterable[Tensor]) -> Tensor:
    """Squared L2 norm of the weights: Σ_W ‖W‖²_F = Σ_W Σ_ij W_ij²."""
    return _total(w.pow(2).sum() for w in weights)


def l1_penalty(weights: Iterable[Tensor]) -> Tensor:
    """L1 norm of the weights: Σ_W Σ_ij |W_ij|."""
    return _total(w.abs().sum() for w in weights)


def orthogonal_penalty(weights: Iterable[Tensor]) -> Tensor:
    """Orthogonal regularization (Brock et al. 2016): Σ_W ‖G(W) − I‖²_F.

    Each weight is read as a matrix W of shape (rows, cols) = (shape[0], the rest): (out, in) for a
    linear layer, (out, in·k·k) for a Conv2d kernel (in, out·k·k for a transposed one). G(W) is the
    Gram matrix of its shorter side: WᵀW (cols × cols) when W is tall or square (rows ≥ cols), pushing
    the columns to be orthonormal, and WWᵀ (rows × rows) when W is wide, pushing the rows to be. (WᵀW of
    a wide matrix has rank ≤ rows < cols, so it could never reach I: the penalty would never fall below
    cols − rows.) Equivalently Σ_i (σ_i² − 1)² over the singular values σ_i of W.
    """
    return _total(_gram_distance_from_identity(w) for w in weights)


def _gram_distance_from_identity(w: Tensor) -> Tensor:
    """‖G(W) − I‖²_F for one weight, G(W) the Gram matrix of its shorter side (see orthogonal_penalty)."""
    matrix = w.reshape(w.shape[0], -1)
    if matrix.shape[0] < matrix.shape[1]:
        matrix = matrix.T
    gram = matrix.T @ matrix
    return (gram - torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype)).pow(2).sum()


@torch.no_grad()
def clip_weights_(weights: Iterable[Tensor], bound: float | Tensor) -> None:
    """Weight clipping of the original WGAN (in place): W_ij ← clamp(W_ij, -c, c); a tensor c
    (broadcast against W) gives each entry its own bound."""
    for w in weights:
        w.clamp_(-bound, bound)


def per_sample_input_gradients(critic: Critic, x: Tensor) -> Tensor:
    """∇_x D(x) for each sample separately, flattened to shape (B, features); differentiable
    (create_graph) so a penalty on it trains D."""
    x = x.detach().requires_grad_(True)
    return input_gradients_of(critic(x), x)


def input_gradients_of(scores: Tensor, x: Tensor) -> Tensor:
    """∇_x D(x) per sample, flattened to (B, features), from D's scores on x already computed (x
    requiring grad), so that a loss and a penalty can share one pass of D; differentiable
    (create_graph). Summing the scores over the batch gives each sample's own gradient, since
    samples do not interact (hence no BatchNorm in D)."""
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.flatten(1)


def per_sample_gradient_norms(critic: Critic, x: Tensor) -> Tensor:
    """‖∇_x D(x)‖₂ for each sample separately, shape (B,); differentiable."""
    return per_sample_input_gradients(critic, x).norm(dim=1)


def wgan_gradient_penalty(critic: Critic, real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017), one interpolation weight and one gradient norm per sample:

    E_{x̂}[(‖∇_x̂ D(x̂)‖₂ - 1)²],   x̂ = ε x + (1 - ε) G(z),   ε ~ U[0, 1] per sample
    """
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype, generator=generator)
    mixed = eps * real.detach() + (1.0 - eps) * fake.detach()
    return (per_sample_gradient_norms(critic, mixed) - 1.0).pow(2).mean()


def r1_penalty(critic: Critic, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018), zero-centred on real data: ½ E_x[‖∇_x D(x)‖²]; the trainer scales by γ."""
    x = real.detach().requires_grad_(True)
    return zero_centred_penalty(x, critic(x))


def r2_penalty(critic: Critic, fake: Tensor) -> Tensor:
    """R2, zero-centred on generated data: ½ E_z[‖∇_x D(G(z))‖²]; the trainer scales by γ."""
    x = fake.detach().requires_grad_(True)
    return zero_centred_penalty(x, critic(x))


def zero_centred_penalty(x: Tensor, scores: Tensor) -> Tensor:
    """½ E_x[‖∇_x D(x)‖²] from D's scores on x, computed with x requiring grad: R1 when x is real
    data, R2 when it is generated. The trainer passes the scores of its loss's own pass of D, so the
    penalty needs no pass of its own.

    ‖∇_x D‖² is summed from the squares Σ_i (∂D/∂x_i)² rather than squaring the norm: ‖g‖ has no
    derivative at g = 0 (autograd takes 0 there), so ‖g‖² built from it would lose its curvature
    exactly where a zero-centred penalty has its minimum (the Dirac-GAN's equilibrium)."""
    return 0.5 * input_gradients_of(scores, x).pow(2).sum(dim=1).mean()


def gradient_norm(parameters: Iterable[Tensor]) -> Tensor:
    """Global L2 norm of the gradients: sqrt(Σ_p ‖∇p‖²) (0, on the parameters' device, where no
    gradient exists)."""
    return gradient_norms([parameters])[0]


def gradient_norms(groups: Sequence[Iterable[Tensor]]) -> list[Tensor]:
    """`gradient_norm` of each group of parameters (e.g. one per network), all from one fused pass
    over every gradient."""
    lists = [list(group) for group in groups]
    present = [[p.grad for p in parameters if p.grad is not None] for parameters in lists]
    per_tensor = torch._foreach_norm([grad for grads in present for grad in grads]) if any(present) else []
    norms, start = [], 0
    for parameters, grads in zip(lists, present):
        if grads:
            norms.append(torch.linalg.vector_norm(torch.stack(per_tensor[start:start + len(grads)])))
        else:
            norms.append(torch.zeros((), device=parameters[0].device if parameters else None))
        start += len(grads)
    return norms


def clip_gradient_norm_(parameters: Iterable[Tensor], max_norm: float) -> Tensor:
    """Gradient-norm clipping: g ← g · min(1, c / ‖g‖) over all parameters jointly; returns ‖g‖ before."""
    return torch.nn.utils.clip_grad_norm_(list(parameters), max_norm)
