"""Per-image random draws shared by the augmentation policies: which images an operation touches, and
its parameters there (identity elsewhere). Every draw consumes the same numbers whatever p is, so a
run's random stream does not depend on how often an operation fires."""
from __future__ import annotations

import torch
from torch import Tensor


def chosen(n: int, p: float, generator: torch.Generator) -> Tensor:
    """(n,) bool: each image independently True with probability p."""
    return torch.rand(n, generator=generator, device=generator.device) < p


def uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=generator.device)


def integers(n: int, low: int, high: int, generator: torch.Generator) -> Tensor:
    """(n,) integers uniform in [low, high], both included."""
    return torch.randint(low, high + 1, (n,), generator=generator, device=generator.device)


def normal(n: int, std: float, generator: torch.Generator) -> Tensor:
    return std * torch.randn(n, generator=generator, device=generator.device)


def where(mask: Tensor, value: Tensor, identity: float) -> Tensor:
    """value where mask holds, identity elsewhere."""
    return torch.where(mask, value, torch.full_like(value, identity))
