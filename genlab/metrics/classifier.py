"""A small image classifier that genlab trains itself, used as the feature space of FID / KID.

Inception-v3 features (the usual FID) need a 100 MB download and 299x299 RGB inputs; genlab's data sets
are 28-64 px, often one channel, and must work offline. So genlab ships, per image data set, a small
conv net trained on that data set, and computes FID/KID on its penultimate layer. Numbers measured this
way are meaningful for comparing runs on the same data set, and NOT comparable with Inception FID.

    conv 3x3 (C->16) ReLU, max-pool 2      S   -> S/2
    conv 3x3 (16->32) ReLU, max-pool 2     S/2 -> S/4
    conv 3x3 stride 2 (32->64) ReLU        S/4 -> S/8 (rounded up)
    adaptive average pool to 4x4, flatten  1024
    linear 1024->64 ReLU                   the features (num_features = 64)
    linear 64->classes (+ regression outputs)

No dropout. BatchNorm is optional (it speeds up training on shapes' tiny objects); the extractor is
always in eval mode, so a feature never depends on the other images in a batch.
On shapes the net also regresses scale and position (besides classifying the shape), so that its
features see every factor a generator can get wrong, not only the shape's identity.

Weights are saved as safetensors plus a JSON config (architecture, data set, test accuracy, the command
that made them) in `checkpoints/classifiers/<dataset>/`, and only ever loaded from safetensors.

Train one (a couple of minutes on 2 CPU cores):

    python -m genlab.metrics.classifier train --dataset fashion_mnist --out checkpoints/classifiers/fashion_mnist
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CLASSIFIER_DATASETS = ("fashion_mnist", "mnist", "shapes")
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "checkpoints" / "classifiers"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FEATURE_DIM = 64
# Shapes: besides the shape index, regress the factors that are not ambiguous under the shapes' symmetries
# (rotation is: a square looks the same every 90 degrees), each rescaled to [0, 1].
SHAPES_REGRESSED = ("scale", "pos_x", "pos_y")
SHAPES_RANGES = {"scale": (0.5, 1.0), "pos_x": (0.0, 1.0), "pos_y": (0.0, 1.0)}  # genlab.data.shapes lattice
SHAPES_TRAIN_SIZE = 32  # shapes classifier input size; other sizes are resized to it


class ClassifierUnavailableError(RuntimeError):
    """No trained feature classifier for a data set; the message says how to make one."""


class FeatureClassifier(nn.Module):
    """x (B, C, S, S) in [0, 1] -> logits (B, n_classes) and regression outputs (B, n_regress)."""

    def __init__(self, in_channels: int, image_size: int, n_classes: int, n_regress: int = 0,
                 feature_dim: int = FEATURE_DIM, batchnorm: bool = False):
        super().__init__()
        self.in_channels, self.image_size = in_channels, image_size
        self.n_classes, self.n_regress, self.feature_dim = n_classes, n_regress, feature_dim
        self.batchnorm = batchnorm

        def conv(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)]
            return layers + ([nn.BatchNorm2d(c_out)] if batchnorm else []) + [nn.ReLU()]

        self.body = nn.Sequential(
            *conv(in_channels, 16), nn.MaxPool2d(2),  # (B, 16, S/2, S/2)
            *conv(16, 32), nn.MaxPool2d(2),  # (B, 32, S/4, S/4)
            *conv(32, 64, stride=2),  # (B, 64, ~S/8, ~S/8)
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),  # (B, 1024)
            nn.Linear(64 * 16, feature_dim), nn.ReLU(),  # (B, feature_dim): the FID features
        )
        self.head = nn.Linear(feature_dim, n_classes + n_regress)

    def architecture(self) -> dict[str, int]:
        return {"in_channels": self.in_channels, "image_size": self.image_size, "n_classes": self.n_classes,
                "n_regress": self.n_regress, "feature_dim": self.feature_dim, "batchnorm": self.batchnorm}

    def features(self, x: Tensor) -> Tensor:
        return self.body(x - 0.5)  # inputs in [0, 1], centred

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.head(self.features(x))
        return out[:, : self.n_classes], out[:, self.n_classes :]


class ClassifierFeatures(nn.Module):
    """The feature extractor handed to torchmetrics: images -> (B, num_features) penultimate activations.

    Accepts uint8 images in [0, 255] or float images in [0, 1] of the data set's channel count; other
    sizes are resized (bilinear, antialiased) to the size the classifier was trained at.
    `num_features` tells torchmetrics the feature size (without it, it would probe a 299x299 RGB image).
    """

    def __init__(self, classifier: FeatureClassifier, dataset: str, meta: dict[str, Any] | None = None):
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.num_features = classifier.feature_dim
        self.dataset = dataset
        self.meta = dict(meta or {})
        self.train(False)

    def train(self, mode: bool = True) -> ClassifierFeatures:
        return super().train(False)  # a fixed feature space: never in training mode

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        c, s = self.classifier.in_channels, self.classifier.image_size
        if x.dim() != 4 or x.shape[1] != c:
            raise ValueError(f"the {self.dataset} feature classifier needs images (B, {c}, H, W); got {tuple(x.shape)}")
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", antialias=x.shape[-1] > s, align_corners=False)
        param = next(self.classifier.parameters())
        return self.classifier.features(x.to(param.device, param.dtype))


# ------------------------------------------------------------------------------------------------
# Saving and loading (safetensors only)
# ------------------------------------------------------------------------------------------------
def save_classifier(classifier: FeatureClassifier, out: Path, meta: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in classifier.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE))
    config = {"architecture": classifier.architecture(), **meta}
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


def classifier_dir(dataset: str, root: str | Path | None = None) -> Path:
    return Path(root) / dataset if root is not None else DEFAULT_ROOT / dataset


def has_feature_classifier(dataset: str, root: str | Path | None = None) -> bool:
    folder = classifier_dir(dataset, root)
    return (folder / WEIGHTS_FILE).is_file() and (folder / CONFIG_FILE).is_file()


_CACHE: dict[tuple[str, str], ClassifierFeatures] = {}
_CACHE_LOCK = threading.Lock()


def load_feature_extractor(dataset: str, root: str | Path | None = None,
                           device: str | torch.device = "cpu") -> ClassifierFeatures:
    """The shipped (or user-trained) feature extractor for `dataset`, cached per folder and device."""
    folder = classifier_dir(dataset, root).resolve()
    key = (str(folder), str(torch.device(device)))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    if not has_feature_classifier(dataset, root):
        command = f"python -m genlab.metrics.classifier train --dataset {dataset} --out {folder}"
        supported = "" if dataset in CLASSIFIER_DATASETS else (
            f" (genlab trains feature classifiers for {', '.join(CLASSIFIER_DATASETS)} only)")
        raise ClassifierUnavailableError(
            f"No feature classifier for {dataset!r} in {folder}{supported}. FID/KID need one; make it with: {command}"
        )
    from safetensors.torch import load_file

    meta = json.loads((folder / CONFIG_FILE).read_text())
    classifier = FeatureClassifier(**meta["architecture"])
    classifier.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
    extractor = ClassifierFeatures(classifier, dataset, meta).to(device)
    with _CACHE_LOCK:
        return _CACHE.setdefault(key, extractor)


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------
def _targets(source, n_regress: int) -> tuple[Tensor, Tensor]:
    """(class labels (N,), regression targets (N, n_regress) in [0, 1]) of a DataSource."""
    labels = source.labels.cpu()
    if not n_regress:
        return labels, torch.zeros(len(labels), 0)
    names = list(source.factor_names)
    factors = source.factors.cpu()
    columns = []
    for name in SHAPES_REGRESSED:
        low, high = SHAPES_RANGES[name]
        columns.append((factors[:, names.index(name)] - low) / (high - low))
    return labels, torch.stack(columns, 1)


def _load_splits(dataset: str, data_path: str, n_train: int, n_test: int, seed: int):
    from genlab.config import DataConfig
    from genlab.data import load_data

    if dataset == "shapes":
        train = load_data(DataConfig(name="shapes", image_size=SHAPES_TRAIN_SIZE, n_samples=n_train), seed=seed)
        test = load_data(DataConfig(name="shapes", image_size=SHAPES_TRAIN_SIZE, n_samples=n_test), seed=seed,
                         split="test")
    else:
        cfg = DataConfig(name=dataset, path=data_path)
        train, test = load_data(cfg, seed=seed), load_data(cfg, seed=seed, split="test")
    return train, test


@torch.no_grad()
def evaluate_classifier(classifier: FeatureClassifier, images: Tensor, labels: Tensor, targets: Tensor,
                        batch_size: int = 1000) -> dict[str, float]:
    """Accuracy on (uint8 images, labels), and the mean absolute error of each regressed target."""
    classifier.eval()
    correct, abs_err = 0, torch.zeros(targets.shape[1])
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].float() / 255.0
        logits, regress = classifier(x)
        correct += int((logits.argmax(1) == labels[start : start + batch_size]).sum())
        abs_err += (regress - targets[start : start + batch_size]).abs().sum(0)
    result = {"test_accuracy": correct / len(images)}
    for name, err in zip(SHAPES_REGRESSED, abs_err / len(images)):
        result[f"test_mae/{name}"] = float(err)
    return result


def train_classifier(dataset: str, epochs: int = 2, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                     n_train: int = 30_000, n_test: int = 5_000, data_path: str = "", batchnorm: bool = False,
                     regress_weight: float = 1.0, log=print) -> tuple[FeatureClassifier, dict[str, Any]]:
    """Train the feature classifier of `dataset` on its train split; test metrics on its test split.

    n_train / n_test apply to shapes only (a synthetic set); MNIST-like sets use their official splits.
    regress_weight: weight of the shapes factor regression (MSE on [0, 1] targets) next to the
    cross-entropy. One-cycle learning-rate schedule peaking at `lr`.
    """
    if dataset not in CLASSIFIER_DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(CLASSIFIER_DATASETS)}; got {dataset!r}")
    torch.manual_seed(seed)
    train, test = _load_splits(dataset, data_path, n_train, n_test, seed)
    n_regress = len(SHAPES_REGRESSED) if dataset == "shapes" else 0
    train_labels, train_targets = _targets(train, n_regress)
    test_labels, test_targets = _targets(test, n_regress)
    c, s, _ = train.shape
    classifier = FeatureClassifier(c, s, n_classes=len(train.class_names) or int(train_labels.max()) + 1,
                                   n_regress=n_regress, batchnorm=batchnorm)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    images = train.x.cpu()
    steps_per_epoch = math.ceil(len(images) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    started = time.perf_counter()
    for epoch in range(epochs):
        classifier.train()
        order = torch.randperm(len(images), generator=generator)
        total = 0.0
        for start in range(0, len(images), batch_size):
            idx = order[start : start + batch_size]
            x = images[idx].float() / 255.0
            logits, regress = classifier(x)
            loss = F.cross_entropy(logits, train_labels[idx])
            if n_regress:
                loss = loss + regress_weight * F.mse_loss(regress, train_targets[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        scores = evaluate_classifier(classifier, test.x.cpu(), test_labels, test_targets)
        log(f"epoch {epoch + 1}/{epochs}: train loss {total / len(images):.4f}, "
            + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()) + f" ({time.perf_counter() - started:.0f} s)")
    meta = {
        "dataset": dataset,
        "classes": list(train.class_names),
        "regressed": list(SHAPES_REGRESSED[:n_regress]),
        **scores,
        "n_train": len(images),
        "n_test": len(test),
        "train_origin": train.origin,
        "test_origin": test.origin,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "regress_weight": regress_weight if n_regress else None,
        "seed": seed,
        "parameters": sum(p.numel() for p in classifier.parameters()),
        "train_seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
        "feature_space": "penultimate layer (ReLU), num_features = feature_dim",
    }
    return classifier.eval(), meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genlab.metrics.classifier",
                                     description="Train the feature classifier that genlab's FID/KID use.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train and save a feature classifier")
    p.add_argument("--dataset", required=True, choices=CLASSIFIER_DATASETS)
    p.add_argument("--out", default=None, help="folder to write (default checkpoints/classifiers/<dataset>)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=30_000, help="shapes only")
    p.add_argument("--n-test", type=int, default=5_000, help="shapes only")
    p.add_argument("--data-path", default="", help="where the MNIST-like IDX files are (data.path)")
    p.add_argument("--batchnorm", action="store_true", help="BatchNorm after each conv (frozen when used)")
    p.add_argument("--regress-weight", type=float, default=1.0, help="shapes: weight of the factor regression")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    argv_used = sys.argv[1:] if argv is None else argv
    out = Path(args.out) if args.out else DEFAULT_ROOT / args.dataset
    classifier, meta = train_classifier(args.dataset, args.epochs, args.batch_size, args.lr, args.seed,
                                        args.n_train, args.n_test, args.data_path, args.batchnorm,
                                        args.regress_weight)
    meta["command"] = "python -m genlab.metrics.classifier " + " ".join(shlex.quote(a) for a in argv_used)
    save_classifier(classifier, out, meta)
    print(f"saved {out / WEIGHTS_FILE} (test accuracy {meta['test_accuracy']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
