"""Draw your data: click or lasso points on a plane; they become a 2D data set to train a GAN on."""
from __future__ import annotations

import streamlit as st

from genlab.config import ConfigError
from genlab.data.drawn import drawn_samples
from genlab.drawing_codec import (
    DEFAULT_SPREAD, EXTENT, add_anchors, decode_anchors, encode_anchors, grid_nodes, remove_anchors,
)
from genlab.viz.drawing import drawing_figure
from genlab.viz.targets import selected_points
from pages.shared import use_app_navigation
from pages.train_handoff import DRAWING_KEY, switch_to_train

use_app_navigation()

ss = st.session_state
ANCHORS_KEY = "draw.anchors"  # the drawing: grid nodes, in the order drawn
UNDO_KEY = "draw.undo"  # earlier drawings, newest last
SWITCH_KEY = "draw.switch"
LINK_PARAM = "points"  # the query parameter that holds the drawing (genlab.data.drawn's text)
SPREAD_PARAM = "sigma"  # the query parameter that holds σ when it is not the default
SPREAD_RANGE = (0.02, 0.5)  # the σ slider's ends; it moves in steps of 0.01
UNDO_DEPTH = 50


def change_drawing(anchors: list[tuple[float, float]]) -> None:
    ss.setdefault(UNDO_KEY, []).append(ss.get(ANCHORS_KEY, []))
    del ss[UNDO_KEY][:-UNDO_DEPTH]
    ss[ANCHORS_KEY] = anchors


def on_select() -> None:
    """A click or lasso on the plane: its grid nodes join the drawing (or leave it, when erasing)."""
    try:
        picked = selected_points(ss["draw.chart"]["selection"]["points"] or [])
    except (KeyError, TypeError):
        return
    if not picked:
        return
    edit = remove_anchors if ss.get("draw.erase") else add_anchors
    change_drawing(edit(ss.get(ANCHORS_KEY, []), picked))


def undo() -> None:
    if ss.get(UNDO_KEY):
        ss[ANCHORS_KEY] = ss[UNDO_KEY].pop()


def clear() -> None:
    change_drawing([])


def train_on_it() -> None:
    ss[DRAWING_KEY] = (list(ss[ANCHORS_KEY]), float(ss["draw.spread"]))
    ss[SWITCH_KEY] = True


def restore_from_link() -> None:
    """On a first visit, the drawing a link carries (its `points` and `sigma` parameters)."""
    if ANCHORS_KEY in ss:
        return
    ss[ANCHORS_KEY] = []
    if LINK_PARAM in st.query_params:
        try:
            ss[ANCHORS_KEY] = decode_anchors(st.query_params[LINK_PARAM])
        except ConfigError as exc:
            st.warning(f"The link's drawing was not read: {exc}")
    if SPREAD_PARAM in st.query_params:
        text = st.query_params[SPREAD_PARAM]
        try:
            spread = round(float(text), 2)
        except ValueError:
            spread = float("nan")
        if SPREAD_RANGE[0] <= spread <= SPREAD_RANGE[1]:
            ss["draw.spread"] = spread
        else:
            st.warning(f"The link's σ ({text[:20]!r}) was not used: it must be a number from "
                       f"{SPREAD_RANGE[0]:g} to {SPREAD_RANGE[1]:g}; σ = {DEFAULT_SPREAD:g} instead.")


if ss.pop(SWITCH_KEY, False):
    switch_to_train()
restore_from_link()
st.title("Draw your data")
st.markdown("**Click** the plane to add a point. To fill a region, pick **Lasso Select** (or Box Select) in the "
            "chart's toolbar and drag around it; pick **Pan** again to go back to clicking. Each point spreads into a "
            "small Gaussian blob of width σ; the grey dots are the data set a GAN will learn. The address bar holds "
            "your drawing and its σ: copy it to share it.")
anchors = ss[ANCHORS_KEY]
controls = st.columns([2, 1, 1, 1, 2])
spread = controls[0].slider("Blob width σ", *SPREAD_RANGE, DEFAULT_SPREAD, 0.01, key="draw.spread")
controls[1].toggle("Erase", key="draw.erase", help="Clicks and lassos remove points instead of adding them.")
controls[2].button("Undo", key="draw.undo_button", on_click=undo, disabled=not ss.get(UNDO_KEY),
                   icon=":material/undo:")
controls[3].button("Clear", key="draw.clear", on_click=clear, disabled=not anchors, icon=":material/delete:")
controls[4].button("Train a GAN on it →", key="draw.train", on_click=train_on_it, disabled=not anchors,
                   type="primary", icon=":material/model_training:")

samples = drawn_samples(anchors, spread) if anchors else None
st.plotly_chart(drawing_figure(grid_nodes(), anchors, samples, EXTENT), key="draw.chart", on_select=on_select,
                selection_mode=("points", "lasso", "box"))
if anchors:
    st.query_params[LINK_PARAM] = encode_anchors(anchors)
elif LINK_PARAM in st.query_params:
    del st.query_params[LINK_PARAM]
if spread != DEFAULT_SPREAD:
    st.query_params[SPREAD_PARAM] = f"{spread:g}"
elif SPREAD_PARAM in st.query_params:
    del st.query_params[SPREAD_PARAM]
