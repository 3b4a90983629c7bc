"""Plotly figures and image grids for the live views; numpy in, figures out, no streamlit.

Each figure is refreshed about twice a second while a run trains, so the builders are written for
speed and small payloads (design notes §3):
- every trace has at most `MAX_TRACE_POINTS` points (the runner already sends block means; this
  module downsamples again if handed more) and arrays are float32/int32 numpy, which plotly ≥ 6
  encodes as compact base64;
- figures are built from plain dicts with plotly's validation off (the dicts are ours and fixed);
- `layout.uirevision` is fixed per chart, so a user's zoom/pan and hidden legend entries survive
  refreshes (a new value, e.g. after a Reset, starts fresh).
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

MAX_TRACE_POINTS = 2000
MAX_EMA_POINTS = 300  # a smooth curve needs fewer points than the raw one
EMA_SPAN_POINTS = 50  # smoothing of the EMA trace, in displayed points
HEIGHT = 300
MARGIN = {"l": 10, "r": 10, "t": 36, "b": 10}
REAL_COLOUR = "#1f77b4"
FAKE_COLOUR = "#d62728"
FIELD_COLOUR = "rgba(40, 40, 40, 0.75)"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")

History = Mapping[str, tuple[np.ndarray, np.ndarray]]


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
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


class LightFigure(go.Figure):
    """A plotly Figure that only carries a ready-made figure dict and hands it out as is.

    Building plotly's object tree for every trace, then deep-copying it back into a dict (what
    st.plotly_chart does with a normal Figure), cost ~20 ms per chart; even an empty Figure costs
    ~1-3 ms (it deep-copies its template). Too much at two refreshes a second while the training
    thread needs the GIL. The dicts come from this module, so they need no validation.
    `to_dict()` / `to_plotly_json()` return the spec, which is all st.plotly_chart and
    plotly.io.to_json use. Plotly's other Figure methods do not work on it: use `spec` to inspect
    it, or `to_figure()` for a regular, validated Figure.
    """

    def __init__(self, spec: dict):  # noqa: D107 - BaseFigure.__init__ deliberately not called
        object.__setattr__(self, "_spec", spec)

    @property
    def spec(self) -> dict:
        return self._spec

    def to_dict(self) -> dict:
        return self._spec

    def to_plotly_json(self) -> dict:
        return self._spec

    def to_json(self, *args, **kwargs) -> str:
        import plotly.io as pio

        return pio.to_json(self._spec, *args, **{"validate": False, **kwargs})

    def to_figure(self) -> go.Figure:
        return go.Figure(self._spec)

    def show(self, *args, **kwargs) -> None:
        self.to_figure().show(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LightFigure({len(self._spec.get('data', []))} traces)"


def _figure(data: list[dict], layout: dict) -> LightFigure:
    base = {
        "height": HEIGHT,
        "margin": MARGIN,
        "legend": {"orientation": "h", "y": -0.18, "font": {"size": 10}},
        "hovermode": "x unified",
    }
    base.update(layout)
    return LightFigure({"data": data, "layout": base})


def _line(x, y, name: str, colour: str | None = None, *, width: float = 1.5, opacity: float = 1.0,
          legendgroup: str | None = None, showlegend: bool = True, dash: str | None = None) -> dict:
    line = {"width": width}
    if colour:
        line["color"] = colour
    if dash:
        line["dash"] = dash
    trace = {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name, "line": line,
             "opacity": opacity, "showlegend": showlegend}
    if legendgroup:
        trace["legendgroup"] = legendgroup
    return trace


def _empty(title: str, note: str, uirevision: str) -> go.Figure:
    return _figure([], {"title": {"text": title, "font": {"size": 14}}, "uirevision": uirevision,
                        "annotations": [{"text": note, "showarrow": False, "xref": "paper", "yref": "paper",
                                         "x": 0.5, "y": 0.5}],
                        "xaxis": {"visible": False}, "yaxis": {"visible": False}})


def pick(history: History, prefixes: Sequence[str]) -> list[str]:
    """Metric names starting with any of `prefixes`, in a stable order."""
    return sorted(name for name in history if name.startswith(tuple(prefixes)))


# ------------------------------------------------------------------------------------------------
# curves
# ------------------------------------------------------------------------------------------------
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
) -> go.Figure:
    """One line per metric: the raw (block-mean) values faint, their EMA solid; ≤ 2k points each."""
    data: list[dict] = []
    for i, name in enumerate(names):
        if name not in history:
            continue
        steps, values = _xy(*history[name])
        if len(values) == 0:
            continue
        colour = PALETTE[i % len(PALETTE)]
        label = (labels or {}).get(name, name)
        if smooth and len(values) > 5:
            data.append(_line(steps, values, label, colour, width=1, opacity=0.3, legendgroup=name, showlegend=False))
            # EMA at the displayed points' resolution (span in points), then thinned for the payload
            e_steps, e_values = downsample(steps, ema(values), MAX_EMA_POINTS)
            data.append(_line(e_steps.astype(np.int32), e_values.astype(np.float32), label, colour, legendgroup=name))
        else:
            data.append(_line(steps, values, label, colour, legendgroup=name))
    if not data:
        return _empty(title, "no data yet: press Start or Step", uirevision)
    layout = {
        "title": {"text": title, "font": {"size": 14}},
        "uirevision": uirevision,
        "xaxis": {"title": {"text": "step"}},
        "yaxis": {"type": "log" if log_y else "linear", "title": {"text": y_title}},
    }
    return _figure(data, layout)


def loss_names(history: History) -> list[str]:
    """The loss terms worth a curve: every loss and penalty, without duplicates of each other
    (a GAN's "loss/total" = d + g means nothing; "loss/d_adv" equals "loss/d" while D has no penalty)."""
    names = pick(history, ("loss/", "penalty/"))
    gan = "loss/d" in history
    if gan:
        names = [n for n in names if n != "loss/total"]
        d_terms = ("penalty/gp", "penalty/r1", "penalty/r2", "penalty/l1_d", "penalty/l2_d")
        d_penalties = any(n in history for n in d_terms)
        g_penalties = any(n in history for n in ("penalty/l1_g", "penalty/l2_g"))
        names = [n for n in names if (n != "loss/d_adv" or d_penalties) and (n != "loss/g_adv" or g_penalties)]
    return names


def loss_figure(history: History, *, log_y: bool = False, uirevision: str = "loss") -> go.Figure:
    """Every loss and penalty term the trainer reports (log scale hides values ≤ 0)."""
    return curves_figure(history, loss_names(history), "Losses", log_y=log_y, uirevision=uirevision)


def d_outputs_figure(history: History, *, uirevision: str = "d_out") -> go.Figure:
    """D(x) on real data and D(G(z)) on generated data (probabilities for the standard GAN losses)."""
    return curves_figure(history, ["d/real", "d/fake"], "D(x) on real data and D(G(z)) on generated data",
                         uirevision=uirevision, labels={"d/real": "D(x)", "d/fake": "D(G(z))"})


def grad_norms_figure(history: History, *, log_y: bool = True, uirevision: str = "grads") -> go.Figure:
    """Gradient norm of each network per step (before clipping, if clipping is on)."""
    return curves_figure(history, pick(history, ("grad_norm/",)), "Gradient norms", log_y=log_y, uirevision=uirevision)


def layer_norms_figure(history: History, *, log_y: bool = False, uirevision: str = "layers") -> go.Figure:
    """Per-layer Frobenius norms ‖W‖_F (solid) and spectral norms σ_max(W) (dotted) over training."""
    data: list[dict] = []
    names = pick(history, ("weight_norm/",))
    for i, name in enumerate(names):
        layer = name[len("weight_norm/"):]
        colour = PALETTE[i % len(PALETTE)]
        steps, values = _xy(*history[name])
        data.append(_line(steps, values, f"‖W‖ {layer}", colour, legendgroup=layer))
        spectral = f"spectral_norm/{layer}"
        if spectral in history:
            s_steps, s_values = _xy(*history[spectral])
            data.append(_line(s_steps, s_values, f"σ {layer}", colour, dash="dot", legendgroup=layer))
    if not data:
        return _empty("Per-layer weight norms", "measured every few steps; no data yet", uirevision)
    layout = {
        "title": {"text": "Per-layer norms: ‖W‖_F solid, spectral σ_max dotted", "font": {"size": 14}},
        "uirevision": uirevision,
        "xaxis": {"title": {"text": "step"}},
        "yaxis": {"type": "log" if log_y else "linear"},
        "hovermode": "closest",
    }
    return _figure(data, layout)


def _dim_index(name: str) -> int:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else 0


def kl_per_dim_figure(last: Mapping[str, float], *, uirevision: str = "kl") -> go.Figure:
    """Bar per latent dimension: KL(q(z_i|x) ‖ N(0,1)) averaged over the last batch. Dimensions near
    0 nats are unused (collapsed to the prior); β trades these off against reconstruction."""
    names = sorted((n for n in last if n.startswith("kl/dim_")), key=_dim_index)
    if not names:
        return _empty("KL per latent dimension", "no data yet", uirevision)
    x = np.array([_dim_index(n) for n in names], dtype=np.int32)
    y = np.array([last[n] for n in names], dtype=np.float32)
    data = [{"type": "bar", "x": x, "y": y, "marker": {"color": REAL_COLOUR}, "name": "KL"}]
    layout = {"title": {"text": "KL per latent dimension (nats)", "font": {"size": 14}}, "uirevision": uirevision,
              "xaxis": {"title": {"text": "latent dimension"}, "dtick": 1}, "yaxis": {"rangemode": "tozero"},
              "hovermode": "closest", "showlegend": False}
    return _figure(data, layout)


# ------------------------------------------------------------------------------------------------
# 2D scene (GAN Lab style)
# ------------------------------------------------------------------------------------------------
def arrow_segments(xy: np.ndarray, uv: np.ndarray, length: float, head: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (NaN-separated x and y arrays) drawing an arrow from each point along uv.

    Arrows are scaled so the longest is `length`; the others keep their relative magnitude (with a
    square-root compression, so weak regions stay visible)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    if len(xy) == 0:
        return np.empty(0, np.float32), np.empty(0, np.float32)
    norms = np.linalg.norm(uv, axis=1)
    peak = norms.max() if np.isfinite(norms).all() and norms.max() > 0 else 1.0
    scale = np.sqrt(norms / peak) * length / np.maximum(norms, 1e-12)
    d = uv * scale[:, None]
    tip = xy + d
    # arrow head: two short strokes back from the tip, ±25° from the shaft
    cos, sin = math.cos(math.radians(25)), math.sin(math.radians(25))
    back = -d * head
    left = np.stack([back[:, 0] * cos - back[:, 1] * sin, back[:, 0] * sin + back[:, 1] * cos], 1)
    right = np.stack([back[:, 0] * cos + back[:, 1] * sin, -back[:, 0] * sin + back[:, 1] * cos], 1)
    nan = np.full((len(xy), 2), np.nan)
    # per arrow: tail, tip, NaN, tip+left, tip, tip+right, NaN
    pts = np.stack([xy, tip, nan, tip + left, tip, tip + right, nan], axis=1).reshape(-1, 2)
    return pts[:, 0].astype(np.float32), pts[:, 1].astype(np.float32)


def scene_figure(scene, *, show_field: bool = True, show_heat: bool = True, uirevision: str = "scene") -> go.Figure:
    """Real (blue) vs generated (red) points over the discriminator's heatmap, with arrows showing
    where the generator's loss pushes a generated sample at each place (−∇_x loss_G)."""
    x0, x1, y0, y1 = scene.extent
    data: list[dict] = []
    if show_heat and scene.heat is not None:
        probability = scene.heat_label == "D(x)"
        data.append({
            "type": "heatmap", "x": scene.grid_x, "y": scene.grid_y, "z": np.asarray(scene.heat, dtype=np.float32),
            "colorscale": "RdBu", "reversescale": True, "opacity": 0.55, "name": scene.heat_label, "zsmooth": "best",
            "zmin": 0.0 if probability else None, "zmax": 1.0 if probability else None,
            "zmid": None if probability else 0.0,
            "colorbar": {"title": {"text": scene.heat_label}, "thickness": 10, "len": 0.8},
            "hovertemplate": "x=%{x:.2f}<br>y=%{y:.2f}<br>" + scene.heat_label + "=%{z:.3f}<extra></extra>",
            "showlegend": False,
        })
    data.append({"type": "scatter", "mode": "markers", "x": scene.real[:, 0], "y": scene.real[:, 1], "name": "real",
                 "marker": {"size": 4, "color": REAL_COLOUR, "opacity": 0.7}})
    data.append({"type": "scatter", "mode": "markers", "x": scene.fake[:, 0], "y": scene.fake[:, 1],
                 "name": "generated", "marker": {"size": 4, "color": FAKE_COLOUR, "opacity": 0.8}})
    if show_field and scene.field_xy is not None and scene.field_uv is not None:
        cells = max(1, int(round(math.sqrt(len(scene.field_xy)))))
        length = 0.9 * (x1 - x0) / (cells + 1)
        ax, ay = arrow_segments(scene.field_xy, scene.field_uv, length)
        data.append({"type": "scatter", "mode": "lines", "x": ax, "y": ay, "name": "G's gradient field",
                     "line": {"width": 1, "color": FIELD_COLOUR}, "hoverinfo": "skip", "connectgaps": False})
    layout = {
        "title": {"text": f"Real vs generated, step {scene.step}", "font": {"size": 14}},
        "uirevision": uirevision,
        "xaxis": {"range": [x0, x1], "constrain": "domain", "zeroline": False},
        "yaxis": {"range": [y0, y1], "scaleanchor": "x", "scaleratio": 1, "zeroline": False},
        "hovermode": "closest",
        "height": 420,
    }
    return _figure(data, layout)


def points_figure(
    real: np.ndarray | None, fake: np.ndarray, *, title: str = "Samples", uirevision: str = "points"
) -> go.Figure:
    """Generated points (red) over real ones (blue), for 2D runs without a scene yet."""
    data = []
    if real is not None:
        data.append({"type": "scatter", "mode": "markers", "x": real[:, 0], "y": real[:, 1], "name": "real",
                     "marker": {"size": 4, "color": REAL_COLOUR, "opacity": 0.6}})
    data.append({"type": "scatter", "mode": "markers", "x": fake[:, 0], "y": fake[:, 1], "name": "generated",
                 "marker": {"size": 5, "color": FAKE_COLOUR}})
    layout = {"title": {"text": title, "font": {"size": 14}}, "uirevision": uirevision,
              "yaxis": {"scaleanchor": "x", "scaleratio": 1}, "hovermode": "closest", "height": 420}
    return _figure(data, layout)


# ------------------------------------------------------------------------------------------------
# images
# ------------------------------------------------------------------------------------------------
def image_grid(images: np.ndarray, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0,
               upscale: int = 1) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> uint8 (H', W') (one channel) or (H', W', 3) grid, vectorized.

    `upscale` repeats pixels so small images (28 px) are not blurred by the browser's scaling."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {images.shape}")
    n, c, h, w = images.shape
    if c not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {c}")
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    full = np.full((rows * nrow, c, h + padding, w + padding), pad_value, dtype=np.float32)
    full[:n, :, :h, :w] = np.clip(np.nan_to_num(images, nan=0.0), 0.0, 1.0)
    grid = full.reshape(rows, nrow, c, h + padding, w + padding).transpose(0, 3, 1, 4, 2)
    grid = grid.reshape(rows * (h + padding), nrow * (w + padding), c)
    grid = np.pad(grid, ((padding, 0), (padding, 0), (0, 0)), constant_values=pad_value)
    if upscale > 1:
        grid = grid.repeat(upscale, axis=0).repeat(upscale, axis=1)
    out = np.round(grid * 255.0).astype(np.uint8)
    return out[:, :, 0] if c == 1 else out
