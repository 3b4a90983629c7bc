"""The Dirac lab's chart: field arrows, one path per scheme, a clickable grid that tiles the plane."""
from __future__ import annotations

import numpy as np

from genlab.theory.dirac import DiracGame, field_on_grid
from genlab.theory.dynamics import trajectories
from genlab.viz.dirac import CLICK_TRACE_NAME, click_point, click_targets, dirac_figure


def test_the_chart_draws_field_paths_start_and_clip_band():
    game = DiracGame("wasserstein", "weight_clip", 0.5)
    field = [values.numpy() for values in field_on_grid(game, 2.5, 9)]
    runs = trajectories(game, (1.0, 0.25), 0.2, 50)
    spec = dirac_figure(field, {"simultaneous": runs.simultaneous, "alternating": runs.alternating}, (1.0, 0.25),
                        2.5, game.label, clip=0.5).spec
    names = [trace["name"] for trace in spec["data"]]
    assert names == [CLICK_TRACE_NAME, "vector field v(θ, ψ)", "simultaneous GD", "alternating GD", "start",
                     "equilibrium (0, 0)"]
    alternating = spec["data"][3]
    assert np.allclose(alternating["x"], runs.alternating[:, 0]) and np.allclose(alternating["y"], runs.alternating[:, 1])
    arrows = spec["data"][1]["x"]
    assert np.isnan(arrows).sum() == 2 * 81  # two NaN separators per arrow, one arrow per grid point
    (band,) = spec["layout"]["shapes"]
    assert (band["y0"], band["y1"]) == (-0.5, 0.5)
    assert spec["layout"]["xaxis"]["range"] == [-2.5, 2.5] == spec["layout"]["yaxis"]["range"]


def test_click_targets_cover_the_plane_on_a_quarter_grid():
    targets = click_targets(2.5)
    assert len(targets) == 21 * 21 and (-2.5, -2.5) in targets and (0.25, -1.75) in targets
    assert all(round(v, 2) == v for point in targets for v in point)  # as the page rounds a click


def test_click_point_reads_the_first_point_of_a_selection():
    assert click_point([{"x": 0.5, "y": -1.25, "curve_number": 0}, {"x": 1, "y": 1}]) == (0.5, -1.25)
    assert click_point([{"curve_number": 2}]) is None and click_point([]) is None
