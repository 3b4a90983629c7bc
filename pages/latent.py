"""Latent explorer: interpolate, traverse and map the latent space of a saved run.

Thin by design: widgets, caches and calls into genlab.latent (the pictures and bytes it shows come
from genlab.latent.explorer, the charts from genlab.viz). Each section is a fragment, so moving a
widget re-runs only that section, and the interpolation slider with its frame is a fragment inside that
one: a move re-runs just the slider and one image. The model is loaded once per run version
(st.cache_resource keyed by the run folder and its files' modification times); a move decodes one
latent only (the strip, the GIF and the grids are cached per setting).
"""
from __future__ import annotations

import gc

import numpy as np
import streamlit as st
import torch

from genlab import viz
from genlab.runs import CheckpointError, RunInfo, list_runs
from genlab.latent import explorer
from genlab.latent.analysis import Analysis, analyse_run
from genlab.latent.interpolation import METHODS, random_latent
from genlab.latent.model import LatentModel, run_stamp
from genlab.latent.uploads import UPLOAD_SUFFIXES
from pages.shared import checkpoint_root, use_app_navigation

use_app_navigation()

ss = st.session_state

EXPLORE_RUN_KEY = "explore_run"  # another page sets st.session_state["explore_run"] = run name to open it here
VIEWS = ("Interpolation", "Traversals", "Latent map")
METHOD_LABELS = {"linear": "linear (lerp)", "spherical": "spherical (slerp)"}


# ------------------------------------------------------------------------------------------------
# caches: one model per run version, shared by all tabs; pictures per setting
# ------------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=6, show_spinner="Loading the run…")
def load_model(path: str, stamp: str) -> LatentModel:
    model = LatentModel.load(path)
    # Streamlit runs gc.collect() after every script run, fragments included (runner.postScriptGC). With
    # torch, plotly and pandas loaded that is ~400k objects: 0.1-0.6 s per slider move on 2 busy cores.
    # Moving what exists now (modules, this model) to the permanent generation keeps those runs' GC cheap.
    gc.collect()
    gc.freeze()
    return model


@st.cache_resource(max_entries=6, show_spinner="Encoding a sample of the data set…")
def load_analysis(path: str, stamp: str) -> Analysis:
    return analyse_run(load_model(path, stamp))


@st.cache_data(max_entries=16, show_spinner=False)
def encode_upload(_model: LatentModel, stamp: str, content: bytes, invert: bool) -> np.ndarray:
    return explorer.encode_upload(_model, content, invert)


@st.cache_data(max_entries=32, show_spinner="Decoding the strip…")
def strip_assets(_model: LatentModel, _analysis: Analysis, stamp: str, a: np.ndarray, b: np.ndarray, method: str,
                 n: int) -> explorer.Strip:
    return explorer.interpolation_strip(_model, _analysis.reference, a, b, method, n)


@st.cache_data(max_entries=32, show_spinner="Decoding traversals…")
def traversal_assets(_model: LatentModel, _analysis: Analysis, stamp: str, base: np.ndarray, dims: tuple[int, ...],
                     low: float, high: float, steps: int) -> explorer.TraversalView:
    return explorer.traversal_view(_model, _analysis, base, dims, low, high, steps)


@st.cache_data(max_entries=16, show_spinner="Decoding the latent grid…")
def manifold_assets(_model: LatentModel, _analysis: Analysis, stamp: str, n: int, dims: tuple[int, int],
                    low_q: float, high_q: float) -> explorer.ManifoldView:
    return explorer.manifold_view(_model, _analysis.reference, n, dims, low_q, high_q)


@st.cache_data(max_entries=8, show_spinner=False)
def thumbnails(_analysis: Analysis, _coords: torch.Tensor, stamp: str, axes: tuple[str, str]):
    """Data images at their map position (`axes` names the coordinates: part of the key)."""
    return explorer.thumbnails(_analysis.data, _coords)


# ------------------------------------------------------------------------------------------------
# sections
# ------------------------------------------------------------------------------------------------
def endpoint_latents(model: LatentModel, analysis: Analysis, stamp: str):
    """Widgets for the two endpoints; returns (a, b) as numpy (d,) or None (with a message shown)."""
    data = analysis.data
    sources = ["Random seeds"]
    if model.has_encoder and data is not None and data.is_images:
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
        return tuple(random_latent(model.latent_dim, seed).numpy() for seed in (seed_a, seed_b))
    if source == "Dataset images":
        n = len(data.x)
        for key in ("latent.index_a", "latent.index_b"):
            ss[key] = min(int(ss[key]), n - 1)
        cols = st.columns(2)
        ia = cols[0].number_input("Image A (index)", 0, n - 1, key="latent.index_a")
        ib = cols[1].number_input("Image B (index)", 0, n - 1, key="latent.index_b")
        for col, index in ((cols[0], ia), (cols[1], ib)):
            col.image(explorer.data_picture(data, index), caption=data.describe(index), output_format="PNG")
        return data.mu[ia].numpy(), data.mu[ib].numpy()
    ss.setdefault("latent.invert", explorer.inverts_uploads(model.config))
    cols = st.columns(2)
    files = [cols[0].file_uploader("Image A", type=list(UPLOAD_SUFFIXES), key="latent.upload_a"),
             cols[1].file_uploader("Image B", type=list(UPLOAD_SUFFIXES), key="latent.upload_b")]
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


@st.fragment
def frame_view(model: LatentModel, analysis: Analysis, stamp: str, a: np.ndarray, b: np.ndarray, method: str,
               path: torch.Tensor | None) -> None:
    """The t slider and the frame it shows: a fragment of its own, so a move re-sends only these two.
    The frame is a picture even for 2D data: the browser redraws a chart after every move (~0.5 s)."""
    t = st.slider("t (0 = A, 1 = B)", 0.0, 1.0, step=0.01, key="latent.t")
    png, caption = explorer.frame_png(model, analysis.reference, path, a, b, t, method)
    st.image(png, caption=caption, output_format="PNG")


@st.fragment
def interpolation_section(model: LatentModel, analysis: Analysis, stamp: str, run_name: str) -> None:
    for key, value in (("latent.method", "spherical"), ("latent.frames", 8), ("latent.t", 0.0), ("latent.seed_a", 0),
                       ("latent.seed_b", 1), ("latent.index_a", 0), ("latent.index_b", 1)):
        ss.setdefault(key, value)
    left, right = st.columns([3, 2])
    with left:
        ends = endpoint_latents(model, analysis, stamp)
        cols = st.columns(2)
        method = cols[0].radio("Path", METHODS, key="latent.method", format_func=METHOD_LABELS.get,
                               help="slerp follows the sphere where Gaussian latents live; lerp cuts through it.")
        n = cols[1].slider("Frames in the strip", 3, 16, key="latent.frames")
    if ends is None:
        return
    a, b = ends
    strip = strip_assets(model, analysis, stamp, a, b, method, n)
    with right:
        frame_view(model, analysis, stamp, a, b, method, strip.decoded)
    st.image(strip.png, caption=f"{n} frames from A to B ({METHOD_LABELS[method]})", output_format="PNG")
    cols = st.columns(3)
    cols[0].download_button("Download GIF", strip.gif, file_name=f"{run_name}-interpolation.gif",
                            mime="image/gif", key="latent.gif", icon=":material/animation:", on_click="ignore")
    cols[1].download_button("Download strip (PNG)", strip.png, file_name=f"{run_name}-strip.png",
                            mime="image/png", key="latent.strip_png", on_click="ignore")


@st.fragment
def traversal_section(model: LatentModel, analysis: Analysis, stamp: str, run_name: str) -> None:
    d = model.latent_dim
    data = analysis.data
    bases = ["Prior mean (z = 0)", "Random seed"]
    if model.has_encoder and data is not None and data.mu is not None:
        bases.append("Dataset image")
    if ss.get("latent.trav.base") not in bases:  # a real image's code shows more than z = 0 (often a blur)
        ss["latent.trav.base"] = "Dataset image" if "Dataset image" in bases else "Random seed"
    for key, value in (("latent.trav.range", (-3.0, 3.0)), ("latent.trav.steps", 9), ("latent.trav.seed", 0),
                       ("latent.trav.index", 0)):
        ss.setdefault(key, value)
    max_rows = min(d, 64)
    if "latent.trav.rows" not in ss or ss["latent.trav.rows"] > max_rows:
        ss["latent.trav.rows"] = min(d, 10)

    cols = st.columns([2, 2, 1, 1])
    base_kind = cols[0].radio("Start from", bases, key="latent.trav.base")
    if base_kind == "Random seed":
        base = random_latent(d, cols[0].number_input("Seed", 0, 2**31 - 1, key="latent.trav.seed")).numpy()
    elif base_kind == "Dataset image":
        ss["latent.trav.index"] = min(int(ss["latent.trav.index"]), len(data.mu) - 1)
        base = data.mu[cols[0].number_input("Image (index)", 0, len(data.mu) - 1, key="latent.trav.index")].numpy()
    else:
        base = np.zeros(d, dtype=np.float32)
    low, high = cols[1].slider("Range of each dimension", -5.0, 5.0, step=0.25, key="latent.trav.range",
                               help="The prior is N(0, 1): ±3 covers 99.7% of it.")
    steps = cols[2].slider("Steps", 3, 15, key="latent.trav.steps")
    rows = cols[3].slider("Dimensions", 1, max_rows, key="latent.trav.rows") if max_rows > 1 else 1
    if not low < high:
        st.warning("Pick a range with two different ends.")
        return
    st.caption(explorer.traversal_caption(model, analysis))
    view = traversal_assets(model, analysis, stamp, base, tuple(analysis.order[:rows]), float(low), float(high),
                            int(steps))
    if model.data_kind == "images":
        for label, row in zip(view.labels, view.rows):
            c = st.columns([1, 4], vertical_alignment="center")
            c[0].markdown(f"**{label}**")
            c[1].image(row, output_format="PNG")
    else:
        st.plotly_chart(viz.points_traversal_figure(analysis.reference, view.traversal, view.labels,
                                                    uirevision=f"trav-{stamp}"), key="latent.trav_chart")
    st.download_button("Download traversals (PNG)", view.grid_png, file_name=f"{run_name}-traversals.png",
                       mime="image/png", key="latent.trav_png", on_click="ignore")
    if analysis.kl is not None:
        st.plotly_chart(viz.kl_per_dim_figure({f"kl/dim_{i}": float(v) for i, v in enumerate(analysis.kl)},
                                              uirevision=f"kl-{stamp}"), key="latent.kl_chart")


def grid_part(model: LatentModel, analysis: Analysis, stamp: str, run_name: str) -> None:
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
        if ss.get("latent.grid.x") not in range(d) or ss.get("latent.grid.y") not in range(d) \
                or ss.get("latent.grid.stamp") != stamp:
            ss["latent.grid.x"], ss["latent.grid.y"] = (0, 1) if d == 2 else tuple(analysis.order[:2])
            ss["latent.grid.stamp"] = stamp
        dx = cols[2].selectbox("x: dimension", range(d), key="latent.grid.x", format_func=lambda i: f"z{i}")
        dy = cols[3].selectbox("y: dimension", range(d), key="latent.grid.y", format_func=lambda i: f"z{i}")
        dims = (int(dx), int(dy))
    if d >= 2 and dims[0] == dims[1]:
        st.warning("Pick two different dimensions.")
        return
    if q_low >= q_high:
        st.warning("Pick two different quantiles.")
        return
    view = manifold_assets(model, analysis, stamp, int(n), dims, float(q_low), float(q_high))
    st.caption(explorer.grid_caption(d, dims))
    if model.data_kind == "images":
        st.image(view.png, output_format="PNG")
    else:
        st.plotly_chart(viz.points_manifold_figure(analysis.reference, view.decoded, int(n),
                                                   uirevision=f"manifold-{stamp}"), key="latent.grid_chart")
    st.download_button("Download grid (PNG)", view.png, file_name=f"{run_name}-latent-grid.png",
                       mime="image/png", key="latent.grid_png", on_click="ignore")


def encoded_part(model: LatentModel, analysis: Analysis, stamp: str) -> None:
    st.subheader("Encoded data")
    data = analysis.data
    if not model.has_encoder:
        st.info("A GAN has no encoder, so data cannot be placed in its latent space; the grid above maps it instead.")
        return
    if data is None or analysis.pca is None:
        st.info(f"The data set of this run ({model.config.data.name}) is not available here, "
                "so nothing can be encoded.")
        return
    options = explorer.colour_options(data)
    if ss.get("latent.map.colour") not in options:
        ss["latent.map.colour"] = options[0]
    cols = st.columns([2, 1])
    colour_by = cols[0].selectbox("Colour by", options, key="latent.map.colour")
    show_thumbs = cols[1].checkbox("Show thumbnails", key="latent.map.thumbs", disabled=not data.is_images,
                                   help="Draw some of the images at their place on the map.")
    coords, axes = explorer.map_coordinates(analysis, model.latent_dim)
    colour, categories = explorer.map_colours(data, colour_by)
    thumbs, size = thumbnails(analysis, coords, stamp, axes) if show_thumbs and data.is_images else ([], 0.0)
    hover = [data.describe(i) for i in range(len(coords))]
    figure = viz.latent_map_figure(coords, colour, colour_by, categories, hover, axes, thumbs, size,
                                   uirevision=f"map-{stamp}")
    event = st.plotly_chart(figure, key="latent.map_chart", on_select="rerun",
                            selection_mode=("points", "box", "lasso"))
    chosen = viz.selected_indices(selected_points(event), figure)
    if chosen and data.is_images:
        picture, caption = explorer.selection_picture(data, chosen)
        st.image(picture, caption=caption, output_format="PNG")
    elif data.is_images:
        st.caption("Hover a point for its label and factors; click or lasso points to see their images.")


def selected_points(event) -> list[dict]:
    """The points of a chart's selection event ([] when there is none)."""
    try:
        return list(event.selection.points or []) if event is not None else []
    except AttributeError:
        return []


@st.fragment
def map_section(model: LatentModel, analysis: Analysis, stamp: str, run_name: str) -> None:
    grid_part(model, analysis, stamp, run_name)
    encoded_part(model, analysis, stamp)


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
        ss["latent.run"] = explorer.default_run(list(by_name))

    run_name = st.selectbox("Run", list(by_name), key="latent.run", format_func=lambda n: run_label(by_name[n]))
    info = by_name[run_name]
    stamp = run_stamp(info.path)
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
