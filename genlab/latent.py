"""Latent-space exploration: interpolation (lerp/slerp), traversals, manifold grids, PCA maps, GIF/PNG export.

No streamlit here: pages/latent.py draws widgets and calls these functions, and the tests and
benchmarks/latent_bench.py call them headless.

A `LatentModel` wraps a loaded run for inference only: its networks are put in eval mode once (so
BatchNorm uses running statistics and a one-image batch works) and a lock serializes calls, because
one cached model is shared by every browser tab of the server.

Conventions: latents are float32 CPU tensors of shape (latent_dim,) or (B, latent_dim); decoded data
comes back on the CPU in data space (images (B, C, H, W) in [0, 1], points (B, 2)); pictures for the
browser and for export are uint8 numpy arrays (H, W) for one channel or (H, W, 3).
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import io
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

METHODS = ("linear", "spherical")
# Below this angle (radians) between two endpoints, slerp's sin(Ω) denominators lose precision and the
# great-circle arc is indistinguishable from the chord: interpolate linearly instead.
SLERP_MIN_ANGLE = 1e-4
# Uploaded images are opened with Pillow; anything larger than this many pixels is refused before decoding.
MAX_UPLOAD_PIXELS = 4096 * 4096
EXPLORE_SAMPLES = 2048  # data samples encoded for KL ordering, factor association and the PCA map
# Batches up to this size run on the calling thread alone (see single_threaded).
SMALL_BATCH = 64


# ------------------------------------------------------------------------------------------------
# one thread for small batches
# ------------------------------------------------------------------------------------------------
def _openmp_runtime():
    """The OpenMP library torch runs its intra-op threads on, or None (another backend, or not found)."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    folder = os.path.join(os.path.dirname(torch.__file__), "lib")
    for pattern in ("libgomp*.so*", "libiomp5*.so*", "libomp*.so*", "libomp*.dylib", "libiomp5*.dylib"):
        for path in sorted(glob.glob(os.path.join(folder, pattern))):
            try:
                lib = ctypes.CDLL(path)
                lib.omp_set_num_threads.argtypes = [ctypes.c_int]
                lib.omp_get_max_threads.restype = ctypes.c_int
                return lib
            except (OSError, AttributeError):
                continue
    try:  # a system OpenMP that torch linked against
        lib = ctypes.CDLL("libgomp.so.1")
        lib.omp_set_num_threads.argtypes = [ctypes.c_int]
        lib.omp_get_max_threads.restype = ctypes.c_int
        return lib
    except (OSError, AttributeError):
        return None


_OPENMP = _openmp_runtime()


@contextlib.contextmanager
def single_threaded():
    """Run torch ops in the block on the calling thread only.

    Decoding one latent is ~1 ms of work. Split over torch's intra-op threads, each op ends in a barrier
    that waits for every thread to be scheduled: on 2 cores shared with a training run (or other
    processes) one decode measured 200-400 ms instead of 1 ms. OpenMP's thread count is a per-thread
    setting, so this sets it for the calling thread only (torch.set_num_threads would also change the
    default of threads started later, e.g. a training thread, and MKL's global count).
    """
    if _OPENMP is None:
        yield
        return
    torch.get_num_threads()  # torch's lazy per-thread init first, so it cannot undo the setting below
    previous = _OPENMP.omp_get_max_threads()
    _OPENMP.omp_set_num_threads(1)
    try:
        yield
    finally:
        _OPENMP.omp_set_num_threads(previous)


# ------------------------------------------------------------------------------------------------
# interpolation
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# the model, for inference
# ------------------------------------------------------------------------------------------------
class LatentModel:
    """A trained generator (GAN) or VAE, ready to decode and encode; thread-safe, eval mode only."""

    def __init__(self, trainer: Any, history: dict[str, list[float]] | None = None, path: Path | None = None,
                 data_available: bool = True):
        self.trainer = trainer
        self.history = history or {}
        self.path = path
        self.data_available = data_available
        self.config = trainer.config
        self.family = trainer.config.model.family
        self.latent_dim = int(trainer.latent_dim)
        self.data_kind = trainer.data.kind
        self.data_shape = tuple(trainer.data_shape)
        self.lock = threading.Lock()
        # every network the trainer holds (also ones outside `networks`, e.g. a GAN's EMA generator) goes to
        # eval mode for good: the trainer's eval_mode() blocks then restore eval, never train
        modules = list(trainer.networks.values())
        modules += [m for m in vars(trainer).values() if isinstance(m, torch.nn.Module)]
        for net in modules:
            net.eval()
            net.requires_grad_(False)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = "cpu") -> LatentModel:
        """Load a saved run without its data set (exploration data is loaded separately, see explore_data)."""
        from genlab.runs import load_run

        loaded = load_run(Path(path), device=device, load_data=False)
        return cls(loaded.trainer, loaded.history, loaded.path)

    @property
    def has_encoder(self) -> bool:
        return self.family == "vae"

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """(B, d) or (d,) latents -> (B, *data_shape) CPU float32 in data space."""
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, self.latent_dim)
        threads = single_threaded() if len(z) <= SMALL_BATCH else contextlib.nullcontext()
        with self.lock, threads:
            out = self.trainer.generate(z)
        return out.detach().float().cpu()

    @torch.no_grad()
    def encode_stats(self, x: Tensor, batch_size: int = 512) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance (B, d) each of data-space inputs (VAE only)."""
        if not self.has_encoder:
            raise ValueError("a GAN has no encoder: only a VAE can encode images into its latent space")
        mus, logvars = [], []
        device = self.trainer.device
        threads = single_threaded() if len(x) <= SMALL_BATCH else contextlib.nullcontext()
        with self.lock, threads:
            for start in range(0, len(x), batch_size):
                chunk = x[start : start + batch_size].to(device, torch.float32)
                mu, logvar = self.trainer.vae.encode(chunk)
                mus.append(mu.float().cpu())
                logvars.append(logvar.float().cpu())
        return torch.cat(mus), torch.cat(logvars)

    def encode(self, x: Tensor) -> Tensor:
        """Posterior means (B, d) (VAE only)."""
        return self.encode_stats(x)[0]


@dataclass
class ExploreData:
    """A sample of the run's data set for exploring: images/points, labels, factors, their encodings."""

    x: Tensor  # float32 data space, CPU: (N, C, H, W) in [0, 1] or (N, 2)
    labels: Tensor | None
    factors: Tensor | None
    factor_names: tuple[str, ...]
    class_names: tuple[str, ...]
    origin: str
    mu: Tensor | None = None  # (N, d) posterior means (VAE)
    logvar: Tensor | None = None


def explore_data(config: Any, n: int = EXPLORE_SAMPLES, seed: int = 0) -> ExploreData | None:
    """Up to n samples of the run's data set (held-out split when there is one), or None if unavailable.

    Synthetic sets are drawn with only n samples (cheap); standard sets are subsampled. Data uploaded
    in the app is not stored with a run, so its runs come back None (random endpoints still work).
    """
    from genlab.config import ConfigError
    from genlab.data import DataUnavailableError, load_data

    data_cfg = config.data
    if data_cfg.name in ("shapes",) or data_cfg.is_2d:
        data_cfg = config.replace(**{"data.n_samples": max(16, min(n, data_cfg.n_samples))}).data
    try:
        source = load_data(data_cfg, "cpu", seed=config.seed, split="test")
    except (DataUnavailableError, ConfigError, OSError, ValueError):
        return None
    count = len(source)
    if count > n:
        idx = torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n].sort().values
    else:
        idx = torch.arange(count)
    return ExploreData(
        x=source.batch(idx).cpu(),
        labels=None if source.labels is None else source.labels[idx].cpu(),
        factors=None if source.factors is None else source.factors[idx].cpu(),
        factor_names=tuple(source.factor_names),
        class_names=tuple(source.class_names),
        origin=source.origin,
    )


def encode_data(model: LatentModel, data: ExploreData) -> ExploreData:
    """Fill data.mu / data.logvar with the VAE's posterior of every sample (no-op for a GAN)."""
    if model.has_encoder and data.mu is None:
        data.mu, data.logvar = model.encode_stats(data.x)
    return data


# ------------------------------------------------------------------------------------------------
# KL per dimension and traversals
# ------------------------------------------------------------------------------------------------
def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per latent dimension, averaged over the batch: mean ½(μ² + σ² − log σ² − 1)."""
    return (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)).mean(0)


def kl_from_history(history: dict[str, list[float]], latent_dim: int) -> Tensor | None:
    """The last recorded per-dimension KL of training (metrics "kl/dim_<i>"), when data is not at hand."""
    values = []
    for i in range(latent_dim):
        series = [v for v in history.get(f"kl/dim_{i}", []) if math.isfinite(v)]
        if not series:
            return None
        values.append(series[-1])
    return torch.tensor(values)


def traversal_order(kl: Tensor | None, latent_dim: int) -> list[int]:
    """Dimensions by decreasing KL (most informative first; ties by index), or index order without KL (GAN)."""
    if kl is None:
        return list(range(latent_dim))
    kl = torch.as_tensor(kl, dtype=torch.float64)
    return sorted(range(latent_dim), key=lambda i: (-float(kl[i]), i))


def model_kl(model: LatentModel, data: ExploreData | None) -> Tensor | None:
    """Per-dimension KL of a VAE measured on data (else from its training history); None for a GAN."""
    if not model.has_encoder:
        return None
    if data is not None:
        encode_data(model, data)
        return kl_per_dim(data.mu, data.logvar)
    return kl_from_history(model.history, model.latent_dim)


def traversal_values(low: float, high: float, steps: int) -> Tensor:
    if steps < 2:
        raise ValueError(f"a traversal needs at least 2 steps, got {steps}")
    if not low < high:
        raise ValueError(f"the traversal range must have low < high, got [{low}, {high}]")
    return torch.linspace(float(low), float(high), int(steps))


def traversal_latents(base: Tensor, dims: Sequence[int], values: Tensor) -> Tensor:
    """(len(dims), k, d): row r is `base` with dimension dims[r] set to each of the k values."""
    base = torch.as_tensor(base, dtype=torch.float32).reshape(-1)
    z = base.repeat(len(dims), len(values), 1)
    for row, dim in enumerate(dims):
        z[row, :, dim] = values
    return z


@dataclass
class Traversal:
    dims: list[int]  # latent dimension of each row, in display order
    values: Tensor  # (k,) the values each row sweeps
    decoded: Tensor  # (rows, k, *data_shape) in data space
    kl: Tensor | None  # (latent_dim,) per-dimension KL (VAE), for row labels


def traverse(model: LatentModel, base: Tensor, dims: Sequence[int], low: float = -3.0, high: float = 3.0,
             steps: int = 9, kl: Tensor | None = None) -> Traversal:
    """Decode one row per dimension in `dims` (one batch for all rows)."""
    values = traversal_values(low, high, steps)
    z = traversal_latents(base, dims, values)
    decoded = model.decode(z.reshape(-1, model.latent_dim))
    return Traversal(list(dims), values, decoded.reshape(len(dims), len(values), *decoded.shape[1:]), kl)


def factor_association(mu: Tensor, factors: Tensor, factor_names: Sequence[str]) -> Tensor:
    """(d, k) how strongly each latent dimension follows each ground-truth factor, in [0, 1].

    Continuous factors: |Pearson correlation| with the latent mean. "rotation" is an angle, so the
    larger of the correlations with its sine and cosine. "shape" is categorical: the correlation ratio
    η = sqrt(between-class variance / total variance) of the latent given the class.
    """
    mu = mu.double()
    out = torch.zeros(mu.shape[1], len(factor_names), dtype=torch.float64)

    def abs_corr(x: Tensor, y: Tensor) -> Tensor:  # x (N, d), y (N,) -> (d,)
        xc, yc = x - x.mean(0), y - y.mean()
        denom = xc.norm(dim=0) * yc.norm()
        return torch.where(denom > 0, (xc * yc[:, None]).sum(0).abs() / denom.clamp_min(1e-12), torch.zeros(()))

    for j, name in enumerate(factor_names):
        f = factors[:, j].double()
        if name == "rotation":
            out[:, j] = torch.maximum(abs_corr(mu, torch.sin(f)), abs_corr(mu, torch.cos(f)))
        elif name == "shape":
            total = ((mu - mu.mean(0)) ** 2).sum(0)
            between = torch.zeros(mu.shape[1], dtype=torch.float64)
            for value in torch.unique(f):
                group = mu[f == value]
                between += len(group) * (group.mean(0) - mu.mean(0)) ** 2
            out[:, j] = torch.where(total > 0, (between / total.clamp_min(1e-12)).sqrt(), torch.zeros(()))
        else:
            out[:, j] = abs_corr(mu, f)
    return out.float()


def describe_dims(kl: Tensor | None, association: Tensor | None, factor_names: Sequence[str],
                  dims: Sequence[int], min_kl: float = 0.05) -> list[str]:
    """A label per traversal row, e.g. "z3 · KL 2.41 · pos_x (0.93)"; an inactive dimension says so."""
    labels = []
    for dim in dims:
        parts = [f"z{dim}"]
        if kl is not None:
            parts.append(f"KL {float(kl[dim]):.2f}")
        if kl is not None and float(kl[dim]) < min_kl:
            parts.append("inactive (posterior ≈ prior)")
        elif association is not None and len(factor_names):
            best = int(torch.argmax(association[dim]))
            parts.append(f"{factor_names[best]} ({float(association[dim, best]):.2f})")
        labels.append(" · ".join(parts))
    return labels


# ------------------------------------------------------------------------------------------------
# manifold grid and PCA map
# ------------------------------------------------------------------------------------------------
def prior_quantile_values(n: int, low_q: float = 0.05, high_q: float = 0.95) -> Tensor:
    """n latent values evenly spaced in probability under N(0, 1): Φ⁻¹(linspace(low_q, high_q, n))."""
    if n < 2:
        raise ValueError(f"a grid needs at least 2 values per axis, got {n}")
    if not 0.0 < low_q < high_q < 1.0:
        raise ValueError(f"quantiles must satisfy 0 < low < high < 1, got {low_q}, {high_q}")
    p = torch.linspace(low_q, high_q, n, dtype=torch.float64)
    return torch.distributions.Normal(0.0, 1.0).icdf(p).float()


def manifold_latents(latent_dim: int, n: int, dims: tuple[int, int] = (0, 1), base: Tensor | None = None,
                     low_q: float = 0.05, high_q: float = 0.95) -> Tensor:
    """(n·n, d) latents on an n×n grid over prior quantiles of dims (x, y), the others at `base` (0).

    Row-major like an image: row 0 is the top (highest y), column 0 the left (lowest x).
    """
    dx, dy = dims
    if latent_dim < 2 or dx == dy or not (0 <= dx < latent_dim and 0 <= dy < latent_dim):
        raise ValueError(f"a manifold grid needs two different dimensions of a latent of size {latent_dim}, got {dims}")
    values = prior_quantile_values(n, low_q, high_q)
    base = torch.zeros(latent_dim) if base is None else torch.as_tensor(base, dtype=torch.float32).reshape(-1)
    z = base.repeat(n, n, 1)
    z[:, :, dx] = values[None, :]
    z[:, :, dy] = values.flip(0)[:, None]
    return z.reshape(n * n, latent_dim)


def manifold(model: LatentModel, n: int = 12, dims: tuple[int, int] = (0, 1), base: Tensor | None = None,
             low_q: float = 0.05, high_q: float = 0.95) -> Tensor:
    """(n·n, *data_shape) decoded manifold grid (see manifold_latents)."""
    return model.decode(manifold_latents(model.latent_dim, n, dims, base, low_q, high_q))


def pca_2d(x: Tensor) -> tuple[Tensor, Tensor]:
    """Project (N, d) rows on their first two principal components -> ((N, 2), explained variance ratio (2,)).

    Exact SVD of the centred data (N is a few thousand, d ≤ 512). Signs are fixed (each component's
    largest loading positive) so the map does not flip between runs. d = 1 gives a zero second axis.
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"PCA needs a (N ≥ 2, d) matrix, got shape {tuple(x.shape)}")
    centred = x - x.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    k = min(2, vh.shape[0])
    components = vh[:k]
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
    coords = centred @ components.T
    variance = s.pow(2)
    ratio = variance[:k] / variance.sum().clamp_min(1e-300)
    if k < 2:
        coords = torch.cat([coords, torch.zeros(len(x), 2 - k, dtype=coords.dtype)], dim=1)
        ratio = torch.cat([ratio, torch.zeros(2 - k, dtype=ratio.dtype)])
    return coords.float(), ratio.float()


# ------------------------------------------------------------------------------------------------
# pictures: uint8 frames, grids, PNG and GIF
# ------------------------------------------------------------------------------------------------
def to_uint8(images: Tensor | np.ndarray, upscale: int = 1) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> uint8 (N, H·s, W·s) for one channel or (N, H·s, W·s, 3)."""
    array = np.asarray(images.detach().cpu() if isinstance(images, Tensor) else images, dtype=np.float32)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, C, H, W) with 1 or 3 channels, got shape {array.shape}")
    out = np.round(np.clip(np.nan_to_num(array, nan=0.0), 0.0, 1.0) * 255.0).astype(np.uint8)
    out = out.transpose(0, 2, 3, 1)
    if upscale > 1:  # nearest-neighbour: small images stay crisp instead of being blurred by the browser
        out = out.repeat(upscale, axis=1).repeat(upscale, axis=2)
    return out[..., 0] if out.shape[-1] == 1 else out


def image_grid(images: Tensor | np.ndarray, nrow: int, upscale: int = 1, padding: int = 2) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one uint8 grid picture, `nrow` images per row, white padding."""
    from genlab import viz

    array = images.detach().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images)
    return viz.image_grid(array, nrow=nrow, padding=padding, upscale=upscale)


def points_picture(reference: Tensor | None, path: Tensor | None, current: Tensor | None, size: int = 256,
                   extent: float | None = None) -> np.ndarray:
    """uint8 (size, size, 3) picture for 2D data: data (grey), a decoded path (blue), the current point (red).

    The square view is centred at 0 and spans [-extent, extent] (default: the data's 99th percentile + 10%).
    """
    canvas = np.full((size, size, 3), 255, dtype=np.uint8)
    if extent is None:
        basis = reference if reference is not None and len(reference) else path
        extent = float(torch.quantile(basis.abs().reshape(-1), 0.99)) * 1.1 if basis is not None and len(basis) else 1.0
        extent = max(extent, 1e-3)

    def dots(xy: Tensor, colour: tuple[int, int, int], radius: int) -> None:
        xy = torch.as_tensor(xy, dtype=torch.float32).reshape(-1, 2)
        xy = xy[torch.isfinite(xy).all(dim=1)]
        cols = ((xy[:, 0] / extent + 1) / 2 * (size - 1)).round().long().numpy()
        rows = ((1 - (xy[:, 1] / extent + 1) / 2) * (size - 1)).round().long().numpy()  # y axis points up
        for dr in range(-radius, radius + 1):
            for dc in range(-radius, radius + 1):
                if dr * dr + dc * dc > radius * radius:
                    continue
                r, c = rows + dr, cols + dc
                keep = (r >= 0) & (r < size) & (c >= 0) & (c < size)
                canvas[r[keep], c[keep]] = colour

    if reference is not None:
        dots(reference, (190, 190, 190), 1)
    if path is not None:
        dots(path, (31, 119, 180), 1 if size < 200 else 2)
    if current is not None:
        dots(current, (214, 39, 40), max(3, size // 32))
    return canvas


def png_bytes(picture: np.ndarray, fast: bool = False) -> bytes:
    """uint8 (H, W) or (H, W, 3) -> PNG file content; `fast` trades size for speed (live frames)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG", compress_level=1 if fast else 6)
    return buffer.getvalue()


def gif_bytes(frames: Sequence[np.ndarray] | np.ndarray, duration_ms: int = 100, loop: int = 0,
              pingpong: bool = False) -> bytes:
    """An animated GIF of uint8 frames (T, H, W) or (T, H, W, 3); loops forever by default.

    `pingpong` plays the frames forward then backward (without repeating the two ends), so the loop has
    no jump. Grey frames use an exact 256-grey palette; colour frames are quantized by Pillow.
    """
    frames = [np.ascontiguousarray(f) for f in frames]
    if len(frames) < 1:
        raise ValueError("a GIF needs at least one frame")
    if any(f.dtype != np.uint8 for f in frames):
        raise ValueError("GIF frames must be uint8")
    if pingpong and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    images = [Image.fromarray(f).convert("L") if f.ndim == 2 else Image.fromarray(f).convert("RGB") for f in frames]
    if images[0].mode == "RGB":
        images = [im.quantize(colors=256, dither=Image.Dither.NONE) for im in images]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=int(duration_ms),
                   loop=int(loop), disposal=1, optimize=False)
    return buffer.getvalue()


def gif_frame_count(data: bytes) -> int:
    """Number of frames in a GIF (ValueError if it is not one)."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format != "GIF":
            raise ValueError(f"not a GIF (Pillow reads it as {image.format})")
        return int(getattr(image, "n_frames", 1))


def image_from_bytes(data: bytes, shape: Sequence[int], invert: bool = False) -> Tensor:
    """An uploaded picture (PNG, JPEG, ...) as a (C, H, W) float tensor in [0, 1] of the model's data shape.

    Converted to grey for one-channel models, resized (the whole picture, aspect not kept) to H×W.
    `invert` turns dark-on-light drawings into light-on-dark (MNIST-like sets are white on black).
    Raises ValueError with a readable message for anything that is not a reasonably sized image.
    """
    c, h, w = (int(s) for s in shape)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise ValueError(f"the image is too large ({image.width}×{image.height} pixels); "
                                 f"the limit is {MAX_UPLOAD_PIXELS:,} pixels")
            image = image.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.float32) / 255.0
    except ValueError:
        raise
    except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ValueError(f"not a readable image ({exc})") from None
    if invert:
        array = 1.0 - array
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if c == 1 else tensor.permute(2, 0, 1).contiguous()


# ------------------------------------------------------------------------------------------------
# everything about a run that does not change while the user explores it (computed once, cached)
# ------------------------------------------------------------------------------------------------
@dataclass
class Analysis:
    data: ExploreData | None  # None when the run's data set is not available here
    kl: Tensor | None  # (d,) per-dimension KL (VAE)
    order: list[int]  # traversal order: decreasing KL for a VAE, index order for a GAN
    association: Tensor | None  # (d, k) factor_association with the data's ground-truth factors
    pca: Tensor | None  # (N, 2) encoded data on its first two principal components (VAE)
    pca_ratio: Tensor | None  # (2,) explained variance ratio of those components


def analyse(model: LatentModel, data: ExploreData | None) -> Analysis:
    """Encode the exploration data once: KL per dimension, traversal order, factor association, PCA."""
    kl = model_kl(model, data)
    association = pca = ratio = None
    if model.has_encoder and data is not None:
        if data.factors is not None and len(data.factor_names):
            association = factor_association(data.mu, data.factors, data.factor_names)
        if len(data.mu) >= 2:
            pca, ratio = pca_2d(data.mu)
    return Analysis(data, kl, traversal_order(kl, model.latent_dim), association, pca, ratio)


# ------------------------------------------------------------------------------------------------
# plotly figures for 2D-point models and the latent map (plain dicts, like genlab.viz)
# ------------------------------------------------------------------------------------------------
FIG_HEIGHT = 420


def _fig(data: list[dict], layout: dict):
    from genlab.viz import LightFigure

    base = {"height": FIG_HEIGHT, "margin": {"l": 10, "r": 10, "t": 36, "b": 10},
            "legend": {"orientation": "h", "y": -0.12, "font": {"size": 10}}}
    base.update(layout)
    return LightFigure({"data": data, "layout": base})


def _xy_trace(xy: Tensor | np.ndarray, name: str, *, colour: str, size: float = 4, opacity: float = 1.0,
              mode: str = "markers", **extra: Any) -> dict:
    xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    trace = {"type": "scattergl" if len(xy) > 1000 else "scatter", "mode": mode, "x": xy[:, 0], "y": xy[:, 1],
             "name": name, "marker": {"size": size, "color": colour, "opacity": opacity}}
    if "lines" in mode:
        trace["line"] = {"color": colour, "width": 2}
    trace.update(extra)
    return trace


def _square_axes(title: str, uirevision: str) -> dict:
    return {"title": {"text": title, "font": {"size": 14}}, "uirevision": uirevision,
            "yaxis": {"scaleanchor": "x", "scaleratio": 1}}


def points_traversal_figure(reference: Tensor | None, traversal: Traversal, labels: Sequence[str],
                            uirevision: str = "trav"):
    """One decoded curve per traversed dimension over the 2D data (start marked by a small circle)."""
    from genlab.viz import PALETTE

    data = []
    if reference is not None:
        data.append(_xy_trace(reference, "data", colour="#bbbbbb", size=3, opacity=0.6, hoverinfo="skip"))
    values = traversal.values.numpy()
    for row, label in enumerate(labels):
        colour = PALETTE[row % len(PALETTE)]
        xy = traversal.decoded[row].reshape(-1, 2)
        data.append(_xy_trace(xy, label, colour=colour, size=6, mode="lines+markers",
                              text=[f"{label}: {v:+.2f}" for v in values], hoverinfo="text"))
    return _fig(data, _square_axes("Traversals: one curve per latent dimension", uirevision))


def points_manifold_figure(reference: Tensor | None, decoded: Tensor, n: int, uirevision: str = "manifold"):
    """Decoded n×n latent grid over the 2D data, coloured by the grid column (x) and sized by row (y)."""
    xy = decoded.reshape(-1, 2).numpy()
    column = np.tile(np.arange(n), n).astype(np.float32)
    data = []
    if reference is not None:
        data.append(_xy_trace(reference, "data", colour="#bbbbbb", size=3, opacity=0.6, hoverinfo="skip"))
    data.append({"type": "scatter", "mode": "markers", "x": xy[:, 0], "y": xy[:, 1], "name": "decoded grid",
                 "marker": {"size": 7, "color": column, "colorscale": "Viridis",
                            "colorbar": {"title": {"text": "z_x"}, "thickness": 10}}})
    return _fig(data, _square_axes("Decoded latent grid", uirevision))


def latent_map_figure(coords: Tensor, colour: np.ndarray | None, colour_name: str, categories: Sequence[str] = (),
                      hover: Sequence[str] | None = None, axis_titles: tuple[str, str] = ("PC 1", "PC 2"),
                      thumbnails: Sequence[tuple[float, float, str]] = (), thumb_size: float = 0.0,
                      uirevision: str = "map"):
    """Scatter of encoded data; one trace per category (legend) or one with a colour scale.

    Each trace carries `customdata` = the sample's index, so a selection can be mapped back to samples.
    `thumbnails` are (x, y, data-URI PNG) pictures drawn at their points (plotly hovers cannot show images).
    """
    from genlab.viz import PALETTE

    xy = np.asarray(coords, dtype=np.float32)
    index = np.arange(len(xy), dtype=np.int32)
    hover = list(hover) if hover is not None else [f"#{i}" for i in index]
    data = []
    if colour is not None and categories:
        codes = np.asarray(colour).astype(np.int64)
        for k, label in enumerate(categories):
            keep = codes == k
            if not keep.any():
                continue
            data.append({"type": "scatter", "mode": "markers", "x": xy[keep, 0], "y": xy[keep, 1], "name": label,
                         "customdata": index[keep], "text": [hover[i] for i in index[keep]], "hoverinfo": "text",
                         "marker": {"size": 6, "color": PALETTE[k % len(PALETTE)], "opacity": 0.8}})
    else:
        marker: dict[str, Any] = {"size": 6, "opacity": 0.8, "color": "#1f77b4"}
        if colour is not None:
            marker.update(color=np.asarray(colour, dtype=np.float32), colorscale="Viridis",
                          colorbar={"title": {"text": colour_name}, "thickness": 10})
        data.append({"type": "scatter", "mode": "markers", "x": xy[:, 0], "y": xy[:, 1], "name": "encoded data",
                     "customdata": index, "text": hover, "hoverinfo": "text", "marker": marker})
    layout = {"title": {"text": f"Encoded data (posterior means), coloured by {colour_name}", "font": {"size": 14}},
              "uirevision": uirevision, "hovermode": "closest", "dragmode": "lasso",
              "xaxis": {"title": {"text": axis_titles[0]}}, "yaxis": {"title": {"text": axis_titles[1]}}}
    if thumbnails:
        layout["images"] = [{"source": uri, "x": float(x), "y": float(y), "xref": "x", "yref": "y",
                             "sizex": thumb_size, "sizey": thumb_size, "xanchor": "center", "yanchor": "middle",
                             "layer": "above"} for x, y, uri in thumbnails]
    return _fig(data, layout)


def data_uri_png(picture: np.ndarray) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png_bytes(picture)).decode()
