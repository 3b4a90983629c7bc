"""Paths between two latents: linear (lerp) and spherical (slerp) interpolation, seeded random latents.

Latents are float32 CPU tensors of shape (latent_dim,); a path of T points is (T, latent_dim).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

METHODS = ("linear", "spherical")
# Below this angle (radians) between two endpoints, slerp's sin(Ω) denominators lose precision and the
# great-circle arc is indistinguishable from the chord: interpolate linearly instead.
SLERP_MIN_ANGLE = 1e-4


def _as_t(t: float | Sequence[float] | Tensor, like: Tensor) -> tuple[Tensor, bool]:
    """t as a 1-D tensor (T,) and whether it was a scalar."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    scalar = t.dim() == 0
    return t.reshape(-1), scalar


def lerp(a: Tensor, b: Tensor, t: float | Sequence[float] | Tensor) -> Tensor:
    """(1 − t)·a + t·b. a, b: (d,); t: scalar -> (d,), or (T,) -> (T, d). t = 0 and 1 give a and b exactly."""
    a, b = torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)
    tt, scalar = _as_t(t, a)
    out = (1 - tt)[:, None] * a + tt[:, None] * b
    out = _exact_endpoints(out, a, b, tt)
    return out[0] if scalar else out


def slerp(a: Tensor, b: Tensor, t: float | Sequence[float] | Tensor, min_angle: float = SLERP_MIN_ANGLE) -> Tensor:
    """Spherical interpolation: the direction moves along the great circle, the length linearly.

    With Ω the angle between a and b and u = a/|a|, v = b/|b|:
        direction(t) = sin((1 − t)Ω)/sin Ω · u + sin(tΩ)/sin Ω · v
        slerp(t)     = ((1 − t)|a| + t|b|) · direction(t)
    For endpoints of equal length (e.g. unit vectors) this is Shoemake's slerp, so the norm stays
    constant along the path. Gaussian latents in high dimension concentrate near a sphere of radius
    √d; a straight line between two of them dips inside it (towards atypical, blurry codes), the arc
    does not (White 2016, "Sampling generative networks").
    Degenerate cases: a zero endpoint has no direction and parallel endpoints (Ω ≈ 0) have a zero
    denominator: both fall back to lerp (which is then the same path). Antiparallel endpoints (Ω ≈ π)
    have no unique great circle: the arc goes through a fixed direction orthogonal to a (the standard
    basis vector least aligned with it), so the norm is still kept; in one dimension there is no
    such direction and the path is linear.
    """
    a, b = torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)
    tt, scalar = _as_t(t, a)
    linear = lerp(a, b, tt)
    na, nb = a.norm(), b.norm()
    if float(na) == 0.0 or float(nb) == 0.0:
        return linear[0] if scalar else linear
    u, v = a / na, b / nb
    cos = float(torch.clamp(torch.dot(u, v), -1.0, 1.0))
    omega = math.acos(cos)
    if omega < min_angle:
        return linear[0] if scalar else linear
    if math.pi - omega < min_angle:
        if a.numel() < 2:
            return linear[0] if scalar else linear
        # rotate half-way through w ⟂ u: direction(t) = cos(πt)·u + sin(πt)·w, which ends at −u ≈ v
        e = torch.zeros_like(u)
        e[int(torch.argmin(u.abs()))] = 1.0
        w = e - torch.dot(e, u) * u
        w = w / w.norm()
        angle = math.pi * tt[:, None]
        direction = torch.cos(angle) * u + torch.sin(angle) * w
    else:
        sin = math.sin(omega)
        direction = (torch.sin((1 - tt) * omega) / sin)[:, None] * u + (torch.sin(tt * omega) / sin)[:, None] * v
    length = (1 - tt) * na + tt * nb
    out = length[:, None] * direction
    out = _exact_endpoints(out, a, b, tt)
    return out[0] if scalar else out


def _exact_endpoints(out: Tensor, a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """t = 0 / 1 give a / b bit for bit, so an interpolation's end frames are the endpoint images."""
    out = torch.where((t == 0)[:, None], a.expand_as(out), out)
    return torch.where((t == 1)[:, None], b.expand_as(out), out)


def interpolate(a: Tensor, b: Tensor, t: float | Sequence[float] | Tensor, method: str = "linear") -> Tensor:
    """lerp for method "linear", slerp for "spherical"."""
    if method == "linear":
        return lerp(a, b, t)
    if method == "spherical":
        return slerp(a, b, t)
    raise ValueError(f"interpolation method {method!r} is unknown; use one of {', '.join(METHODS)}")


def interpolation_path(a: Tensor, b: Tensor, n: int, method: str = "linear") -> Tensor:
    """(n, d) latents from a to b at t = 0, 1/(n−1), …, 1 (n ≥ 2); the first is a, the last is b."""
    if n < 2:
        raise ValueError(f"an interpolation needs at least 2 frames, got {n}")
    return interpolate(a, b, torch.linspace(0.0, 1.0, n), method)


def random_latent(latent_dim: int, seed: int) -> Tensor:
    """z ~ N(0, I) of shape (latent_dim,), the same for the same seed on every machine (CPU generator)."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(latent_dim, generator=generator)
