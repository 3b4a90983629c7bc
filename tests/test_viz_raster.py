"""genlab.viz.raster: plotly figures drawn as pictures land where the axes say, and a chart whose figure
did not change is not redrawn."""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from PIL import Image

from genlab import viz
from genlab.training.scene import Scene2D
from genlab.viz import live_pictures, raster
from genlab.viz.axes import Axis, data_range, nice_step, tick_label
from genlab.viz.canvas import colour_scale, rgba
from genlab.viz.figures import figure
from genlab.viz.scene import HEAT_SCALE

RED = "#d62728"
BLUE = "#1f77b4"


def close_to(picture: np.ndarray, colour: str, tolerance: int = 40) -> np.ndarray:
    """Mask of the pixels within `tolerance` (per channel) of `colour`."""
    return (np.abs(picture.astype(int) - np.array(rgba(colour)[:3])) <= tolerance).all(axis=-1)


def flat_line_figure(level: float, axis: str = "y") -> dict:
    trace = {"type": "scatter", "mode": "lines", "x": np.arange(11.0), "y": np.full(11, level),
             "line": {"color": RED, "width": 3}, "name": "flat"}
    if axis == "y2":
        trace["yaxis"] = "y2"
    return figure([trace], {"height": 300, "showlegend": False, "xaxis": {"range": [0, 10]},
                            "yaxis": {"range": [0.0, 4.0]}, "yaxis2": {"range": [0.0, 4.0]}}).spec


def red_rows(picture: np.ndarray) -> np.ndarray:
    return np.flatnonzero(close_to(picture, RED).sum(axis=1) > picture.shape[1] // 3)


def test_a_line_is_drawn_at_the_height_its_value_has_on_the_axis():
    pictures = {v: raster.figure_picture(flat_line_figure(v), 400) for v in (1.0, 2.0, 3.0)}
    assert pictures[1.0].shape == (300, 400, 3)
    low, middle, high = (red_rows(pictures[v]) for v in (1.0, 2.0, 3.0))
    assert low.size and middle.size and high.size
    # y grows upwards: 3 is drawn higher (smaller row) than 1, and 2 half-way between them
    assert high.mean() < middle.mean() < low.mean()
    assert middle.mean() == pytest.approx((low.mean() + high.mean()) / 2, abs=1.5)


def test_a_small_series_on_the_right_axis_spans_the_plot():
    """KL of a few nats beside a reconstruction loss of hundreds: on its own axis it is not flat."""
    steps = np.arange(1, 501)
    history = {"loss/recon": (steps, 300.0 + 0 * steps), "loss/kl": (steps, np.linspace(1.0, 9.0, 500)),
               "loss/total": (steps, 305.0 + 0 * steps)}
    spec = viz.loss_figure(history, uirevision="u").spec
    kl = [t for t in spec["data"] if t.get("yaxis") == "y2"]
    assert kl and all("loss/kl" in t["name"] for t in kl) and "yaxis2" in spec["layout"]
    assert not any(t.get("yaxis") == "y2" for t in viz.loss_figure({"loss/d": history["loss/recon"]}).spec["data"])
    picture = raster.figure_picture(spec, 600)
    kl_colour = kl[-1]["line"]["color"]
    rows = np.flatnonzero(close_to(picture, kl_colour, 30)[:, 60:-60].any(axis=1))
    plot_height = 300 - 32 - 60  # the picture less its title, axis labels and legend (roughly)
    assert rows.max() - rows.min() > 0.6 * plot_height


def test_log_axis_places_decades_evenly():
    axis = Axis(0.0, 3.0, True, 0.0, 300.0)
    assert axis.pixels([1.0, 10.0, 100.0, 1000.0]).tolist() == pytest.approx([0.0, 100.0, 200.0, 300.0])
    assert math.isnan(axis.pixels([-1.0])[0])
    assert [label for _, label in axis.ticks()] == ["1", "10", "100", "1k"]
    assert data_range(np.array([10.0, 1000.0, -5.0, np.nan]), log=True, pad=0.0) == (1.0, 3.0)


@pytest.mark.parametrize("span, step", [(10.0, 2.0), (1.0, 0.2), (12.0, 2.5), (700.0, 200.0), (0.03, 0.01)])
def test_nice_steps_give_about_five_ticks(span, step):
    assert nice_step(span) == pytest.approx(step)
    ticks = Axis(0.0, span, False, 0.0, 100.0).ticks()
    assert 3 <= len(ticks) <= 7 and ticks[0][0] == 0.0


def test_tick_labels_are_short():
    assert [tick_label(v) for v in (0.0, 1500.0, 2e6, 1e-4, 0.25)] == ["0", "1.5k", "2M", "1e-4", "0.25"]


def test_heatmap_corners_take_the_colour_scales_ends():
    grid = np.linspace(-1.0, 1.0, 20)
    heat = np.tile(np.linspace(0.0, 1.0, 20), (20, 1))  # D(x) grows left to right
    scene = Scene2D(step=0, extent=(-1.0, 1.0, -1.0, 1.0), real=np.zeros((0, 2)), fake=np.zeros((0, 2)),
                    grid_x=grid, grid_y=grid, heat=heat, heat_label="D(x)")
    picture = raster.figure_picture(viz.scene_figure(scene, show_field=False), 480)
    white = np.array([255, 255, 255])
    opacity = 0.55
    ends = [np.round(opacity * colour_scale(np.array(t), HEAT_SCALE) + (1 - opacity) * white) for t in (0.0, 1.0)]
    row = picture[picture.shape[0] // 2]
    found = [np.abs(row.astype(int) - end).max(axis=1).min() for end in ends]
    assert max(found) <= 12


def moved(figure: dict) -> dict:
    """`figure` with one data value changed."""
    values = figure["data"][0]["y"].copy()
    values[3] += 0.5
    figure["data"][0]["y"] = values
    return figure


class Clock:
    """A clock that moves by `tick` seconds each time it is read (so each drawing 'takes' one tick)."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_pictures_are_redrawn_only_when_the_figure_changes(monkeypatch):
    drawn = []
    real_draw = raster.figure_picture
    monkeypatch.setattr(raster, "figure_picture", lambda fig, width=raster.WIDTH: drawn.append(1) or real_draw(fig, width))
    store = live_pictures.FigurePictures(cost_ratio=0.0)
    first = store.data_uri("loss", flat_line_figure(1.0), 300)
    assert store.data_uri("loss", flat_line_figure(1.0), 300) is first and len(drawn) == 1
    assert live_pictures.figure_digest(moved(flat_line_figure(1.0)), 300) != \
        live_pictures.figure_digest(flat_line_figure(1.0), 300)
    assert store.data_uri("loss", moved(flat_line_figure(1.0)), 300) != first and len(drawn) == 2
    assert live_pictures.figure_digest(flat_line_figure(1.0), 301) != live_pictures.figure_digest(flat_line_figure(1.0), 300)
    header, payload = first.split(",", 1)
    assert header == "data:image/webp;base64"
    assert Image.open(io.BytesIO(base64.b64decode(payload))).size == (300, 300)
    lossy = store.data_uri("scene", flat_line_figure(1.0), 300, lossy=True)
    assert lossy != first and Image.open(io.BytesIO(base64.b64decode(lossy.split(",", 1)[1]))).size == (300, 300)


def test_a_changed_chart_waits_its_drawing_cost_times_the_ratio():
    """Each drawing takes one tick of the clock (read before and after it): with a ratio of 10, a
    changed figure is drawn again only 10 ticks after the last drawing began."""
    clock = Clock(tick=1.0)
    store = live_pictures.FigurePictures(clock=clock, cost_ratio=10.0)
    first = store.data_uri("loss", flat_line_figure(1.0), 300)  # began at 1, took 1: next at 11
    changed = moved(flat_line_figure(1.0))
    held = [store.data_uri("loss", changed, 300) for _ in range(8)]  # the clock reads 3 .. 10
    assert all(uri is first for uri in held)
    assert store.data_uri("loss", changed, 300) != first  # the clock reads 11: redrawn
    assert store.data_uri("other", flat_line_figure(1.0), 300) == first  # each chart has its own hold


def test_without_hold_a_changed_chart_is_drawn_at_once():
    """A paused run's page is drawn once: its pictures must show the run as it stopped, not wait out
    the hold of the last drawing made while it trained."""
    clock = Clock(tick=1.0)
    store = live_pictures.FigurePictures(clock=clock, cost_ratio=1000.0)
    first = store.data_uri("scene", flat_line_figure(1.0), 300)
    changed = moved(flat_line_figure(1.0))
    assert store.data_uri("scene", changed, 300) is first  # held while training
    latest = store.data_uri("scene", changed, 300, hold=False)
    assert latest != first
    assert store.data_uri("scene", changed, 300, hold=False) is latest  # unchanged: not drawn again


def test_a_no_data_placeholder_is_replaced_at_once_whatever_its_hold():
    """At Start the loss chart is drawn once with no data; the first curve must not wait out its hold."""
    clock = Clock(tick=1.0)
    store = live_pictures.FigurePictures(clock=clock, cost_ratio=1000.0)
    placeholder = store.data_uri("loss", viz.loss_figure({}), 300)
    curve = store.data_uri("loss", flat_line_figure(1.0), 300)
    assert curve != placeholder
    assert store.data_uri("loss", moved(flat_line_figure(1.0)), 300) is curve  # a real curve keeps its hold


def test_every_live_chart_draws():
    steps = np.arange(1, 301)
    history = {"loss/d": (steps, np.exp(-steps / 100.0)), "loss/g": (steps, np.log(steps)),
               "d/real": (steps, 0.6 + 0 * steps), "d/fake": (steps, 0.4 + 0 * steps),
               "grad_norm/d": (steps, 1.0 + 0 * steps), "weight_norm/discriminator/net.0": (steps, steps * 1.0),
               "spectral_norm/discriminator/net.0": (steps, steps * 0.5)}
    figures = [viz.loss_figure(history, log_y=True), viz.d_outputs_figure(history), viz.grad_norms_figure(history),
               viz.layer_norms_figure(history), viz.kl_per_dim_figure({"kl/dim_0": 2.0, "kl/dim_1": 0.1}),
               viz.loss_figure({})]
    for fig in figures:
        picture = raster.figure_picture(fig, 500)
        assert picture.dtype == np.uint8 and picture.shape[1] == 500
        assert (picture < 200).any()  # something drawn besides the background


def title_width(picture: np.ndarray) -> int:
    """Width in pixels of the dark text in the first block of rows holding any (the title's)."""
    dark = picture.max(axis=2) < 100
    rows = np.flatnonzero(dark.any(axis=1))
    block = rows[: int(np.argmax(np.diff(rows) > 1)) + 1] if (np.diff(rows) > 1).any() else rows
    columns = np.flatnonzero(dark[block].any(axis=0))
    return int(columns.max() - columns.min() + 1)


def test_presentation_modes_font_size_draws_the_whole_chart_larger_at_the_same_picture_size():
    """The projector's type reached plotly's interactive charts but not the live pictures (8 px on screen)."""
    spec = flat_line_figure(2.0)
    spec["layout"]["title"] = {"text": "discriminator loss"}
    large = {**spec, "layout": {**spec["layout"], "font": {"size": 20}}}
    small_picture, large_picture = raster.figure_picture(spec, 600), raster.figure_picture(large, 600)
    assert small_picture.shape == large_picture.shape == (300, 600, 3)
    assert title_width(large_picture) / title_width(small_picture) == pytest.approx(20 / 12, rel=0.05)
    assert red_rows(large_picture).size  # the chart is still drawn
    # the line keeps its width (presentation mode thickens lines itself): only text and axes grow, so
    # the red area is no larger, the larger axis labels leaving the line a little less length
    assert close_to(large_picture, RED).sum() <= 1.1 * close_to(small_picture, RED).sum()
