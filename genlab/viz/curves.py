"""Training curves: losses and penalties, D's outputs, gradient norms, per-layer norms, KL per dimension.

History: metric name -> (steps, values) numpy arrays, as the runner's snapshot and a saved run's metrics
give them. Every trace has at most `MAX_TRACE_POINTS` points (the runner already sends block means;
this module downsamples again if handed more), with an EMA trace over the faint raw one.
"""
from __future__ import annotations

import math
import re
from typing import Collection, Iterable, Mapping, Sequence

import numpy as np

from genlab.viz.figures import PALETTE, REAL_COLOUR, LightFigure, empty, figure, heading, line

MAX_TRACE_POINTS = 2000
MAX_EMA_POINTS = 300  # a smooth curve needs fewer points than the raw one
EMA_SPAN_POINTS = 50  # smoothing of the EMA trace, in displayed points

History = Mapping[str, tuple[np.ndarray, np.ndarray]]


def downsample(
    steps: np.ndarray, values: np.ndarray, max_points: int = MAX_TRACE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` (step, value) pairs: block means of consecutive points (last step of each block)."""
    n = len(values)
    if n <= max_points:
        return np.asarray(steps), np.asarray(values)
    block = math.ceil(n / max_points)
    usable = n - n % block
    means = np.asarray(values[:usable], dtype=np.float64).reshape(-1, block).mean(axis=1)
    ends = np.asarray(steps[:usable]).reshape(-1, block)[:, -1]
    if usable < n:
        means = np.append(means, np.mean(values[usable:]))
        ends = np.append(ends, steps[-1])
    return ends, means


def ema(values: np.ndarray, span: float = EMA_SPAN_POINTS) -> np.ndarray:
    """Exponential moving average with weights (1-α)^k, α = 2/(span+1), truncated after ~6 spans
    and normalized by the weights present (so the first points are not pulled towards 0)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        return values
    alpha = 2.0 / (span + 1.0)
    kernel = (1.0 - alpha) ** np.arange(min(n, int(6 * span) + 1))
    smoothed = np.convolve(values, kernel)[:n]
    weights = np.convolve(np.ones(n), kernel)[:n]
    return smoothed / weights


def _xy(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps, values = downsample(steps, values)
    # no copies when the runner already sent int32 / float32 (it does)
    return np.asarray(steps).astype(np.int32, copy=False), np.asarray(values).astype(np.float32, copy=False)


def pick(history: History, prefixes: Sequence[str]) -> list[str]:
    """Metric names starting with any of `prefixes`, in a stable order."""
    return sorted(name for name in history if name.startswith(tuple(prefixes)))


def curves_figure(
    history: History,
    names: Iterable[str],
    title: str,
    *,
    log_y: bool = False,
    smooth: bool = True,
    uirevision: str = "curves",
    y_title: str = "",
    labels: Mapping[str, str] | None = None,
    right_axis: Collection[str] = (),
    right_title: str = "",
) -> LightFigure:
    """One line per metric: the raw (block-mean) values faint, their EMA solid; ≤ 2k points each.

    Metrics in `right_axis` are drawn against a second y axis on the right (titled `right_title`), so
    that a small term stays readable beside a large one (a VAE's KL of a few nats beside a
    reconstruction loss of hundreds)."""
    data: list[dict] = []
    right_colour = None
    for i, name in enumerate(names):
        if name not in history:
            continue
        steps, values = _xy(*history[name])
        if len(values) == 0:
            continue
        colour = PALETTE[i % len(PALETTE)]
        label = (labels or {}).get(name, name)
        axis = {}
        if name in right_axis:
            label, axis, right_colour = f"{label} (right axis)", {"yaxis": "y2"}, right_colour or colour
        if smooth and len(values) > 5:
            data.append({**line(steps, values, label, colour, width=1, opacity=0.3, legendgroup=name,
                                showlegend=False), **axis})
            # EMA at the displayed points' resolution (span in points), then thinned for the payload
            e_steps, e_values = downsample(steps, ema(values), MAX_EMA_POINTS)
            data.append({**line(e_steps.astype(np.int32), e_values.astype(np.float32), label, colour,
                                legendgroup=name), **axis})
        else:
            data.append({**line(steps, values, label, colour, legendgroup=name), **axis})
    if not data:
        return empty(title, "no data yet: press Start or Step", uirevision)
    scale = "log" if log_y else "linear"
    layout = {
        "title": heading(title),
        "uirevision": uirevision,
        "xaxis": {"title": {"text": "step"}},
        "yaxis": {"type": scale, "title": {"text": y_title}},
    }
    if right_colour is not None:
        layout["yaxis2"] = {"type": scale, "overlaying": "y", "side": "right", "showgrid": False,
                            "title": {"text": right_title, "font": {"color": right_colour}},
                            "tickfont": {"color": right_colour}}
    return figure(data, layout)


def loss_names(history: History) -> list[str]:
    """The loss terms worth a curve: every loss and penalty, without duplicates of each other
    (a GAN's "loss/total" = d + g means nothing; "loss/d_adv" equals "loss/d" while D has no penalty)."""
    names = pick(history, ("loss/", "penalty/"))
    if "loss/d" in history:
        names = [n for n in names if n != "loss/total"]
        names = [n for n in names if n not in ("loss/d_adv", "loss/g_adv") or _differs(history, n, n[:-len("_adv")])]
    return names


def _differs(history: History, a: str, b: str) -> bool:
    """Whether two metrics ever differ (a network's loss without and with its penalties)."""
    if b not in history:
        return True
    first, second = np.asarray(history[a][1]), np.asarray(history[b][1])
    return first.shape != second.shape or not np.array_equal(first, second, equal_nan=True)


def loss_figure(history: History, *, log_y: bool = False, uirevision: str = "loss") -> LightFigure:
    """Every loss and penalty term the trainer reports (log scale hides values ≤ 0). A VAE's KL has an
    axis of its own on the right: a few nats would be a flat line at the bottom of an axis that also
    holds a reconstruction loss of hundreds."""
    if "loss/kl" in history and "loss/recon" in history:
        return curves_figure(history, loss_names(history), "Losses (KL on the right axis)", log_y=log_y,
                             uirevision=uirevision, y_title="nats", right_axis=("loss/kl",),
                             right_title="KL (nats)")
    return curves_figure(history, loss_names(history), "Losses", log_y=log_y, uirevision=uirevision)


def d_outputs_figure(history: History, *, uirevision: str = "d_out") -> LightFigure:
    """D(x) on real data and D(G(z)) on generated data (probabilities for the standard GAN losses)."""
    return curves_figure(history, ["d/real", "d/fake"], "D(x) on real data and D(G(z)) on generated data",
                         uirevision=uirevision, labels={"d/real": "D(x)", "d/fake": "D(G(z))"})


OVERFITTING_LABELS = {"d/acc_train": "D accuracy, training images", "d/acc_heldout": "D accuracy, held-out images",
                      "d/r_t": "r_t = E[sign D(x_real)]", "d/augment_p": "ADA p"}


def overfitting_figure(history: History, *, uirevision: str = "overfit") -> LightFigure:
    """D's accuracy on a fixed batch of training and one of held-out real images (a growing gap: D
    memorizes the training set), with ADA's r_t and augmentation probability p when ADA is on."""
    return curves_figure(history, list(OVERFITTING_LABELS), "Overfitting: D on training vs held-out images",
                         uirevision=uirevision, labels=OVERFITTING_LABELS)


def grad_norms_figure(history: History, *, log_y: bool = True, uirevision: str = "grads") -> LightFigure:
    """Gradient norm of each network on the steps that read it (the first and every
    GRADIENT_NORM_EVERY-th; every step with clipping on, before clipping)."""
    return curves_figure(history, pick(history, ("grad_norm/",)), "Gradient norms", log_y=log_y, uirevision=uirevision)


def layer_norms_figure(history: History, *, log_y: bool = False, uirevision: str = "layers") -> LightFigure:
    """Per-layer norms over training: Frobenius ‖W‖_F (solid), σ_max of the kernel reshaped to a matrix
    (dotted; what spectral normalization divides by) and, for convolutions, the layer's operator norm
    (dashed; how much the layer can stretch its input: up to ⌈k/s⌉ times the reshaped kernel's σ)."""
    data: list[dict] = []
    names = pick(history, ("weight_norm/",))
    for i, name in enumerate(names):
        layer = name[len("weight_norm/"):]
        colour = PALETTE[i % len(PALETTE)]
        steps, values = _xy(*history[name])
        data.append(line(steps, values, f"‖W‖ {layer}", colour, legendgroup=layer))
        spectral = f"spectral_norm/{layer}"
        if spectral in history:
            s_steps, s_values = _xy(*history[spectral])
            data.append(line(s_steps, s_values, f"σ kernel {layer}", colour, dash="dot", legendgroup=layer))
        operator = f"operator_norm/{layer}"
        if operator in history and (spectral not in history or not _same_values(history[operator], history[spectral])):
            o_steps, o_values = _xy(*history[operator])
            data.append(line(o_steps, o_values, f"‖layer‖ {layer}", colour, dash="dash", legendgroup=layer))
    if not data:
        return empty("Per-layer weight norms", "measured every few steps; no data yet", uirevision)
    layout = {
        "title": heading("Per-layer norms: ‖W‖_F solid, σ of reshaped kernel dotted, conv operator norm dashed"),
        "uirevision": uirevision,
        "xaxis": {"title": {"text": "step"}},
        "yaxis": {"type": "log" if log_y else "linear"},
        "hovermode": "closest",
    }
    return figure(data, layout)


def _same_values(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """Linear layers report one number as both norms: draw it once."""
    return len(a[1]) == len(b[1]) and bool(np.allclose(a[1], b[1]))


def _dim_index(name: str) -> int:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else 0


def kl_per_dim_figure(last: Mapping[str, float], *, uirevision: str = "kl") -> LightFigure:
    """Bar per latent dimension: KL(q(z_i|x) ‖ N(0,1)) averaged over the batches of the last
    stats_every steps (the trainer's "kl/dim_<i>"), or over whatever data the caller measured. Dimensions near
    0 nats are unused (collapsed to the prior); β trades these off against reconstruction."""
    names = sorted((n for n in last if n.startswith("kl/dim_")), key=_dim_index)
    if not names:
        return empty("KL per latent dimension", "no data yet", uirevision)
    x = np.array([_dim_index(n) for n in names], dtype=np.int32)
    y = np.array([last[n] for n in names], dtype=np.float32)
    data = [{"type": "bar", "x": x, "y": y, "marker": {"color": REAL_COLOUR}, "name": "KL"}]
    layout = {"title": heading("KL per latent dimension (nats)"), "uirevision": uirevision,
              "xaxis": {"title": {"text": "latent dimension"}, "dtick": 1}, "yaxis": {"rangemode": "tozero"},
              "hovermode": "closest", "showlegend": False}
    return figure(data, layout)
