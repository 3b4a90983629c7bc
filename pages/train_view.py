"""The Train page's live view: metrics and charts drawn from one runner snapshot.

A module of its own so that it is exactly what re-runs twice a second (as an st.fragment) and so the
refresh benchmark can run it alone. Reads the runner; never sends it commands.
"""
from __future__ import annotations

import math

import streamlit as st

from genlab import pictures, viz
from genlab.metrics.detectors import detect_for_config
from genlab.live import DIVERGED, ERROR, RUNNING
from pages.presentation import chart
from pages.shared import session_runner

ss = st.session_state
WINDOWS = ("all", "500", "2000", "10000")  # "Steps shown": the whole run, or the latest N steps


def fmt_window(value: str) -> str:
    return "all steps" if value == "all" else f"last {int(value):,}"


def fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"



QUALITY_METRICS = (  # (history key, label, format) shown as st.metric when the run reports them
    ("quality/modes_covered", "Modes covered (≥ N/4K samples each)", "{:.0f}"),
    ("quality/high_quality_fraction", "High-quality samples", "{:.0%}"),
    ("quality/reverse_kl", "Reverse KL to uniform (nats)", "{:.3f}"),
    ("quality/diversity", "Sample diversity", "{:.2f}"),
    ("quality/active_units", "Active latent units", "{:.0f}"),
    ("quality/kl_total", "KL (nats)", "{:.2f}"),
)


def latest(history, key: str) -> float | None:
    series = history.get(key)
    if series is None or not len(series[1]):
        return None
    return float(series[1][-1])


def show_quality(snap, history) -> None:
    """The run's latest cheap quality numbers, and the failure detectors' findings on its history."""
    shown = [(label, fmt, latest(history, key)) for key, label, fmt in QUALITY_METRICS]
    shown = [(label, fmt, value) for label, fmt, value in shown if value is not None]
    if shown:
        cols = st.columns(len(shown))
        total = latest(history, "quality/modes_total")
        for col, (label, fmt, value) in zip(cols, shown):
            text = fmt.format(value)
            if label.startswith("Modes covered") and total is not None:
                text += f" / {total:.0f}"
            col.metric(label, text)
    findings = detect_for_config(history, snap.config, diverged_term=snap.diverged_term or None)
    for finding in findings:
        if finding.kind == "divergence" and snap.state == DIVERGED:
            continue  # the runner's own message above already says which term and what helps
        text = f"**{finding.title}.** {finding.message}\n\n{finding.hint}"
        if finding.severity == "critical":
            st.error(text, icon=":material/error:")
        else:
            st.warning(text, icon=":material/warning:")
    if snap.last_metric_error:
        st.caption(f"Quality metrics could not be measured: {snap.last_metric_error}")


def live_view() -> None:
    runner = session_runner()
    # The view window lives in session state, so it survives refreshes. (Plotly's own drag-zoom
    # only lasts until the data changes: Streamlit 1.67 re-creates a chart whose figure changed.)
    choice = ss.get("view.window") or "all"  # None when the selected option is clicked again
    window = None if choice == "all" else int(choice)
    snap = runner.snapshot(want_scene=ss.get("view.scene", True), last_steps=window)
    cols = st.columns(5)
    cols[0].metric("Step", f"{snap.step:,}")
    cols[1].metric("Steps/s", f"{snap.steps_per_s:,.0f}" if snap.state == RUNNING else "–")
    cols[2].metric("Elapsed", fmt_seconds(snap.elapsed_s))
    slow = snap.slow_motion_steps_per_s and snap.state == RUNNING
    cols[3].metric("State", snap.state + (" (slow motion)" if slow else ""))
    cols[4].metric("Device", snap.device)
    if snap.state in (DIVERGED, ERROR):
        st.error(snap.message, icon=":material/warning:")
    refresh = ss.get("live.refresh", 0.5)
    if snap.state == RUNNING:
        st.caption(f"≈ {snap.steps_per_s * refresh:,.0f} steps between refreshes (every {refresh:g} s).")
    # detectors read the whole run (display view: ≤ DISPLAY_POINTS per series), not only the window shown
    show_quality(snap, snap.history if window is None else runner.snapshot().history)
    tag = f"{id(runner)}-{runner.run_id}"

    left, right = st.columns([1, 1.25])
    with left:
        if snap.data_kind == "points":
            if snap.scene is not None:
                chart(viz.scene_figure(snap.scene, show_field=ss.get("view.field", True),
                                                 uirevision=f"scene-{tag}"), key="chart.scene")
            elif snap.preview is not None:
                chart(viz.points_figure(None, snap.preview, uirevision=f"scene-{tag}"), key="chart.scene")
            opt = st.columns(2)
            opt[0].toggle("2D view (heatmap + points)", value=True, key="view.scene")
            if snap.family == "gan":
                opt[1].toggle("Generator's gradient field", value=True, key="view.field")
        elif snap.preview is not None:
            images = snap.preview
            width = images.shape[-1] * math.ceil(math.sqrt(len(images)))
            grid = pictures.image_grid(images, upscale=pictures.upscale_for(width, 384))
            st.image(grid, caption=f"Samples from fixed noise, step {snap.preview_step:,}")
    with right:
        opts = st.columns([1, 2])
        log_y = opts[0].toggle("Log scale", key="view.log")
        opts[1].segmented_control("Steps shown", WINDOWS, key="view.window", default="all", format_func=fmt_window,
                                  label_visibility="collapsed",
                                  help="Show the whole run or only the latest steps (at full resolution). "
                                       "Kept across refreshes; Pause to zoom and hover freely.")
        figure = viz.loss_figure(snap.history, log_y=log_y, uirevision=f"loss-{tag}-{log_y}-{window}")
        chart(figure, key="chart.loss")

    left, right = st.columns(2)
    with left:
        if snap.family == "gan":
            chart(viz.d_outputs_figure(snap.history, uirevision=f"d-{tag}-{window}"), key="chart.d")
        else:
            chart(viz.kl_per_dim_figure(snap.last, uirevision=f"kl-{tag}"), key="chart.kl")
    with right:
        which = st.segmented_control("Chart", ("Layer norms", "Gradient norms"), key="view.chart",
                                     default="Layer norms", label_visibility="collapsed")
        if which == "Gradient norms":
            chart(viz.grad_norms_figure(snap.history, uirevision=f"g-{tag}-{window}"), key="chart.grads")
        else:
            chart(viz.layer_norms_figure(snap.history, uirevision=f"w-{tag}-{window}"), key="chart.layers")
