"""genlab.viz: the charts' payload stays small and valid, and the latent map's selection maps back to samples."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import plotly.io as pio
import pytest
import torch

from genlab import viz


def test_figures_stay_small_and_serialize():
    steps = np.arange(1, 50_001)
    sparse = steps[::10]
    history = {"loss/d": (steps, np.sin(steps / 500.0)), "loss/g": (steps, np.cos(steps / 500.0)),
               "loss/total": (steps, np.ones(len(steps))), "weight_norm/discriminator/net.0": (sparse, sparse * 1.0),
               "spectral_norm/discriminator/net.0": (sparse, sparse * 0.5)}
    loss = viz.loss_figure(history, log_y=True, uirevision="u")
    spec = loss.to_dict()
    assert spec["layout"]["uirevision"] == "u" and spec["layout"]["yaxis"]["type"] == "log"
    names = {t["name"] for t in spec["data"]}
    assert names == {"loss/d", "loss/g"}  # a GAN's d + g sum is not drawn
    assert all(len(t["x"]) <= viz.MAX_TRACE_POINTS for t in spec["data"])
    layers = viz.layer_norms_figure(history).to_dict()
    assert {t["line"].get("dash") for t in layers["data"]} == {None, "dot"}
    for figure in (loss, layers, viz.d_outputs_figure({}), viz.kl_per_dim_figure({"kl/dim_1": 0.5, "kl/dim_0": 2.0})):
        assert pio.to_json(figure, validate=False)
    bars = viz.kl_per_dim_figure({"kl/dim_10": 0.1, "kl/dim_2": 2.0}).to_dict()["data"][0]
    assert bars["x"].tolist() == [2, 10] and bars["y"].tolist() == [2.0, pytest.approx(0.1)]


def test_downsample_and_ema():
    steps, values = viz.downsample(np.arange(10_001), np.arange(10_001, dtype=float), 100)
    assert len(steps) <= 101 and steps[-1] == 10_000
    assert values[0] == pytest.approx(np.arange(101).mean())
    x = np.random.default_rng(0).normal(size=300)
    alpha, reference, mean, weight = 2 / 51, [], 0.0, 0.0
    for value in x:  # the EMA's recurrence, normalized by the weight seen so far
        mean, weight = (1 - alpha) * mean + value, (1 - alpha) * weight + 1
        reference.append(mean / weight)
    np.testing.assert_allclose(viz.ema(x, 50), reference, atol=1e-9)


def test_arrow_segments_scale_by_the_square_root_of_the_magnitude():
    x, y = viz.arrow_segments(np.zeros((2, 2)), np.array([[1.0, 0.0], [0.0, 4.0]]), length=1.0)
    assert len(x) == 14 and np.isnan(x[2])
    assert (x[1], y[1]) == (pytest.approx(0.5), pytest.approx(0.0))  # the weaker one: sqrt(1/4) of the length
    assert (x[8], y[8]) == (pytest.approx(0.0), pytest.approx(1.0))  # the strongest: full length


# ------------------------------------------------------------------------------------------------
# the Latent explorer's charts
# ------------------------------------------------------------------------------------------------
def test_latent_map_has_one_trace_per_category_and_selections_map_back_to_samples():
    coords = torch.arange(10.0).reshape(5, 2)
    labels = np.array([1, 0, 1, 0, 1])
    figure = viz.latent_map_figure(coords, labels, "label", ("even", "odd"))
    traces = figure.spec["data"]
    assert [t["name"] for t in traces] == ["even", "odd"]
    assert traces[0]["customdata"].tolist() == [1, 3] and traces[1]["customdata"].tolist() == [0, 2, 4]
    assert traces[1]["x"].tolist() == [0.0, 4.0, 8.0]
    # trace 0 holds samples 1 and 3 (label 0), trace 1 holds 0, 2 and 4; a point outside any trace is ignored
    chosen = [{"curve_number": 1, "point_index": 2}, {"curve_number": 0, "point_index": 0}, {"curve_number": 7},
              {"curve_number": 1, "point_number": 2}]
    assert viz.selected_indices(chosen, figure) == [1, 4]
    assert viz.selected_indices([], figure) == [] and viz.selected_indices(None, figure) == []
    assert pio.to_json(figure, validate=False)


def test_latent_map_with_a_colour_scale_and_thumbnails():
    coords = np.random.default_rng(0).normal(size=(6, 2))
    value = np.linspace(0, 1, 6)
    thumbs = [(0.5, -0.5, "data:image/png;base64,AAAA")]
    figure = viz.latent_map_figure(coords, value, "scale", hover=[f"s{i}" for i in range(6)], thumbnails=thumbs,
                                   thumb_size=0.2, uirevision="m")
    (trace,) = figure.spec["data"]
    assert trace["marker"]["colorscale"] == "Viridis" and trace["marker"]["color"].tolist() == pytest.approx(value)
    assert trace["customdata"].tolist() == list(range(6)) and trace["text"] == [f"s{i}" for i in range(6)]
    layout = figure.spec["layout"]
    assert layout["uirevision"] == "m" and layout["dragmode"] == "lasso"
    assert layout["images"] == [{"source": thumbs[0][2], "x": 0.5, "y": -0.5, "xref": "x", "yref": "y",
                                 "sizex": 0.2, "sizey": 0.2, "xanchor": "center", "yanchor": "middle",
                                 "layer": "above"}]
    plain = viz.latent_map_figure(coords, None, "none").spec["data"][0]
    assert plain["marker"]["color"] == viz.figures.REAL_COLOUR and "colorscale" not in plain["marker"]


def test_points_traversal_and_manifold_figures_draw_the_decoded_points():
    traversal = SimpleNamespace(values=torch.tensor([-1.0, 0.0, 1.0]), decoded=torch.arange(12.0).reshape(2, 3, 2))
    reference = torch.zeros(4, 2)
    figure = viz.points_traversal_figure(reference, traversal, ["z0", "z1"])
    data, layout = figure.spec["data"], figure.spec["layout"]
    assert [t["name"] for t in data] == ["data", "z0", "z1"]
    assert data[2]["x"].tolist() == [6.0, 8.0, 10.0] and data[2]["y"].tolist() == [7.0, 9.0, 11.0]
    assert data[1]["text"] == ["z0: -1.00", "z0: +0.00", "z0: +1.00"]
    assert layout["yaxis"]["scaleanchor"] == "x"  # equal scales: 2D data is not stretched
    grid = viz.points_manifold_figure(None, torch.arange(18.0).reshape(9, 2), 3).spec["data"]
    assert len(grid) == 1 and grid[0]["marker"]["color"].tolist() == [0, 1, 2] * 3


def test_loss_curves_show_a_network_s_unpenalized_loss_only_when_a_penalty_moved_it():
    steps = np.arange(1, 6)
    adv = np.array([1.0, 0.9, 0.8, 0.7, 0.6])
    history = {"loss/d": (steps, adv), "loss/d_adv": (steps, adv.copy()), "loss/g": (steps, adv + 0.5),
               "loss/g_adv": (steps, adv), "penalty/ortho_g": (steps, np.full(5, 5.0))}
    assert viz.loss_names(history) == ["loss/d", "loss/g", "loss/g_adv", "penalty/ortho_g"]
    history["loss/d"] = (steps, adv + np.array([0, 0, 0, 0, 1e-3]))  # a D penalty switched on at the last step
    assert "loss/d_adv" in viz.loss_names(history)
