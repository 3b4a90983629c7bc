"""FID and KID of image samples, on the features of genlab's own small classifier (not Inception).

torchmetrics computes both; genlab only supplies the feature extractor (`genlab.metrics.classifier`):

    FID = ‖μ_r − μ_f‖² + Tr(Σ_r + Σ_f − 2 (Σ_r Σ_f)^½)          (Heusel et al. 2017)
    KID = unbiased MMD² with the kernel k(a, b) = (aᵀb / d + 1)³,   (Bińkowski et al. 2018)
          averaged over random subsets (mean and std reported)

Because the feature space is a 64-dimensional layer of a classifier trained on the data set itself,
values are comparable between runs on the same data set only, never with published (Inception) FIDs.
Every result says so in "feature_space"; figures should use `fid_label(dataset)`.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.metrics.classifier import has_feature_classifier, load_feature_extractor

DEFAULT_SAMPLES = 2000
FEATURE_BATCH = 500


def feature_space(dataset: str) -> str:
    return f"genlab classifier features ({dataset}); not comparable with Inception FID"


def fid_label(dataset: str) -> str:
    """Axis / figure label for FID values of `dataset`."""
    return f"FID on genlab {dataset} classifier features (not Inception FID)"


def supports_fid(dataset: str, root: str | Path | None = None) -> bool:
    """Whether a feature classifier exists for `dataset` (shipped: fashion_mnist, shapes)."""
    return has_feature_classifier(dataset, root)


class _SharedFeatures(torch.nn.Module):
    """The feature extractor, remembering its last batch: FID and KID both update on the same batch
    object, so each batch goes through the network once instead of twice."""

    def __init__(self, extractor: torch.nn.Module):
        super().__init__()
        self.extractor = extractor
        self.num_features = extractor.num_features
        self._last: tuple[Tensor, Tensor] | None = None

    def forward(self, images: Tensor) -> Tensor:
        if self._last is None or self._last[0] is not images:
            self._last = (images, self.extractor(images))
        return self._last[1]


def _batches(images: Tensor, size: int):
    for start in range(0, len(images), size):
        yield images[start : start + size]


@torch.no_grad()
def sample_fid(real: Tensor, fake: Tensor, dataset: str, *, root: str | Path | None = None,
               kid_subsets: int = 50, kid_subset_size: int = 1000, seed: int = 0,
               device: str | torch.device = "cpu") -> dict[str, Any]:
    """FID and KID between two sets of images (N, C, H, W): float in [0, 1] or uint8 in [0, 255].

    The feature classifier of `dataset` is used for both sets, whatever they contain; images of another
    size are resized to the classifier's input size. KID (in squared feature units, like FID) is the
    mean and std over `kid_subsets` random subsets, drawn from `seed`, of min(kid_subset_size, N/2) images.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"FID needs at least 2 images per set; got {len(real)} real and {len(fake)} fake")
    extractor = _SharedFeatures(load_feature_extractor(dataset, root, device))
    # normalize=True: inputs are float images in [0, 1] (with a custom feature module torchmetrics passes
    # them through unchanged; the extractor also accepts uint8).
    fid = FrechetInceptionDistance(feature=extractor, normalize=True)
    # subsets of at most half of each set, so that the reported std reflects sampling (a subset as large
    # as the set is the whole set in every draw: std 0)
    subset = max(2, min(kid_subset_size, len(real) // 2, len(fake) // 2))
    with warnings.catch_warnings():  # "will save all extracted features in buffer": 64 floats per image here
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(feature=extractor, subsets=kid_subsets, subset_size=subset, normalize=True)
    for images, is_real in ((real, True), (fake, False)):
        for batch in _batches(images, FEATURE_BATCH):
            batch = batch.to(device)
            fid.update(batch, real=is_real)
            kid.update(batch, real=is_real)
    with torch.random.fork_rng(devices=[]):  # KID draws its subsets from the global RNG: keep it reproducible
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {
        "fid": float(fid.compute()),
        "kid_mean": float(kid_mean),
        "kid_std": float(kid_std),
        "n_real": len(real),
        "n_fake": len(fake),
        "feature_space": feature_space(dataset),
    }


def generated_images(trainer, n: int, generator: torch.Generator, batch_size: int = FEATURE_BATCH) -> Tensor:
    """n images in [0, 1] on the CPU from prior noise drawn with the CPU `generator` (trainer RNG untouched)."""
    out = []
    for start in range(0, n, batch_size):
        z = torch.randn(min(batch_size, n - start), trainer.latent_dim, generator=generator)
        out.append(trainer.generate(z.to(trainer.device)).cpu())
    return torch.cat(out)


def reference_images(trainer, n: int, generator: torch.Generator, split: str = "test") -> Tensor:
    """(n distinct real images (uint8, CPU) of the trainer's data set from `split`, without replacement;
    what they are in words: "test split", or a set's seeded held-out split)."""
    from genlab.data import load_data

    data = trainer.data if split == "train" else load_data(trainer.config.data, "cpu", seed=trainer.config.seed,
                                                           split=split)
    index = torch.randperm(len(data), generator=generator)[: min(n, len(data))]
    return data.x[index.to(data.x.device)].cpu(), data.split_note or f"{split} split"


def trainer_fid(trainer, n_samples: int = DEFAULT_SAMPLES, generator: torch.Generator | None = None,
                split: str = "test", root: str | Path | None = None) -> dict[str, Any]:
    """FID/KID of `n_samples` generated images against as many real images of the data set's `split`.

    For any trainer with `generate(z)` (GAN or VAE) on an image data set that has a feature classifier.
    Runs on the CPU; about a second per 1000 images on 2 cores. Not for every step: on demand / at the end.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    dataset = trainer.data.name
    real, reference = reference_images(trainer, n_samples, generator, split)
    fake = generated_images(trainer, n_samples, generator)
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    result = sample_fid(real, fake, dataset, root=root, seed=seed)
    result["reference"] = reference
    return result
