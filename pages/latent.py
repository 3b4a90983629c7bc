"""Latent explorer: interpolate, traverse and map the latent space of a saved run.

Thin by design: widgets, caches and calls into genlab.latent. Each section is a fragment, so moving a
widget re-runs only that section, and the interpolation slider with its frame is a fragment inside that
one: a move re-runs just the slider and one image. The model is loaded once per run version
(st.cache_resource keyed by the run folder and its files' modification times); a move decodes one
latent only (the strip, the GIF and the grids are cached per setting).
"""
from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from genlab import latent
from genlab.runs import META_FILE, WEIGHTS_FILE, CheckpointError, RunInfo, list_runs
from pages.shared import checkpoint_root, use_app_navigation

use_app_navigation()

ss = st.session_state

EXPLORE_RUN_KEY = "explore_run"  # another page sets st.session_state["explore_run"] = run name to open it here
SHIPPED_FIRST = ("shapes-beta-vae", "fashion-vae", "fashion-gan", "ring-gan")  # default pick, in this order
FRAME_PX = 256  # on-screen size of the interpolated image (pixels repeated, not blurred)
STRIP_PX = 84  # size of one frame of the strip
GIF_PX = 160  # size of one GIF frame
GRID_PX = 56  # size of one image of the traversal and manifold grids
VIEWS = ("Interpolation", "Traversals", "Latent map")
METHOD_LABELS = {"linear": "linear (lerp)", "spherical": "spherical (slerp)"}
MNIST_LIKE = ("mnist", "fashion_mnist", "shapes")  # white on black: uploaded drawings are inverted by default


def upscale_for(pixels: int, target: int) -> int:
    return max(1, round(target / max(pixels, 1)))


def run_stamp(info: RunInfo) -> str:
    """Changes whenever the run folder is replaced or renamed: the cache key of everything below."""
    path = Path(info.path)
    parts = [str(path.resolve())]
    for fname in (META_FILE, WEIGHTS_FILE):
        try:
            stat = (path / fname).stat()
            parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
        except OSError:
            parts.append("-")
    return "|".join(parts)


# ------------------------------------------------------------------------------------------------
# caches: one model per run version, shared by all tabs; pictures per setting
# ------------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=6, show_spinner="Loading the run…")
def load_model(path: str, stamp: str) -> latent.LatentModel:
    model = latent.LatentModel.load(path)
    # Streamlit runs gc.collect() after every script run, fragments included (runner.postScriptGC). With
    # torch, plotly and pandas loaded that is ~400k objects: 0.1-0.6 s per slider move on 2 busy cores.
    # Moving what exists now (modules, this model) to the permanent generation keeps those runs' GC cheap.
    gc.collect()
    gc.freeze()
    return model


@st.cache_resource(max_entries=6, show_spinner="Encoding a sample of the data set…")
def load_analysis(path: str, stamp: str) -> latent.Analysis:
    model = load_model(path, stamp)
    wants_data = model.has_encoder or model.data_kind == "points"
    data = latent.explore_data(model.config) if wants_data else None
    return latent.analyse(model, data)


def reference_points(analysis: latent.Analysis) -> torch.Tensor | None:
    data = analysis.data
    return data.x[:1000] if data is not None and data.x.dim() == 2 else None


@st.cache_data(max_entries=16, show_spinner=False)
def encode_upload(_model: latent.LatentModel, stamp: str, content: bytes, invert: bool) -> np.ndarray:
    x = latent.image_from_bytes(content, _model.data_shape, invert=invert)
    return _model.encode(x[None])[0].numpy()


@st.cache_data(max_entries=32, show_spinner="Decoding the strip…")
def strip_assets(_model: latent.LatentModel, _analysis: latent.Analysis, stamp: str, a: np.ndarray, b: np.ndarray,
                 method: str, n: int) -> dict:
    """The N-frame strip (PNG), the animated GIF and the decoded path, for one set of endpoints."""
    path = latent.interpolation_path(torch.from_numpy(a), torch.from_numpy(b), n, method)
    decoded = _model.decode(path)
    if _model.data_kind == "images":
        h = decoded.shape[-1]
        strip = latent.image_grid(decoded, nrow=n, upscale=upscale_for(h, STRIP_PX))
        frames = latent.to_uint8(decoded, upscale=upscale_for(h, GIF_PX))
    else:
        reference = reference_points(_analysis)
        frames = np.stack([latent.points_picture(reference, decoded, decoded[i : i + 1], size=GIF_PX)
                           for i in range(n)])
        gap = np.full((GIF_PX, 4, 3), 255, dtype=np.uint8)  # white between frames
        strip = np.concatenate([part for frame in frames for part in (frame, gap)][:-1], axis=1)
    return {"strip_png": latent.png_bytes(strip), "gif": latent.gif_bytes(frames, duration_ms=120, pingpong=True),
            "decoded": decoded if _model.data_kind == "points" else None}


@st.cache_data(max_entries=32, show_spinner="Decoding traversals…")
def traversal_assets(_model: latent.LatentModel, _analysis: latent.Analysis, stamp: str, base: np.ndarray,
                     dims: tuple[int, ...], low: float, high: float, steps: int) -> dict:
    trav = latent.traverse(_model, torch.from_numpy(base), dims, low, high, steps, kl=_analysis.kl)
    names = _analysis.data.factor_names if _analysis.data is not None else ()
    labels = latent.describe_dims(_analysis.kl, _analysis.association, names, dims)
    if _model.data_kind == "images":
        flat = trav.decoded.reshape(-1, *trav.decoded.shape[2:])
        up = upscale_for(flat.shape[-1], GRID_PX)
        rows = [latent.png_bytes(latent.image_grid(trav.decoded[r], nrow=steps, upscale=up)) for r in range(len(dims))]
        grid = latent.png_bytes(latent.image_grid(flat, nrow=steps, upscale=up))
        return {"rows": rows, "grid_png": grid, "labels": labels, "traversal": None}
    flat_points = trav.decoded.reshape(-1, 2)
    grid = latent.png_bytes(latent.points_picture(reference_points(_analysis), flat_points, None, size=384))
    return {"rows": [], "grid_png": grid, "labels": labels, "traversal": trav}


@st.cache_data(max_entries=16, show_spinner="Decoding the latent grid…")
def manifold_assets(_model: latent.LatentModel, _analysis: latent.Analysis, stamp: str, n: int, dims: tuple[int, int],
                    low_q: float, high_q: float) -> dict:
    if _model.latent_dim == 1:  # a line over prior quantiles instead of a grid
        decoded = _model.decode(latent.prior_quantile_values(n, low_q, high_q)[:, None])
    else:
        decoded = latent.manifold(_model, n, dims, None, low_q, high_q)
    if _model.data_kind == "images":
        grid = latent.image_grid(decoded, nrow=n, upscale=upscale_for(decoded.shape[-1], GRID_PX))
        return {"png": latent.png_bytes(grid), "decoded": None}
    picture = latent.points_picture(reference_points(_analysis), decoded, None, size=384)
    return {"png": latent.png_bytes(picture), "decoded": decoded}


@st.cache_data(max_entries=8, show_spinner=False)
def thumbnails(_analysis: latent.Analysis, _coords: torch.Tensor, stamp: str, axes: tuple[str, str],
               count: int) -> list[tuple[float, float, str]]:
    """`count` data images as (x, y, data URI) at their map position (`axes` names the coordinates: the key)."""
    data, coords = _analysis.data, _coords
    pick = torch.randperm(len(coords), generator=torch.Generator().manual_seed(0))[:count]
    pictures = latent.to_uint8(data.x[pick])
    return [(float(coords[i, 0]), float(coords[i, 1]), latent.data_uri_png(p)) for i, p in zip(pick.tolist(), pictures)]


# ------------------------------------------------------------------------------------------------
# sections
# ------------------------------------------------------------------------------------------------
def endpoint_latents(model: latent.LatentModel, analysis: latent.Analysis, stamp: str):
    """Widgets for the two endpoints; returns (a, b) as numpy (d,) or None (with a message shown)."""
    data = analysis.data
    sources = ["Random seeds"]
    if model.has_encoder and data is not None and data.x.dim() == 4:
        sources.append("Dataset images")
    if model.has_encoder and model.data_kind == "images":
        sources.append("Uploaded images")
    if ss.get("latent.source") not in sources:
        ss["latent.source"] = sources[0]
    source = st.radio("Endpoints", sources, key="latent.source", horizontal=True,
                      help="Random seeds draw z ~ N(0, I); images are encoded to their posterior mean (VAE).")
    if source == "Random seeds":
        cols = st.columns(2)
        seed_a = cols[0].number_input("Seed A", 0, 2**31 - 1, key="latent.seed_a")
        seed_b = cols[1].number_input("Seed B", 0, 2**31 - 1, key="latent.seed_b")
        return tuple(latent.random_latent(model.latent_dim, seed).numpy() for seed in (seed_a, seed_b))
    if source == "Dataset images":
        n = len(data.x)
        for key in ("latent.index_a", "latent.index_b"):
            ss[key] = min(int(ss[key]), n - 1)
        cols = st.columns(2)
        ia = cols[0].number_input("Image A (index)", 0, n - 1, key="latent.index_a")
        ib = cols[1].number_input("Image B (index)", 0, n - 1, key="latent.index_b")
        up = upscale_for(data.x.shape[-1], STRIP_PX)
        for col, index in ((cols[0], ia), (cols[1], ib)):
            col.image(latent.to_uint8(data.x[index : index + 1], upscale=up)[0], caption=describe_sample(data, index),
                      output_format="PNG")
        return data.mu[ia].numpy(), data.mu[ib].numpy()
    # uploaded images
    ss.setdefault("latent.invert", model.config.data.name in MNIST_LIKE)
    cols = st.columns(2)
    files = [cols[0].file_uploader("Image A", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"], key="latent.upload_a"),
             cols[1].file_uploader("Image B", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"], key="latent.upload_b")]
    invert = st.checkbox("Invert (dark drawing on a light background)", key="latent.invert",
                         help="This data set is light on dark; invert dark-on-light pictures before encoding.")
    if any(f is None for f in files):
        st.info("Upload two pictures to interpolate between them.")
        return None
    try:
        return tuple(encode_upload(model, stamp, f.getvalue(), invert) for f in files)
    except ValueError as exc:
        st.error(f"Cannot use this picture: {exc}")
        return None


def describe_sample(data: latent.ExploreData, index: int) -> str:
    parts = [f"#{index}"]
    if data.labels is not None and data.class_names:
        parts.append(data.class_names[int(data.labels[index])])
    if data.factors is not None:
        parts += [f"{name} {float(v):.2f}" for name, v in zip(data.factor_names, data.factors[index])
                  if name != "shape"]
    return " · ".join(parts)


@st.fragment
def frame_view(model: latent.LatentModel, analysis: latent.Analysis, stamp: str, a: np.ndarray, b: np.ndarray,
               method: str, path: torch.Tensor | None) -> None:
    """The t slider and the frame it shows: a fragment of its own, so a move re-sends only these two."""
    t = st.slider("t (0 = A, 1 = B)", 0.0, 1.0, step=0.01, key="latent.t")
    # the one decode per slider move
    x = model.decode(latent.interpolate(torch.from_numpy(a), torch.from_numpy(b), float(t), method))
    if model.data_kind == "images":
        frame = latent.to_uint8(x, upscale=upscale_for(x.shape[-1], FRAME_PX))[0]
        st.image(latent.png_bytes(frame, fast=True), caption=f"decoded at t = {t:.2f}", output_format="PNG")
    else:  # a picture, not a plotly chart: the browser redraws it after every move (a chart costs ~0.5 s there)
        picture = latent.points_picture(reference_points(analysis), path, x, size=FRAME_PX)
        st.image(latent.png_bytes(picture, fast=True), output_format="PNG",
                 caption=f"decoded at t = {t:.2f}: ({float(x[0, 0]):.3f}, {float(x[0, 1]):.3f})")


@st.fragment
def interpolation_section(model: latent.LatentModel, analysis: latent.Analysis, stamp: str, run_name: str) -> None:
    ss.setdefault("latent.method", "spherical")
    ss.setdefault("latent.frames", 8)
    ss.setdefault("latent.t", 0.0)
    ss.setdefault("latent.seed_a", 0)
    ss.setdefault("latent.seed_b", 1)
    ss.setdefault("latent.index_a", 0)
    ss.setdefault("latent.index_b", 1)
    left, right = st.columns([3, 2])
    with left:
        ends = endpoint_latents(model, analysis, stamp)
        cols = st.columns(2)
        method = cols[0].radio("Path", latent.METHODS, key="latent.method", format_func=METHOD_LABELS.get,
                               help="slerp follows the sphere where Gaussian latents live; lerp cuts through it.")
        n = cols[1].slider("Frames in the strip", 3, 16, key="latent.frames")
    if ends is None:
        return
    a, b = ends
    assets = strip_assets(model, analysis, stamp, a, b, method, n)
    with right:
        frame_view(model, analysis, stamp, a, b, method, assets["decoded"])
    st.image(assets["strip_png"], caption=f"{n} frames from A to B ({METHOD_LABELS[method]})",
             output_format="PNG")
    cols = st.columns(3)
    cols[0].download_button("Download GIF", assets["gif"], file_name=f"{run_name}-interpolation.gif",
                            mime="image/gif", key="latent.gif", icon=":material/animation:", on_click="ignore")
    cols[1].download_button("Download strip (PNG)", assets["strip_png"], file_name=f"{run_name}-strip.png",
                            mime="image/png", key="latent.strip_png", on_click="ignore")


@st.fragment
def traversal_section(model: latent.LatentModel, analysis: latent.Analysis, stamp: str, run_name: str) -> None:
    d = model.latent_dim
    data = analysis.data
    bases = ["Prior mean (z = 0)", "Random seed"]
    if model.has_encoder and data is not None and data.mu is not None:
        bases.append("Dataset image")
    if ss.get("latent.trav.base") not in bases:  # a real image's code shows more than z = 0 (often a blur)
        ss["latent.trav.base"] = "Dataset image" if "Dataset image" in bases else "Random seed"
    ss.setdefault("latent.trav.range", (-3.0, 3.0))
    ss.setdefault("latent.trav.steps", 9)
    ss.setdefault("latent.trav.seed", 0)
    ss.setdefault("latent.trav.index", 0)
    max_rows = min(d, 64)
    if "latent.trav.rows" not in ss or ss["latent.trav.rows"] > max_rows:
        ss["latent.trav.rows"] = min(d, 10)

    cols = st.columns([2, 2, 1, 1])
    base_kind = cols[0].radio("Start from", bases, key="latent.trav.base")
    if base_kind == "Random seed":
        seed = cols[0].number_input("Seed", 0, 2**31 - 1, key="latent.trav.seed")
        base = latent.random_latent(d, seed).numpy()
    elif base_kind == "Dataset image":
        ss["latent.trav.index"] = min(int(ss["latent.trav.index"]), len(data.mu) - 1)
        index = cols[0].number_input("Image (index)", 0, len(data.mu) - 1, key="latent.trav.index")
        base = data.mu[index].numpy()
    else:
        base = np.zeros(d, dtype=np.float32)
    low, high = cols[1].slider("Range of each dimension", -5.0, 5.0, step=0.25, key="latent.trav.range",
                               help="The prior is N(0, 1): ±3 covers 99.7% of it.")
    steps = cols[2].slider("Steps", 3, 15, key="latent.trav.steps")
    rows = cols[3].slider("Dimensions", 1, max_rows, key="latent.trav.rows") if max_rows > 1 else 1
    if not low < high:
        st.warning("Pick a range with two different ends.")
        return
    dims = tuple(analysis.order[:rows])
    if model.has_encoder:
        source = "measured on the data" if data is not None else "from the run's last training step"
        st.caption(f"One row per latent dimension, most informative first (KL per dimension {source}). "
                   "A dimension with KL ≈ 0 is unused: its posterior equals the prior, so it changes nothing."
                   + (" Labels name the ground-truth factor each dimension follows most (|correlation|, η for shape)."
                      if analysis.association is not None else ""))
    else:
        st.caption("One row per latent dimension, in index order (a GAN has no KL to rank them by).")
    assets = traversal_assets(model, analysis, stamp, base, dims, float(low), float(high), int(steps))
    if model.data_kind == "images":
        for label, row in zip(assets["labels"], assets["rows"]):
            c = st.columns([1, 4], vertical_alignment="center")
            c[0].markdown(f"**{label}**")
            c[1].image(row, output_format="PNG")
    else:
        st.plotly_chart(latent.points_traversal_figure(reference_points(analysis), assets["traversal"],
                                                       assets["labels"], uirevision=f"trav-{stamp}"),
                        key="latent.trav_chart")
    st.download_button("Download traversals (PNG)", assets["grid_png"], file_name=f"{run_name}-traversals.png",
                       mime="image/png", key="latent.trav_png", on_click="ignore")
    if analysis.kl is not None:
        from genlab import viz

        st.plotly_chart(viz.kl_per_dim_figure({f"kl/dim_{i}": float(v) for i, v in enumerate(analysis.kl)},
                                              uirevision=f"kl-{stamp}"), key="latent.kl_chart")


@st.fragment
def map_section(model: latent.LatentModel, analysis: latent.Analysis, stamp: str, run_name: str) -> None:
    d = model.latent_dim
    st.subheader("Decoded latent grid")
    ss.setdefault("latent.grid.n", 10 if model.data_kind == "images" else 20)
    ss.setdefault("latent.grid.q", (0.05, 0.95))
    cols = st.columns(4)
    n = cols[0].slider("Grid size", 3, 24, key="latent.grid.n")
    q_low, q_high = cols[1].slider("Prior quantiles", 0.01, 0.99, step=0.01, key="latent.grid.q",
                                   help="The grid is evenly spaced in probability: z = Φ⁻¹(q) for q in this range.")
    dims = (0, 0)
    if d >= 2:
        order = analysis.order
        if ss.get("latent.grid.x") not in range(d) or ss.get("latent.grid.y") not in range(d) \
                or ss.get("latent.grid.stamp") != stamp:
            ss["latent.grid.x"], ss["latent.grid.y"] = (0, 1) if d == 2 else (order[0], order[1])
            ss["latent.grid.stamp"] = stamp
        dx = cols[2].selectbox("x: dimension", range(d), key="latent.grid.x", format_func=lambda i: f"z{i}")
        dy = cols[3].selectbox("y: dimension", range(d), key="latent.grid.y", format_func=lambda i: f"z{i}")
        dims = (int(dx), int(dy))
    if d >= 2 and dims[0] == dims[1]:
        st.warning("Pick two different dimensions.")
    elif q_low >= q_high:
        st.warning("Pick two different quantiles.")
    else:
        assets = manifold_assets(model, analysis, stamp, int(n), dims, float(q_low), float(q_high))
        if d == 1:
            st.caption("A 1-D latent: the decoded line over prior quantiles.")
        elif d == 2:
            st.caption(f"The whole 2-D latent space, decoded on a grid: z{dims[0]} grows to the right, "
                       f"z{dims[1]} upwards.")
        else:
            st.caption(f"A 2-D slice of the {d}-D latent space: z{dims[0]} grows to the right, z{dims[1]} upwards, "
                       "the other dimensions are 0.")
        if model.data_kind == "images":
            st.image(assets["png"], output_format="PNG")
        else:
            st.plotly_chart(latent.points_manifold_figure(reference_points(analysis), assets["decoded"], int(n),
                                                          uirevision=f"manifold-{stamp}"), key="latent.grid_chart")
        st.download_button("Download grid (PNG)", assets["png"], file_name=f"{run_name}-latent-grid.png",
                           mime="image/png", key="latent.grid_png", on_click="ignore")

    st.subheader("Encoded data")
    data = analysis.data
    if not model.has_encoder:
        st.info("A GAN has no encoder, so data cannot be placed in its latent space; the grid above maps it instead.")
        return
    if data is None or analysis.pca is None:
        st.info(f"The data set of this run ({model.config.data.name}) is not available here, "
                "so nothing can be encoded.")
        return
    colour_options = ["none"]
    if data.labels is not None and data.class_names:
        colour_options.insert(0, "label")
    colour_options[-1:-1] = list(data.factor_names)
    if ss.get("latent.map.colour") not in colour_options:
        ss["latent.map.colour"] = colour_options[0]
    cols = st.columns([2, 1])
    colour_by = cols[0].selectbox("Colour by", colour_options, key="latent.map.colour")
    show_thumbs = cols[1].checkbox("Show thumbnails", key="latent.map.thumbs", disabled=data.x.dim() != 4,
                                   help="Draw some of the images at their place on the map.")
    if d == 2:
        coords, axes = data.mu, ("z0", "z1")
    else:
        coords = analysis.pca
        ratio = analysis.pca_ratio
        axes = (f"PC 1 ({float(ratio[0]):.0%} of variance)", f"PC 2 ({float(ratio[1]):.0%})")
    colour, categories = None, ()
    if colour_by == "label":
        colour, categories = data.labels.numpy(), data.class_names
    elif colour_by == "shape" and data.class_names:
        colour, categories = data.factors[:, data.factor_names.index("shape")].numpy(), data.class_names
    elif colour_by != "none":
        colour = data.factors[:, data.factor_names.index(colour_by)].numpy()
    hover = [describe_sample(data, i) for i in range(len(coords))]
    thumbs, size = [], 0.0
    if show_thumbs and data.x.dim() == 4:
        thumbs = thumbnails(analysis, coords, stamp, axes, 40)
        span = float((coords.max(0).values - coords.min(0).values).max())
        size = span / 14
    figure = latent.latent_map_figure(coords, colour, colour_by, categories, hover, axes, thumbs, size,
                                      uirevision=f"map-{stamp}")
    event = st.plotly_chart(figure, key="latent.map_chart", on_select="rerun",
                            selection_mode=("points", "box", "lasso"))
    chosen = selected_indices(event, figure)
    if chosen and data.x.dim() == 4:
        shown = chosen[:48]
        up = upscale_for(data.x.shape[-1], 48)
        st.image(latent.image_grid(data.x[shown], nrow=min(12, len(shown)), upscale=up),
                 caption=f"{len(chosen)} selected" + (" (first 48 shown)" if len(chosen) > 48 else ""),
                 output_format="PNG")
    elif data.x.dim() == 4:
        st.caption("Hover a point for its label and factors; click or lasso points to see their images.")


def selected_indices(event, figure) -> list[int]:
    """Sample indices of the points selected on the map (via each trace's customdata)."""
    try:
        points = event.selection.points if event is not None else []
    except AttributeError:
        return []
    traces = figure.spec["data"]
    chosen = []
    for point in points or []:
        curve = point.get("curve_number", 0)
        index = point.get("point_index", point.get("point_number"))
        if index is None or not 0 <= curve < len(traces):
            continue
        custom = traces[curve].get("customdata")
        if custom is not None and 0 <= index < len(custom):
            chosen.append(int(custom[index]))
    return sorted(set(chosen))


# ------------------------------------------------------------------------------------------------
# page
# ------------------------------------------------------------------------------------------------
def run_label(info: RunInfo) -> str:
    return f"{info.name} — {info.family.upper()} on {info.dataset}, {info.steps:,} steps"


def page() -> None:
    """The page itself (the sections above are importable, e.g. by benchmarks/latent_bench.py)."""
    st.title("Latent explorer")
    root = checkpoint_root()
    runs = [info for info in list_runs(root) if info.ok]
    if not runs:
        st.info(f"No saved runs in `{root}` yet. Train a model and press **Save** on the Train page, "
                "or upload a run zip on the Runs page.")
        st.stop()

    by_name = {info.name: info for info in runs}
    requested = ss.pop(EXPLORE_RUN_KEY, None)
    if requested in by_name:
        ss["latent.run"] = requested
    elif ss.get("latent.run") not in by_name:
        ss["latent.run"] = next((n for n in SHIPPED_FIRST if n in by_name), runs[0].name)

    run_name = st.selectbox("Run", list(by_name), key="latent.run", format_func=lambda n: run_label(by_name[n]))
    info = by_name[run_name]
    stamp = run_stamp(info)
    try:
        model = load_model(str(info.path), stamp)
        analysis = load_analysis(str(info.path), stamp)
    except CheckpointError as exc:
        st.error(f"This run cannot be loaded: {exc}")
        st.stop()

    facts = [f"{model.family.upper()}", f"latent size {model.latent_dim}", f"data {model.config.data.name}"]
    if model.family == "vae":
        facts.append(f"β = {model.config.objective.beta:g}")
    if analysis.data is not None:
        facts.append(f"{len(analysis.data.x):,} data samples to explore with")
    elif model.has_encoder:
        facts.append("its data set is not available here: random endpoints only")
    st.caption(" · ".join(facts))

    # Only the chosen view is built (st.tabs would build and send all three on every run, and the browser
    # would re-render the hidden charts after each slider move).
    ss.setdefault("latent.view", VIEWS[0])
    view = st.segmented_control("View", VIEWS, key="latent.view", required=True, label_visibility="collapsed")
    if view == "Traversals":
        traversal_section(model, analysis, stamp, run_name)
    elif view == "Latent map":
        map_section(model, analysis, stamp, run_name)
    else:
        interpolation_section(model, analysis, stamp, run_name)


if __name__ == "__main__":  # Streamlit runs every page as __main__; an import only defines the functions
    page()
