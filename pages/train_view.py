"""The Train page's live view: metrics and charts drawn from one runner snapshot.

A module of its own so that it is exactly what re-runs twice a second (as an st.fragment) and so the
refresh benchmark can run it alone. Reads the runner; never sends it commands.

While the run trains, every chart is sent as a picture (genlab.viz.raster), redrawn only when its
figure changed and no more often than its drawing cost allows (genlab.viz.live_pictures): a browser
re-creates a plotly chart from scratch on every data change, which kept a laptop's main thread
saturated (issue 16; benchmarks/browser_cost.py). Paused or stopped, the same figures become interactive
plotly charts (hover, zoom) when the "Interactive charts" toggle is on: off by default, because drawing
them took the ring GAN's "paused" a second to show and kept a paused tab's main thread busy. Pictures are inline data: URIs, never files
in Streamlit's media store, so an image the page shows cannot be gone when the browser asks for it.
"""
from __future__ import annotations

import math

import streamlit as st

from genlab import pictures, viz
from genlab.viz.figures import SQUARE_HEIGHT
from genlab.viz.presentation import presentation
from genlab.metrics.detectors import detect_for_config
from genlab.trainers import GRADIENT_NORM_EVERY
from genlab.trainers.schedule import learning_rate_note
from genlab.live import DIVERGED, ERROR, RUNNING
from pages.presentation import presenting
from pages.shared import session_runner
from pages.train_share import current_lesson

ss = st.session_state
WINDOWS = ("all", "500", "2000", "10000")  # "Steps shown": the whole run, or the latest N steps
SCENE_WIDTH = SQUARE_HEIGHT + 60  # the 2D scene's picture: its square plot and D's colour bar
NARROW_COLUMNS = 4  # quality-table columns beside a lesson
SAMPLES_WIDTH = 384  # pixels the sample grid is scaled towards (whole-number factors)


def fmt_window(value: str) -> str:
    return "all steps" if value == "all" else f"last {int(value):,}"


def fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"



QUALITY_METRICS = (  # (history key, label, format) in the quality table when the run reports them
    ("quality/modes_covered", "Modes covered (≥ N/4K samples each)", "{:.0f}"),
    ("quality/high_quality_fraction", "High-quality samples", "{:.0%}"),
    ("quality/reverse_kl", "Reverse KL to uniform (nats)", "{:.3f}"),
    ("quality/grid_kl", "KL(real ‖ generated), grid (nats)", "{:.2f}"),
    ("quality/grid_js", "JS, grid (nats, ≤ 0.693)", "{:.3f}"),
    ("quality/precision", "Precision (k = 3)", "{:.0%}"),
    ("quality/recall", "Recall (k = 3)", "{:.0%}"),
    ("quality/nearest_real", "Median distance to the nearest real point", "{:.3f}"),
    ("quality/diversity", "Sample diversity", "{:.2f}"),
    ("quality/active_units", "Active latent units", "{:.0f}"),
    ("quality/kl_total", "KL (nats)", "{:.2f}"),
    ("d/augment_p", "ADA p", "{:.3f}"),
    ("d/r_t", "r_t (ADA)", "{:.2f}"),
    ("d/acc_train", "D acc. train", "{:.0%}"),
    ("d/acc_heldout", "D acc. held-out", "{:.0%}"),
)


def chart(figure, key: str, running: bool, width: int = viz.PICTURE_WIDTH, lossy: bool = False) -> None:
    """`figure` as a picture while the run trains or interactive charts are off, else as an interactive
    plotly chart; restyled for a projector in presentation mode. Pictures of a `running` run are redrawn
    at most as often as their drawing cost allows; otherwise at once."""
    figure = presentation(figure) if presenting() else figure
    if running or not ss.get("view.interactive", False):
        uri = ss.setdefault("view.pictures", viz.FigurePictures()).data_uri(key, figure, width, lossy, hold=running)
        st.image(uri, width="stretch" if width == viz.PICTURE_WIDTH else "content")
    else:
        st.plotly_chart(figure, key=key)


def samples_picture(snap) -> str:
    """The preview's image grid as a data: URI, kept until the preview changes."""
    kept = ss.get("view.samples")
    if kept is None or kept[0] != (id(snap.preview), snap.preview_step):
        images = snap.preview
        width = images.shape[-1] * math.ceil(math.sqrt(len(images)))
        grid = pictures.image_grid(images, upscale=pictures.upscale_for(width, SAMPLES_WIDTH))
        kept = ((id(snap.preview), snap.preview_step), pictures.data_uri_png(grid, fast=True))
        ss["view.samples"] = kept
    return kept[1]


def latest(history, key: str) -> float | None:
    series = history.get(key)
    if series is None or not len(series[1]):
        return None
    return float(series[1][-1])


def quality_row(history, per_row: int = len(QUALITY_METRICS)) -> str:
    """The run's latest cheap quality numbers as markdown tables of at most `per_row` columns (labels over
    values; "" when it has none yet). One element, not a st.metric each: eight metrics re-rendered twice a
    second took about 7 % of a laptop's main thread (benchmarks/browser_cost.py), a table a fraction."""
    shown = []
    total = latest(history, "quality/modes_total")
    for key, label, fmt in QUALITY_METRICS:
        value = latest(history, key)
        if value is None:
            continue
        text = fmt.format(value)
        if key == "quality/modes_covered" and total is not None:
            text += f" / {total:.0f}"
        shown.append((label, text))
    if not shown:
        return ""
    tables = []
    for start in range(0, len(shown), per_row):
        labels, values = zip(*shown[start : start + per_row])
        tables.append("| " + " | ".join(labels) + " |\n|" + ":---:|" * len(labels) + "\n| " + " | ".join(values) + " |")
    return "\n\n".join(tables)


def show_quality(snap, history, narrow: bool = False) -> None:
    """The run's latest cheap quality numbers, and the failure detectors' findings on its history.
    `narrow`: the view shares the page with a lesson (eight columns overflowed onto its text at 1280 px)."""
    row = quality_row(history, NARROW_COLUMNS if narrow else len(QUALITY_METRICS))
    if row:
        st.markdown(row)
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


def view_options(runner) -> None:
    """How the live view draws (not what the run does): outside the live fragment, so that its twice-a-second
    re-runs do not redraw these widgets too (a widget costs the browser more to re-render than a picture
    that did not change: benchmarks/browser_cost.py). A change re-runs the page, which redraws the view."""
    points, gan = runner.data_kind == "points", runner.config.model.family == "gan"
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")  # wraps on a narrow screen
    if points:
        row.toggle("2D view", value=True, key="view.scene", help="D's heatmap under the real and generated points.")
        if gan:
            row.toggle("G's gradient field", value=True, key="view.field",
                       help="Arrows: where the generator's loss pushes each generated point.")
    row.toggle("Log scale", key="view.log", help="Loss curves on a logarithmic axis.")
    row.toggle("Interactive charts", key="view.interactive",
               help="While paused or stopped: charts you can hover and zoom (heavier for the browser).")
    row.segmented_control("Steps shown", WINDOWS, key="view.window", default="all", format_func=fmt_window,
                          label_visibility="collapsed",
                          help="Show the whole run or only the latest steps (at full resolution). "
                               "Kept across refreshes; Pause to zoom and hover freely.")
    row.segmented_control("Chart", ("Layer norms", "Gradient norms"), key="view.chart",
                          default="Layer norms", label_visibility="collapsed",
                          help="The lower right chart: each layer's weight norm, or each network's gradient norm "
                               f"(read on the first and every {GRADIENT_NORM_EVERY}th step, every step with gradient "
                               "clipping on).")


def live_view() -> None:
    runner = session_runner()
    # The view window lives in session state, so it survives refreshes. (Plotly's own drag-zoom
    # only lasts until the data changes: Streamlit 1.67 re-creates a chart whose figure changed.)
    choice = ss.get("view.window") or "all"  # None when the selected option is clicked again
    window = None if choice == "all" else int(choice)
    snap = runner.snapshot(want_scene=ss.get("view.scene", True), last_steps=window)
    cols = st.columns([1, 0.8, 0.8, 1.3, 1.1])  # "running (slow motion)" and "cpu · bf16" need the room
    cols[0].metric("Step", f"{snap.step:,}")
    cols[1].metric("Steps/s", f"{snap.steps_per_s:,.0f}" if snap.state == RUNNING else "–")
    cols[2].metric("Elapsed", fmt_seconds(snap.elapsed_s))
    slow = snap.slow_motion_steps_per_s and snap.state == RUNNING
    cols[3].metric("State", snap.state + (" (slow motion)" if slow else ""))
    cols[4].metric("Device", snap.device)
    if snap.state in (DIVERGED, ERROR):
        st.error(snap.message, icon=":material/warning:")
    elif not runner.ready:
        st.info(snap.message, icon=":material/hourglass_top:")
    refresh = ss.get("live.refresh", 0.5)
    if snap.state == RUNNING:
        st.caption(f"≈ {snap.steps_per_s * refresh:,.0f} steps between refreshes (every {refresh:g} s).")
    config = snap.config
    rates = learning_rate_note(snap.step, config.steps, config.optim.lr_cooldown, config.transfer.lr_scale)
    if rates:
        st.caption(rates)
    # detectors read the whole run (display view: ≤ DISPLAY_POINTS per series), not only the window shown
    show_quality(snap, snap.history if window is None else runner.snapshot().history, narrow=current_lesson() is not None)
    tag = f"{id(runner)}-{runner.run_id}"
    running = snap.state == RUNNING

    left, right = st.columns([1, 1.25])
    with left:
        if snap.data_kind == "points":
            if snap.scene is not None:
                chart(viz.scene_figure(snap.scene, show_field=ss.get("view.field", True), uirevision=f"scene-{tag}"),
                      "chart.scene", running, SCENE_WIDTH, lossy=True)
            elif snap.preview is not None:
                chart(viz.points_figure(None, snap.preview, uirevision=f"scene-{tag}"), "chart.scene", running, SCENE_WIDTH)
        elif snap.preview is not None:
            st.image(samples_picture(snap), caption=f"Samples from fixed noise, step {snap.preview_step:,}")
    with right:
        log_y = ss.get("view.log", False)
        figure = viz.loss_figure(snap.history, log_y=log_y, uirevision=f"loss-{tag}-{log_y}-{window}")
        chart(figure, "chart.loss", running)

    left, right = st.columns(2)
    with left:
        if snap.family == "gan":
            chart(viz.d_outputs_figure(snap.history, uirevision=f"d-{tag}-{window}"), "chart.d", running)
            if "d/acc_train" in snap.history or "d/augment_p" in snap.history:
                chart(viz.overfitting_figure(snap.history, uirevision=f"o-{tag}-{window}"), "chart.overfit", running)
        else:
            chart(viz.kl_per_dim_figure(snap.periodic, uirevision=f"kl-{tag}"), "chart.kl", running)
    with right:
        if ss.get("view.chart") == "Gradient norms":
            chart(viz.grad_norms_figure(snap.history, uirevision=f"g-{tag}-{window}"), "chart.grads", running)
        else:
            chart(viz.layer_norms_figure(snap.history, uirevision=f"w-{tag}-{window}"), "chart.layers", running)
