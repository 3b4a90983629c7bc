"""Collect the images of a folder or an uploaded zip into one uint8 DataSource.

Each image is decoded by genlab.data.untrusted_image, centre-cropped to a square and resized to the
run's `image_size`. Colour images stay RGB (3 channels); when every image turns out grey (R = G = B
everywhere) one channel is kept. Files that are refused are skipped and counted by reason
(`DataSource.skipped`, and the reasons in its `origin`); when none is left, ConfigError("data.path",
...) says so. The whole set shares one DecodeBudget: past it the set is refused, not cut short.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from PIL import Image

from genlab.config import ConfigError
from genlab.data.source import DataSource
from genlab.data.untrusted_image import DecodeBudget, DecodeBudgetExceeded, ImageRefused, open_untrusted_image

FIELD = "data.path"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# Shrinking in two stages (cheap box reduction, then Lanczos from >= 3x the target) costs a fraction of
# a full Lanczos pass on a large photo and looks the same.
REDUCING_GAP = 3.0


def square(image: Image.Image, size: int) -> Image.Image:
    """The largest centred square of `image`, resized to size x size."""
    width, height = image.size
    side = min(width, height)
    box = ((width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2)
    return image.resize((size, size), Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)


def _listed(counts: Counter) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


class ImageCollector:
    """Decodes up to `capacity` images into a preallocated (capacity, 3, S, S) uint8 array.

    The array is allocated once for the largest possible set (a caller's count of candidate files,
    itself capped by genlab.data.limits.max_images); the OS commits its pages only as images are
    written, so memory follows the images kept and no second copy is made when stacking.
    """

    def __init__(self, image_size: int, capacity: int, origin: str):
        self.image_size = image_size
        self.origin = origin
        self.x = np.empty((capacity, 3, image_size, image_size), dtype=np.uint8)
        self.count = 0
        self.skipped: Counter = Counter()
        self.budget = DecodeBudget()

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def add(self, data: bytes, name: str) -> None:
        """Decode and keep one image, or count why it was skipped."""
        try:
            image = open_untrusted_image(data, name=name, draft_size=2 * self.image_size, budget=self.budget)
        except ImageRefused as refusal:
            self.skip(refusal.reason)
            return
        except DecodeBudgetExceeded as exc:
            raise ConfigError(FIELD, self.origin, f"refused: {exc}") from None
        self.x[self.count] = np.asarray(square(image.convert("RGB"), self.image_size)).transpose(2, 0, 1)
        self.count += 1

    def source(self, device) -> DataSource:
        """The kept images as a DataSource on `device`; ConfigError when none could be read."""
        n_skipped = sum(self.skipped.values())
        if self.count == 0:
            unread = f"; {n_skipped} files could not be read ({_listed(self.skipped)})" if n_skipped else ""
            raise ConfigError(FIELD, self.origin, f"no readable images ({', '.join(IMAGE_EXTENSIONS)}) found{unread}")
        x = torch.from_numpy(self.x[: self.count])
        if bool((x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all()):
            x = x[:, :1]  # all grey: one channel
        note = f" (skipped {n_skipped}: {_listed(self.skipped)})" if n_skipped else ""
        size = self.image_size
        return DataSource(
            name="folder", kind="images", x=x.contiguous().to(device), skipped=n_skipped,
            origin=f"{self.count} images of {size}x{size} px from {self.origin}{note}",
        )
