"""Latent-space exploration of a saved run, headless (pages/latent.py draws the widgets).

- interpolation.py  lerp / slerp between two latents, seeded random latents
- model.py          LatentModel (a run ready to decode and encode), a sample of its data to explore with
- grids.py          traversals and manifold grids, decoded in one batch
- analysis.py       KL per dimension and traversal order, factor association, PCA map
- uploads.py        uploaded pictures decoded into the model's data space
- explorer.py       what the Latent explorer shows: frames, strips, GIFs, grids, map colours, as bytes

Pictures come from genlab.pictures, charts from genlab.viz, thread control from genlab.threads.
"""
