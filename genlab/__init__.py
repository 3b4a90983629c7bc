"""genlab: train small GANs and VAEs with norm regularization, headless or from the playground app."""

__version__ = "0.1.0"
