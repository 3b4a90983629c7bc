"""An optimizer's update; for fused Adam, genlab's optimizer, without torch.optim's bookkeeping around its kernel.

`torch.optim.Adam(fused=True).step()` makes two kernel calls per device and dtype (count the steps,
then update every tensor) and around them spends more time in Python at every call than the kernels
take on a small network: step hooks, a profiler record, the grad-mode decorator, regrouping the tensors
by device and dtype (≈ 50 against ≈ 20 µs a call for the ring GAN's D on one CPU thread).
`optimizer_step(optimizer)` makes the same two calls on the optimizer's own state, so that state, and saving
or loading it, stay torch's; parameter groups whose settings are equal share one pair of calls.

`clear_gradients(optimizer)` is zero_grad(set_to_none=True) without its profiler record (≈ 10 against
2 µs for the ring GAN's D here, several times that inside a training step).

`optimizer_step` calls `optimizer.step()` instead wherever it would not do exactly what that does: another optimizer
or an unfused Adam, an option it does not cover (amsgrad, maximize, capturable, differentiable,
decoupled weight decay, a tensor learning rate or beta), step hooks, complex parameters, or a parameter whose
state does not exist yet (torch creates it at its first step). tests/test_optimizer_step.py holds the two
to bit-identical weights and state.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

_UNCOVERED_OPTIONS = ("amsgrad", "maximize", "capturable", "differentiable", "decoupled_weight_decay")


def clear_gradients(optimizer: torch.optim.Optimizer) -> None:
    """Drop the gradients of every parameter `optimizer` updates, as zero_grad(set_to_none=True) does."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            param.grad = None


def optimizer_step(optimizer: torch.optim.Optimizer) -> None:
    """One update of `optimizer` from the gradients in place, as optimizer.step() would make it."""
    batches = _fused_batches(optimizer)
    if batches is None:
        optimizer.step()
        return
    with torch.no_grad():
        for (lr, beta1, beta2, eps, weight_decay, _, _), (params, grads, exp_avgs, exp_avg_sqs, steps) in batches.items():
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=lr, beta1=beta1,
                               beta2=beta2, weight_decay=weight_decay, eps=eps, maximize=False,
                               grad_scale=None, found_inf=None)


def _fused_batches(optimizer: torch.optim.Optimizer) -> dict[tuple, tuple[list[Tensor], ...]] | None:
    """The parameters with a gradient, with their gradients and Adam state, batched by (settings,
    device, dtype); None where optimizer.step() must do the update."""
    if (type(optimizer) is not torch.optim.Adam or optimizer._optimizer_step_pre_hooks
            or optimizer._optimizer_step_post_hooks or _global_optimizer_pre_hooks or _global_optimizer_post_hooks):
        return None
    batches: dict[tuple, tuple[list[Tensor], ...]] = {}
    for group in optimizer.param_groups:
        if not group.get("fused") or any(group.get(option) for option in _UNCOVERED_OPTIONS):
            return None
        lr, (beta1, beta2) = group["lr"], group["betas"]
        if any(isinstance(value, Tensor) for value in (lr, beta1, beta2)):
            return None
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                continue
            state = optimizer.state.get(param)
            if not state or torch.is_complex(param) or grad.is_sparse:
                return None
            key = (lr, beta1, beta2, group["eps"], group["weight_decay"], param.device, param.dtype)
            batch = batches.setdefault(key, ([], [], [], [], []))
            for listed, tensor in zip(batch, (param, grad, state["exp_avg"], state["exp_avg_sq"], state["step"])):
                listed.append(tensor)
    return batches
