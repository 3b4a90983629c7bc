"""Pictures a user uploads (e.g. Latent explorer endpoints) decoded into the model's data space.

The bytes are untrusted: they are opened only through genlab.data's one opener for untrusted images
(format allow-list, pixel limit from the header, a decoding-time budget).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from genlab.data.untrusted_image import open_untrusted_image

UPLOAD_SUFFIXES = ("png", "jpg", "jpeg", "gif", "bmp", "webp")  # what an upload widget should accept


def image_from_bytes(data: bytes, shape: Sequence[int], invert: bool = False) -> Tensor:
    """An uploaded picture (PNG, JPEG, ...) as a (C, H, W) float tensor in [0, 1] of the model's data shape.

    Converted to grey for one-channel models, resized (the whole picture, aspect not kept) to H×W.
    `invert` turns dark-on-light drawings into light-on-dark (MNIST-like sets are white on black).
    Raises ValueError with a readable message for anything that is not a reasonably sized image.
    """
    c, h, w = (int(s) for s in shape)
    image = open_untrusted_image(data, name="the uploaded picture", draft_size=max(h, w))
    image = image.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    if invert:
        array = 1.0 - array
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if c == 1 else tensor.permute(2, 0, 1).contiguous()
