"""A drawn 2D data set: grid anchors, their link text, and the Gaussian mixture a GAN trains on."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from genlab.config import ConfigError
from genlab.data.drawn import drawn_samples, drawn_source
from genlab.drawing_codec import (
    CELLS, EXTENT, MAX_ANCHORS, add_anchors, decode_anchors, drawing_path, encode_anchors, grid_axis, grid_nodes,
    is_drawing, parse_drawing_path, remove_anchors, snap,
)
from genlab.viz.targets import selected_points

STEP = 2 * EXTENT / (CELLS - 1)


def test_snapping_moves_points_to_their_nearest_node_inside_the_plane_once_each():
    assert snap([(0.09, -0.11), (0.0, -0.2), (9.0, -9.0), (0.31, 0.0)]) == [(0.0, -0.2), (EXTENT, -EXTENT), (0.4, 0.0)]
    nodes = grid_nodes()
    assert len(nodes) == CELLS**2 and len(snap(nodes)) == CELLS**2  # every node is its own nearest node
    rng = np.random.default_rng(1)
    points = rng.uniform(-EXTENT, EXTENT, (200, 2))
    snapped = np.array([snap([p])[0] for p in points])
    nearest = nodes[np.argmin(((points[:, None, :] - nodes[None]) ** 2).sum(-1), axis=1)]  # brute force
    assert np.allclose(snapped, nearest)


def test_adding_and_erasing_keep_the_drawing_order_and_each_node_once():
    drawing = add_anchors([], [(1.0, 1.0), (1.02, 0.98), (-1.0, 0.0)])
    assert drawing == [(1.0, 1.0), (-1.0, 0.0)]
    drawing = add_anchors(drawing, [(2.0, 2.0), (-1.0, 0.0)])
    assert drawing == [(1.0, 1.0), (-1.0, 0.0), (2.0, 2.0)]
    assert remove_anchors(drawing, [(-0.95, 0.05)]) == [(1.0, 1.0), (2.0, 2.0)]
    assert remove_anchors(drawing, []) == drawing


def test_link_text_takes_two_characters_a_point_and_reads_back_the_same_drawing():
    rng = np.random.default_rng(0)
    drawing = snap(rng.uniform(-EXTENT, EXTENT, (300, 2)))
    text = encode_anchors(drawing)
    assert len(text) == 2 * len(drawing)
    assert decode_anchors(text) == drawing
    assert decode_anchors("") == []
    corner = encode_anchors([(-EXTENT, EXTENT)])  # column 0, row CELLS − 1
    assert corner == "A" + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[CELLS - 1]


@pytest.mark.parametrize("text, says", [("ABC", "two characters"), ("A!", "character 2 ('!')"),
                                        ("A_", "character 2 ('_') is not a grid index"),
                                        ("AA" * (MAX_ANCHORS + 1), f"more than {MAX_ANCHORS}")])
def test_a_bad_link_is_refused_with_the_reason(text, says):
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        decode_anchors(text)


def test_the_data_set_is_a_fixed_mixture_of_gaussians_around_the_anchors():
    anchors = [(-2.0, 0.0), (2.0, 0.0), (0.0, 3.0)]
    samples = drawn_samples(anchors, spread=0.1, n=6000)
    assert np.array_equal(samples, drawn_samples(anchors, spread=0.1, n=6000))  # the same drawing, the same set
    distances = np.linalg.norm(samples[:, None, :] - np.array(anchors)[None], axis=-1)
    owner = distances.argmin(1)
    assert np.bincount(owner, minlength=3) / len(samples) == pytest.approx([1 / 3] * 3, abs=0.03)
    offsets = samples - np.array(anchors)[owner]
    assert offsets.std(0) == pytest.approx([0.1, 0.1], rel=0.05)  # each blob's σ
    assert np.abs(offsets.mean(0)).max() < 0.01
    exact = drawn_samples(anchors, spread=0.0, n=50)  # σ = 0: every sample is an anchor
    assert {tuple(point) for point in exact} <= set(anchors)


def test_drawn_source_is_a_points_data_set_and_refuses_an_empty_drawing():
    source = drawn_source([(0.0, 0.0), (1.0, 1.0)], spread=0.2)
    assert source.kind == "points" and tuple(source.x.shape) == (4096, 2)
    assert "your drawing (2 points, σ = 0.2)" in source.origin
    with pytest.raises(ConfigError, match="draw at least one point"):
        drawn_source([])
    with pytest.raises(ConfigError, match="spread"):
        drawn_samples([(0.0, 0.0)], spread=-1.0)


def test_selected_points_are_read_from_any_trace_and_snap_to_the_grid():
    event = [{"x": 1.0, "y": 2.0, "curve_number": 0}, {"x": 3.07, "y": 4.0, "curve_number": 2}, {"x": None, "y": 1}]
    assert selected_points(event) == [(1.0, 2.0), (3.07, 4.0)]
    assert add_anchors([], selected_points(event)) == [(1.0, 2.0), (3.0, 4.0)]
    assert grid_axis()[1] - grid_axis()[0] == pytest.approx(STEP)


def test_a_drawing_lives_in_data_path_so_load_data_and_a_saved_run_rebuild_it(tmp_path):
    from genlab.data import load_data
    from genlab.presets import config_for
    from genlab.runs import load_run, save_run
    from genlab.trainers import make_trainer

    anchors, spread = [(0.0, 0.0), (1.2, -2.4), (4.0, 4.0)], 0.15
    path = drawing_path(anchors, spread)
    assert is_drawing(path) and parse_drawing_path(path) == (anchors, spread)
    config = config_for("gan", "points", dotted={"data.path": path, "name": "drawing-gan", "model.width": 16})
    data = load_data(config.data)
    assert np.allclose(data.x.numpy(), drawn_samples(anchors, spread), atol=1e-6)  # float32 of the same mixture
    trainer = make_trainer(config)
    trainer.step()
    loaded = load_run(save_run(trainer, root=tmp_path), root=tmp_path)
    assert loaded.data_available and loaded.config.data.path == path
    assert torch.equal(loaded.trainer.data.x, data.x)


@pytest.mark.parametrize("path, says", [("drawn:0.1", "drawn:<σ>:<points>"), ("drawn:wide:AA", "'wide'"),
                                        ("drawn:nan:AA", "spread"), ("drawn:0.1:A", "two characters")])
def test_a_malformed_drawing_path_is_named(path, says):
    from genlab.data import load_data
    from genlab.config import DataConfig

    with pytest.raises(ConfigError, match=re.escape(says)):
        load_data(DataConfig(name="points", path=path))
