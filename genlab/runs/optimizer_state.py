"""A saved optimizer state checked against the trainer's optimizers before torch sees it.

torch's Optimizer.load_state_dict trusts its input: `"betas": "x"` loads fine and crashes the first
training step, `"maximize": true` makes G climb its loss. The optimizer was just built from the run's
config, so its settings are the run's: a saved parameter group must hold the same values for every
setting of the update's maths (betas, eps, weight_decay, amsgrad, maximize, ...); the learning rate
may differ (the schedule and live changes set it, and the trainer sets it again after loading) but must
be a finite number ≥ 0; how this machine runs the update (foreach, fused, capturable, differentiable)
is the fresh optimizer's whatever the file says. The groups must list the parameters 0, 1, 2, ... in
order, and each per-parameter tensor must have its parameter's shape and dtype (or be a real scalar,
like Adam's step counter). Settings the state lacks keep the optimizer's.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from genlab.runs.format import CheckpointError

IMPLEMENTATION = frozenset({"foreach", "fused", "capturable", "differentiable"})  # this machine's choice
SCHEDULED = frozenset({"lr", "initial_lr"})  # set by the trainer from the config and its schedule


def _same_kind(value: Any, like: Any) -> bool:
    """Whether a saved setting `value` may stand in for the optimizer's own setting `like`."""
    if isinstance(like, bool) or like is None:
        return value is None or isinstance(value, bool)
    if isinstance(like, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(like, (tuple, list)):
        return (isinstance(value, (tuple, list)) and len(value) == len(like)
                and all(_same_kind(v, l) for v, l in zip(value, like)))
    return isinstance(value, type(like))


def _checked_group(saved: Any, own: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
        raise CheckpointError(f"{where} must be a mapping with a list of params")
    group = {key: value for key, value in own.items() if key != "params"}
    for key, value in saved.items():
        if key == "params" or key in IMPLEMENTATION:
            continue
        shown = repr(value)[:60]
        if key not in own:
            if not (value is None or isinstance(value, (bool, int, float, str)) and len(str(value)) < 100):
                raise CheckpointError(f"{where}: setting {key!r} is {shown}, which does not fit the optimizer")
        elif not _same_kind(value, own[key]) or (key in SCHEDULED and value < 0):
            raise CheckpointError(f"{where}: setting {key!r} is {shown}, which does not fit the optimizer "
                                  f"(expected a value like {own[key]!r})")
        elif key not in SCHEDULED and (tuple(value) if isinstance(value, list) else value) != own[key]:
            raise CheckpointError(f"{where}: setting {key!r} is {shown}, but the run's config gives "
                                  f"{own[key]!r}")
        group[key] = tuple(value) if isinstance(own.get(key), tuple) else value
    group["params"] = saved["params"]
    return group


def _checked_entry(entry: Any, param: torch.Tensor, where: str) -> None:
    if not isinstance(entry, dict):
        raise CheckpointError(f"{where} must be a mapping")
    for key, value in entry.items():
        if isinstance(value, torch.Tensor):
            if value.dim() == 0:
                ok = value.is_floating_point() or not (value.is_complex() or value.dtype == torch.bool)
            else:
                ok = value.shape == param.shape and value.dtype == param.dtype
            if not ok:
                raise CheckpointError(f"{where}: {key} is {value.dtype} {tuple(value.shape)}, the model needs "
                                      f"{param.dtype} {tuple(param.shape)}")
        elif not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
            raise CheckpointError(f"{where}: {key} must be a tensor or a number, not {repr(value)[:60]}")


def checked_optimizers(optimizers: dict[str, torch.optim.Optimizer], saved: Any, where: Path) -> dict[str, Any]:
    """The saved state of every optimizer, checked (CheckpointError naming what does not fit)."""
    if not isinstance(saved, dict) or set(saved) != set(optimizers):
        found = sorted(map(str, saved)) if isinstance(saved, dict) else type(saved).__name__
        raise CheckpointError(f"{where}: optimizers {found} do not match the trainer's {sorted(optimizers)}")
    checked = {}
    for name, opt in optimizers.items():
        state = saved[name]
        if not isinstance(state, dict) or not isinstance(state.get("state"), dict) \
                or not isinstance(state.get("param_groups"), list):
            raise CheckpointError(f"{where}: optimizer {name!r} has no state/param_groups")
        params = [p for group in opt.param_groups for p in group["params"]]
        if len(state["param_groups"]) != len(opt.param_groups):
            raise CheckpointError(f"{where}: optimizer {name!r} parameter groups do not match the model")
        groups = [_checked_group(saved_group, own, f"{where}: optimizer {name!r} parameter group {i}")
                  for i, (saved_group, own) in enumerate(zip(state["param_groups"], opt.param_groups))]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in opt.param_groups] \
                or [i for g in groups for i in g["params"]] != list(range(len(params))):
            raise CheckpointError(f"{where}: optimizer {name!r} parameter groups do not match the model")
        for index, entry in state["state"].items():
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(params):
                raise CheckpointError(f"{where}: optimizer {name!r} has state for unknown parameter {index!r}")
            _checked_entry(entry, params[index], f"{where}: optimizer {name!r} parameter {index}")
        checked[name] = {"state": state["state"], "param_groups": groups}
    return checked
