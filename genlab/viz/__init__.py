"""Plotly charts for the pages: numpy in, LightFigure (a ready-made plotly figure dict) out; no streamlit.

- figures.py  LightFigure, the shared layout, colours and trace builders
- curves.py   training curves: losses, D's outputs, gradient and layer norms, KL per dimension
- scene.py    the 2D scene of a GAN: points over D's heatmap with G's gradient field
- latent.py   the Latent explorer's charts: 2D traversals and grids, the map of encoded data
- raster.py   any of these figures drawn as a picture (Pillow), for the live view while a run trains;
              axes.py (ranges, ticks) and canvas.py (text, colours, dashes) are its parts
- live_pictures.py  the live view's pictures: redrawn when their figure changed, as often as their cost allows

Pictures (image grids, PNG, GIF) are not charts: they live in genlab.pictures.
"""
from genlab.viz.curves import (
    MAX_TRACE_POINTS,
    curves_figure,
    d_outputs_figure,
    downsample,
    ema,
    grad_norms_figure,
    kl_per_dim_figure,
    layer_norms_figure,
    loss_figure,
    loss_names,
)
from genlab.viz.figures import LightFigure
from genlab.viz.latent import latent_map_figure, points_manifold_figure, points_traversal_figure, selected_indices
from genlab.viz.live_pictures import FigurePictures, figure_digest
from genlab.viz.raster import WIDTH as PICTURE_WIDTH
from genlab.viz.raster import figure_picture
from genlab.viz.scene import arrow_segments, points_figure, scene_figure

__all__ = [
    "MAX_TRACE_POINTS", "PICTURE_WIDTH", "FigurePictures", "LightFigure", "arrow_segments", "curves_figure",
    "d_outputs_figure", "downsample", "ema", "figure_digest", "figure_picture", "grad_norms_figure",
    "kl_per_dim_figure", "latent_map_figure", "layer_norms_figure", "loss_figure", "loss_names", "points_figure",
    "points_manifold_figure", "points_traversal_figure", "scene_figure", "selected_indices",
]
