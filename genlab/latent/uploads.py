"""Pictures a user uploads (e.g. Latent explorer endpoints) decoded into the model's data space.

The bytes are untrusted: only the formats the upload widget offers are decoded (Pillow picks a decoder
by content, not by file name), and the pixel count is checked from the header before decoding.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
UPLOAD_SUFFIXES = ("png", "jpg", "jpeg", "gif", "bmp", "webp")  # what an upload widget should accept
MAX_UPLOAD_PIXELS = 4096 * 4096  # anything larger is refused before decoding


def image_from_bytes(data: bytes, shape: Sequence[int], invert: bool = False) -> Tensor:
    """An uploaded picture (PNG, JPEG, ...) as a (C, H, W) float tensor in [0, 1] of the model's data shape.

    Converted to grey for one-channel models, resized (the whole picture, aspect not kept) to H×W.
    `invert` turns dark-on-light drawings into light-on-dark (MNIST-like sets are white on black).
    Raises ValueError with a readable message for anything that is not a reasonably sized image.
    """
    c, h, w = (int(s) for s in shape)
    try:
        with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as image:  # by content: only these decoders
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise ValueError(f"the image is too large ({image.width}×{image.height} pixels); "
                                 f"the limit is {MAX_UPLOAD_PIXELS:,} pixels")
            image = image.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.float32) / 255.0
    except ValueError:
        raise
    except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ValueError(f"not a readable image ({exc})") from None
    if invert:
        array = 1.0 - array
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if c == 1 else tensor.permute(2, 0, 1).contiguous()
