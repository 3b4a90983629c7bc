"""Open image bytes that nobody vouches for (uploads, files of an image folder) without letting them
hurt the server: the one way genlab decodes a user's picture.

- Formats: only genlab.data.limits.IMAGE_FORMATS are tried (`Image.open(formats=...)`). Pillow
  otherwise picks a decoder by content, and an EPS named `.png` would start Ghostscript.
- Size: width x height comes from the header and is checked against MAX_IMAGE_PIXELS before any pixel
  is decoded (after JPEG's reduced-size decoding, `draft`, is chosen, so a large photo that will be
  shrunk anyway decodes at 1/2 to 1/8 of its size). A `DecodeBudget` shared by a whole folder or zip
  caps the pixels and seconds all its images may spend together.
- Time: decoding one file may take IMAGE_DECODE_SECONDS of the decoding thread's CPU time (CPU time,
  not wall-clock time, so that a busy server does not refuse good files; decoding here is pure
  computation in the calling thread). What can be enforced in-process: Pillow's C decoders cannot be
  interrupted from Python, but they pull their input through the file object in blocks of at most
  64 KiB, and that file object refuses to hand out more input once the budget is spent; the clock is
  checked again after decoding and after converting. A file can therefore overrun its budget by the
  decoding of one block plus one conversion, which the pixel limit bounds (measured here: a 16.8 MP
  RGBA PNG decodes and converts in 0.6 s of CPU, a 16 MB progressive JPEG of that size in 1.1 s). A
  hard wall-clock kill would need a separate process per decode; not worth its start-up cost here.
- Pixels: the result is always 8-bit "L" (grey sources) or "RGB". 16-bit grey (modes I;16*, I) is
  scaled from 0..65535 to 0..255 instead of being clipped; palette, 1-bit, CMYK and YCbCr images are
  converted; transparency (RGBA, LA, PA, palette or grey with a transparent colour) is composited onto
  black, the background of MNIST-like data.

Every refusal is an ImageRefused (a ValueError) whose one-line message names the file and the limit;
its `reason` is a short phrase used to count skipped files.
"""
from __future__ import annotations

import io
from time import thread_time

import numpy as np
from PIL import Image

from genlab.data.limits import (
    IMAGE_DECODE_SECONDS,
    IMAGE_FORMATS,
    MAX_DECODE_SECONDS,
    MAX_DECODED_PIXELS,
    MAX_IMAGE_FILE_BYTES,
    MAX_IMAGE_PIXELS,
)

UNREADABLE = "unreadable"
NOT_ALLOWED = "not an allowed format"
TOO_MANY_PIXELS = "too many pixels"
TOO_SLOW = "too slow to decode"
TOO_LARGE = "file too large"

# Formats a decoder of IMAGE_FORMATS may report: a camera JPEG with extra frames opens as MPO.
_REPORTED_FORMATS = frozenset(IMAGE_FORMATS) | {"MPO"}
_FORMAT_NAMES = ", ".join("WebP" if f == "WEBP" else f for f in IMAGE_FORMATS)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_GREY_MODES = ("1", "L", "LA", "La", *_SIXTEEN_BIT_MODES)


class ImageRefused(ValueError):
    """An image was not decoded; `reason` is one of the module's reason phrases."""

    def __init__(self, name: str, reason: str, detail: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {detail}")


class DecodeBudgetExceeded(ValueError):
    """A set of images needs more decoding (pixels or seconds) than its DecodeBudget allows."""


class DecodeBudget:
    """Pixels and CPU seconds that all images of one folder or zip may spend decoding together
    (by default genlab.data.limits.MAX_DECODED_PIXELS and MAX_DECODE_SECONDS)."""

    def __init__(self, pixels: int | None = None, seconds: float | None = None):
        self.pixels = MAX_DECODED_PIXELS if pixels is None else pixels
        self.seconds = MAX_DECODE_SECONDS if seconds is None else seconds
        self.pixels_left = self.pixels
        self.deadline = thread_time() + self.seconds

    def spend(self, pixels: int, name: str) -> None:
        if thread_time() > self.deadline:
            raise DecodeBudgetExceeded(f"decoding the images took more than {self.seconds:g} s of CPU in all "
                                       f"(stopped at {name}); use fewer or smaller images")
        if pixels > self.pixels_left:
            raise DecodeBudgetExceeded(f"the images hold more than {self.pixels:,} pixels in all (stopped at "
                                       f"{name}); shrink them (a few hundred pixels a side is plenty) or use fewer")
        self.pixels_left -= pixels


class _DeadlineStream(io.BytesIO):
    """In-memory file that stops feeding the decoder once the file's CPU-time budget is spent."""

    def __init__(self, data: bytes, name: str, seconds: float):
        super().__init__(data)
        self.label = name  # not `name`: a file object's name may be taken for a path to open
        self.seconds = seconds
        self.deadline = thread_time() + seconds

    def check(self) -> None:
        if thread_time() > self.deadline:
            raise ImageRefused(self.label, TOO_SLOW, f"decoding took more than {self.seconds:g} s of CPU")

    def read(self, size: int | None = -1) -> bytes:
        self.check()
        return super().read(size)


def _sniffed_format(prefix: bytes) -> str | None:
    """The format Pillow would guess from the first bytes (only to name it in a refusal)."""
    Image.init()
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        try:
            if accept is not None and accept(prefix) is True:
                return name
        except Exception:  # a check may choke on a short prefix; Pillow ignores those too
            continue
    return None


def _refuse_unopened(data: bytes, name: str) -> ImageRefused:
    guessed = _sniffed_format(data[:16])
    if guessed is not None and guessed not in _REPORTED_FORMATS:
        return ImageRefused(name, NOT_ALLOWED, f"{guessed} images are not accepted (allowed: {_FORMAT_NAMES})")
    return ImageRefused(name, UNREADABLE, f"not a readable image (allowed: {_FORMAT_NAMES})")


def _eight_bit_grey(image: Image.Image) -> Image.Image:
    """A 16-bit (or 32-bit integer) grey image scaled from 0..65535 to 0..255, not clipped at 255."""
    values = np.clip(np.asarray(image).astype(np.float32), 0, 65535)
    return Image.fromarray(np.rint(values / 257.0).astype(np.uint8), mode="L")


def to_eight_bit(image: Image.Image) -> Image.Image:
    """`image` as 8-bit "L" (grey sources) or "RGB", transparency composited onto black."""
    grey = image.mode in _GREY_MODES
    if image.mode in _SIXTEEN_BIT_MODES:
        image = _eight_bit_grey(image)  # drops a transparent grey value, which 16-bit files rarely set
    elif image.mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return image.convert("L" if grey else "RGB")


def open_untrusted_image(data: bytes, *, name: str, draft_size: int | None = None,
                         max_pixels: int = MAX_IMAGE_PIXELS, seconds: float = IMAGE_DECODE_SECONDS,
                         budget: DecodeBudget | None = None) -> Image.Image:
    """The image in `data`, decoded and converted to 8-bit "L" or "RGB" (see the module docstring).

    `name` is used in messages. `draft_size`: the picture will be shrunk to about this many pixels a
    side, so a JPEG may be decoded at reduced size. Raises ImageRefused, or DecodeBudgetExceeded when
    `budget` is spent.
    """
    if len(data) > MAX_IMAGE_FILE_BYTES:
        raise ImageRefused(name, TOO_LARGE, f"the file is larger than {MAX_IMAGE_FILE_BYTES // 2**20} MB")
    stream = _DeadlineStream(data, name, seconds)
    try:
        image = Image.open(stream, formats=IMAGE_FORMATS)
    except ImageRefused:
        raise
    except Image.DecompressionBombError as exc:  # far beyond max_pixels: Pillow's own header check
        why = f"too large: more pixels than the limit of {max_pixels:,} ({exc})"
        raise ImageRefused(name, TOO_MANY_PIXELS, why) from None
    except Exception:  # Pillow raises many types on damaged headers; all mean "cannot open"
        raise _refuse_unopened(data, name) from None
    with image:
        if image.format not in _REPORTED_FORMATS:
            raise ImageRefused(name, NOT_ALLOWED, f"{image.format} images are not accepted (allowed: {_FORMAT_NAMES})")
        if draft_size:
            image.draft(None, (draft_size, draft_size))  # JPEG only; other formats ignore it
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRefused(name, TOO_MANY_PIXELS,
                               f"too large: {width}×{height} pixels, more than the limit of {max_pixels:,}")
        if budget is not None:
            budget.spend(width * height, name)
        try:
            image.load()
        except ImageRefused:
            raise
        except Exception as exc:  # truncated or corrupt pixel data
            raise ImageRefused(name, UNREADABLE, f"damaged {image.format} data ({exc})") from None
        stream.check()
        converted = to_eight_bit(image)
    stream.check()
    return converted
