"""The run configuration: one dataclass per section, each field declared once as a knob.

Every value a user can type goes through `RunConfig.validate()` (each field's declared rule, then the
rules that tie fields together); anything wrong raises ConfigError naming the field, the bad value and
what is allowed. No other exception type escapes `RunConfig.from_dict`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import Any

from genlab import safe_json
from genlab.config.dotted import set_dotted
from genlab.config.errors import ConfigError, check_run_name
from genlab.config.knobs import check_fields, knob, section
from genlab.config.legacy import upgrade_legacy_keys

TOY2D_DATASETS = ("ring", "grid", "spiral", "moons", "circles", "checkerboard", "swissroll", "points")
IMAGE_DATASETS = ("shapes", "mnist", "fashion_mnist", "cifar10", "folder")
DATASETS = TOY2D_DATASETS + IMAGE_DATASETS
FAMILIES = ("gan", "vae")
ARCHS = ("mlp", "conv", "resnet")
GAN_LOSSES = ("nonsaturating", "minimax", "hinge", "wasserstein", "least_squares")
LIKELIHOODS = ("bernoulli", "gaussian")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
UPDATE_ORDERS = ("alternating", "simultaneous")  # the Dirac-GAN lab's two schemes (genlab.theory.dynamics)
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
IMAGE_SIZES = (28, 32, 64)

DATASET_LABELS = {
    "ring": "Ring: 8 Gaussians (2D)", "grid": "Grid: 25 Gaussians (2D)", "spiral": "Spiral (2D)",
    "moons": "Two moons (2D)", "circles": "Circles (2D)", "checkerboard": "Checkerboard (2D)",
    "swissroll": "Swiss roll (2D)", "points": "Your 2D points (CSV upload)", "shapes": "Shapes (dSprites-like images)",
    "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "folder": "Your images (zip upload)",
}
ARCH_LABELS = {"mlp": "MLP", "conv": "conv (DCGAN-style)", "resnet": "ResNet (SNGAN-style residual blocks)"}
TRAIN_SIZES = (0, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)
TRAIN_SIZE_LABELS = {n: "all images" if n == 0 else f"{n:,} images" for n in TRAIN_SIZES}
# D's input augmentation: off, a DiffAugment policy (Zhao et al. 2020: its operations, always applied
# with probability `strength`), or ADA (Karras et al. 2020: its own operations, p adapted from r_t)
DIFFAUGMENT_POLICIES = ("color,translation,cutout", "translation,cutout", "translation")
AUGMENT_POLICIES = ("off", *DIFFAUGMENT_POLICIES, "ada")
AUGMENT_LABELS = {"off": "off", "ada": "adaptive (ADA: p follows D's overfitting r_t)",
                  **{p: "DiffAugment: " + p.replace(",", " + ") for p in DIFFAUGMENT_POLICIES}}
VAE_AUGMENT_POLICIES = ("off", "xflip", "translation", "xflip,translation")
GAN_LOSS_LABELS = {
    "nonsaturating": "non-saturating (−log D(G(z)))", "minimax": "minimax (log(1 − D(G(z))))",
    "hinge": "hinge", "wasserstein": "Wasserstein (use WGAN-GP or clipping)", "least_squares": "least squares",
}

# value ladders of the Train page's sliders
LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
WEIGHT_PENALTIES = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
GAMMAS = (0.0, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0)
STRENGTH = (0.0, 1000.0)  # bounds of every penalty strength


# network -> (its model family, how a label names it, its short name in Runs labels; lower-cased in flags)
NETWORKS = {"generator": ("gan", "G", "G"), "discriminator": ("gan", "D", "D"),
            "encoder": ("vae", "the encoder", "enc"), "decoder": ("vae", "the decoder", "dec")}


def _weight_penalty(norm: str, network: str) -> Any:
    """The strength of an L1 or L2 penalty on one network's weights (genlab.trainers.penalties)."""
    family, who, short = NETWORKS[network]
    formula = "λ·Σ|W_ij|" if norm == "L1" else "λ·Σ‖W‖²_F"
    return knob(0.0, key=f"{norm.lower()}-{short.lower()}", label=f"{norm} penalty on {who}'s weights",
                formula=formula, bounds=STRENGTH, family=family, acts_on=network, live=True, off=0.0,
                ui_values=WEIGHT_PENALTIES, short=f"{norm}({short})", column=norm == "L2")


def _spectral_norm(network: str) -> Any:
    family, who, short = NETWORKS[network]
    return knob(False, key=f"sn-{short.lower()}", label=f"Spectral norm on {who}", formula="W / σ_max(W)",
                family=family, acts_on=network, off=False, short=f"SN({short})", column=True,
                help="Every layer's weight divided by its largest singular value. Part of the model: needs a Reset.")


def _learning_rate(network: str) -> Any:
    family, _, short = NETWORKS[network]
    return knob(1e-3, key=f"lr-{short.lower()}", label=f"{network.capitalize()} learning rate", bounds=(0.0, 10.0),
                low_open=True, family=family, acts_on=network, live=True, ui_values=LEARNING_RATES, short=f"lr {short}")


def _parent_name(name: Any) -> None:
    """The parent of a transfer run is named like any run (a folder under the runs root), or "" for none."""
    if name != "":
        try:
            check_run_name(name)
        except ConfigError as exc:
            raise ConfigError("transfer.from_run", name, exc.allowed) from None


class Section:
    """A group of declared fields; `validate` checks each against its declaration."""

    def validate(self, prefix: str) -> None:
        check_fields(self, f"{prefix}.")


@dataclass
class DataConfig(Section):
    name: str = knob("ring", key="dataset", label="Data set", choices=DATASETS, choice_labels=DATASET_LABELS,
                     help="MNIST / Fashion-MNIST / CIFAR-10 are read from ./data (Fashion-MNIST also from Debian's "
                          "dataset-fashion-mnist); tick Download to fetch them.")
    n_samples: int = knob(50_000, key="n-samples", label="Size of synthetic data sets (2D and shapes)",
                          bounds=(16, 2_000_000), ui=False)
    image_size: int = knob(32, key="image-size", label="Image size", choices=IMAGE_SIZES,
                           only_if=("data.name", ("shapes", "folder")),
                           help="For shapes and your images; MNIST-like sets are 28 px, CIFAR-10 is 32 px.")
    path: str = knob("", key="data-path", label="CSV of points, folder of images, or where torchvision sets live",
                     ui=False)
    download: bool = knob(False, key="download", label="Download if not found",
                          only_if=("data.name", ("mnist", "fashion_mnist", "cifar10")),
                          help="MNIST, Fashion-MNIST, CIFAR-10: download when not found offline (needs the internet).")

    train_size: int = knob(0, key="train-size", label="Training set size", choices=TRAIN_SIZES,
                           choice_labels=TRAIN_SIZE_LABELS, only_if=("data.name", IMAGE_DATASETS), short="train n",
                           column=True, off=0,
                           help="Train on a fixed seeded subset of the training images (too little data makes D "
                                "overfit; augmentation and transfer are the cures). Held-out images never enter it.")
    subset_seed: int = knob(0, key="subset-seed", label="Seed of the training subset and of a carved held-out split",
                           bounds=(0, 2**31 - 1), ui=False)

    def validate(self, prefix: str = "data") -> None:
        super().validate(prefix)
        if self.name in ("points", "folder") and not self.path:
            raise ConfigError(f"{prefix}.path", self.path, f"is required for dataset {self.name!r}")

    @property
    def is_2d(self) -> bool:
        return self.name in TOY2D_DATASETS


@dataclass
class ModelConfig(Section):
    family: str = knob("gan", key="family", label="Model family", choices=FAMILIES, choice_labels={"gan": "GAN", "vae": "VAE"})
    arch: str = knob("mlp", key="arch", label="Architecture", choices=ARCHS, choice_labels=ARCH_LABELS,
                     help="MLP for 2D data (and small images); conv (DCGAN-style) or ResNet (residual blocks, "
                          "as in SNGAN) for images.")
    spectral_norm_discriminator: bool = _spectral_norm("discriminator")
    spectral_norm_generator: bool = _spectral_norm("generator")
    spectral_norm_encoder: bool = _spectral_norm("encoder")
    spectral_norm_decoder: bool = _spectral_norm("decoder")
    latent_dim: int = knob(2, key="latent-dim", label="Latent size", bounds=(1, 512), short="latent", column=True)
    width: int = knob(128, key="width", label="Width (hidden units / base channels)", bounds=(4, 2048), ui_step=16,
                      short="width")
    depth: int = knob(2, key="depth", label="Depth (MLP hidden layers)", bounds=(1, 8), short="depth",
                      only_if=("model.arch", ("mlp",)), help="Conv nets take their depth from the image size.")


@dataclass
class ObjectiveConfig(Section):
    """The loss and every regularizer; the strengths can change between steps (live)."""

    gan_loss: str = knob("nonsaturating", key="loss", label="GAN loss", choices=GAN_LOSSES,
                         choice_labels=GAN_LOSS_LABELS, family="gan", short="loss", column=True)
    likelihood: str = knob("bernoulli", key="likelihood", label="Likelihood p(x|z)", choices=LIKELIHOODS,
                           family="vae", short="likelihood",
                           help="Bernoulli for images in [0, 1]; Gaussian (fixed σ) for 2D points.")
    gaussian_std: float = knob(0.1, key="gaussian-std", label="Gaussian σ", bounds=(0.0, 10.0), low_open=True,
                               family="vae", only_if=("objective.likelihood", ("gaussian",)),
                               ui_values=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
                               help="The fixed standard deviation of the decoder's Gaussian.")
    beta: float = knob(1.0, key="beta", label="β (weight of the KL term)", formula="β·KL(q(z|x) ‖ p(z))",
                       bounds=STRENGTH, family="vae", live=True, short="β", column=True,
                       ui_values=(0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
                       help="β = 1 is the ELBO; β > 1 is a β-VAE.")
    capacity: float = knob(0.0, key="capacity", label="Capacity C in nats", formula="β·|KL − C|", bounds=STRENGTH,
                           family="vae", live=True, off=0.0, short="C", column=True,
                           ui_values=(0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 25.0, 50.0),
                           help="Burgess et al.: the KL is pulled towards a target C instead of 0.")
    kl_warmup_steps: int = knob(0, key="kl-warmup", label="KL warm-up steps (β ramps up from 0)",
                                bounds=(0, 10_000_000), family="vae", live=True, off=0,
                                ui_values=(0, 100, 500, 1000, 2000, 5000, 10000, 50000))
    r1_gamma: float = knob(0.0, key="r1", label="R1 γ", formula="½γ·E‖∇D(x)‖² on real data", bounds=STRENGTH,
                           family="gan", acts_on="discriminator", live=True, off=0.0, ui_values=GAMMAS,
                           short="R1 γ", column=True, help="Zero-centred gradient penalty on real data.")
    r2_gamma: float = knob(0.0, key="r2", label="R2 γ", formula="½γ·E‖∇D(G(z))‖² on generated data",
                           bounds=STRENGTH, family="gan", acts_on="discriminator", live=True, off=0.0,
                           ui_values=GAMMAS, short="R2 γ", column=True)
    lazy_interval: int = knob(1, key="lazy-every", label="Lazy R1/R2: every k-th D update only",
                              formula="k·γ·penalty on every k-th update, none between", bounds=(1, 1000),
                              family="gan", acts_on="discriminator", live=True, off=1,
                              ui_values=(1, 2, 4, 8, 16, 32), short="R1/R2 every",
                              help="Karras et al. 2020 (StyleGAN2): the zero-centred penalties cost a second-order "
                                   "backward pass; on the updates in between D skips them, and each update that "
                                   "carries them counts them k times, so the mean pull is unchanged. "
                                   "1: every update.")
    gp_lambda: float = knob(0.0, key="gp", label="WGAN-GP λ", formula="λ·E(‖∇D(x̂)‖ − 1)²", bounds=STRENGTH,
                            family="gan", acts_on="discriminator", live=True, off=0.0, short="GP λ", column=True,
                            ui_values=(0.0, 0.1, 1.0, 5.0, 10.0, 100.0))
    weight_clip: float = knob(0.0, key="weight-clip", label="Weight clipping c of D", formula="W ← clamp(W, −c, c)",
                              bounds=(0.0, 100.0), family="gan", acts_on="discriminator", live=True, off=0.0,
                              ui_values=(0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0), short="clip", column=True)
    grad_clip: float = knob(0.0, key="grad-clip", label="Gradient clipping, max norm", formula="g ← g·min(1, c/‖g‖)",
                            bounds=(0.0, 1e6), live=True, off=0.0, ui_values=(0.0, 0.1, 0.5, 1.0, 5.0, 10.0, 100.0),
                            short="grad clip", column=True, help="Per network, over all its parameters.")
    l2_discriminator: float = _weight_penalty("L2", "discriminator")
    l1_discriminator: float = _weight_penalty("L1", "discriminator")
    l2_generator: float = _weight_penalty("L2", "generator")
    l1_generator: float = _weight_penalty("L1", "generator")
    ortho_generator: float = knob(0.0, key="ortho-g", label="Orthogonality penalty on G's weights",
                                  formula="λ·Σ‖WᵀW − I‖²_F", bounds=STRENGTH, family="gan", acts_on="generator",
                                  live=True, off=0.0, ui_values=(0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1),
                                  short="ortho(G)", column=True,
                                  help="Brock et al. 2016: keeps each weight matrix near orthonormal.")
    l2_encoder: float = _weight_penalty("L2", "encoder")
    l1_encoder: float = _weight_penalty("L1", "encoder")
    l2_decoder: float = _weight_penalty("L2", "decoder")
    l1_decoder: float = _weight_penalty("L1", "decoder")


@dataclass
class AugmentConfig(Section):
    """Augmentation of the images a GAN's discriminator sees (real and generated alike), or of a VAE's input."""

    policy: str = knob("off", key="augment", label="Augment D's inputs", choices=AUGMENT_POLICIES,
                       choice_labels=AUGMENT_LABELS, family="gan", live=True, off="off", short="aug", column=True,
                       only_if=("data.name", IMAGE_DATASETS),
                       help="Real and generated images both pass through the same random, differentiable "
                            "transformations before D, so D cannot memorize the few real ones and G still learns.")
    strength: float = knob(1.0, key="augment-p", label="DiffAugment strength p", formula="each operation applied "
                           "with probability p", bounds=(0.0, 1.0), family="gan", live=True,
                           only_if=("augment.policy", DIFFAUGMENT_POLICIES), ui_values=(0.1, 0.25, 0.5, 0.75, 1.0),
                           short="aug p", help="1 = always (the DiffAugment paper's setting).")
    ada_target: float = knob(0.6, key="ada-target", label="ADA target r_t", formula="r_t = E[sign(D(x_real))]",
                             bounds=(0.0, 1.0), family="gan", live=True, only_if=("augment.policy", ("ada",)),
                             ui_values=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), short="ADA target",
                             help="p rises while r_t is above the target (D too sure of the real images), falls below.")
    ada_speed: int = knob(500_000, key="ada-speed", label="ADA speed: images for p to move by 1",
                          bounds=(1_000, 100_000_000), family="gan", live=True, only_if=("augment.policy", ("ada",)),
                          ui_values=(10_000, 20_000, 50_000, 100_000, 500_000), short="ADA speed",
                          help="Karras et al. 2020 adjust p every 4 batches so that it can go from 0 to 1 in "
                               "500k images; smaller moves faster (short runs on a CPU).")
    vae_input: str = knob("off", key="augment-input", label="Augment the VAE's training images",
                          choices=VAE_AUGMENT_POLICIES, family="vae", live=True, off="off", short="aug",
                          only_if=("data.name", IMAGE_DATASETS),
                          help="Ordinary augmentation: each operation on half the images (flips left-right, "
                               "shifts by up to 1/8 of the side); the ELBO is taken on the augmented image.")


@dataclass
class TransferConfig(Section):
    """Start from a saved run's weights (those that fit) instead of a fresh initialisation."""

    from_run: str = knob("", key="from-run", label="Start from the weights of this saved run",
                         check_with=_parent_name, ui=False, off="", short="from", column=True,
                         help="Its weights that fit this model are loaded; the rest are skipped, and the run "
                              "records its parent.")
    freeze_d: int = knob(0, key="freeze-d", label="Freeze D's first k weight layers (FreezeD)", bounds=(0, 64),
                         family="gan", acts_on="discriminator", off=0, ui=False, short="freeze D",
                         help="Mo et al. 2020: keep the parent's low-level features of D fixed, fine-tune the rest.")
    lr_scale: float = knob(1.0, key="lr-scale", label="Learning-rate factor for fine-tuning",
                           formula="every learning rate × factor", bounds=(0.0, 1.0), low_open=True, off=1.0,
                           ui=False, short="lr ×", ui_values=(0.01, 0.03, 0.1, 0.3, 1.0))


@dataclass
class OptimConfig(Section):
    optimizer: str = knob("adam", key="optimizer", label="Optimizer", choices=OPTIMIZERS)
    lr_generator: float = _learning_rate("generator")
    lr_discriminator: float = _learning_rate("discriminator")
    lr_encoder: float = _learning_rate("encoder")
    lr_decoder: float = _learning_rate("decoder")
    # Adam (0, 0.9) kept the 2D ring GAN from stalling on more seeds than (0.5, 0.999)
    beta1: float = knob(0.0, key="beta1", label="Adam β1 (SGD momentum)", bounds=(0.0, 0.9999), ui=False)
    beta2: float = knob(0.9, key="beta2", label="Adam β2", bounds=(0.0, 0.99999), ui=False)
    batch_size: int = knob(256, key="batch-size", label="Batch size", bounds=(1, 65_536), short="batch")
    lr_cooldown: float = knob(0.0, key="lr-cooldown", label="Learning-rate cool-down: last share of the steps",
                              formula="every learning rate falls linearly to 0.1× over the last c·steps",
                              bounds=(0.0, 1.0), off=0.0, ui=False, short="cool-down",
                              help="Lower rates near the end of the step budget settle G onto its modes; "
                                   "past the budget the rates stay at 0.1×.")
    n_critic: int = knob(1, key="n-critic", label="D steps per G step (n_critic)", bounds=(1, 100), family="gan",
                         acts_on="discriminator", live=True, ui_values=(1, 2, 3, 5, 10))
    updates: str = knob("alternating", key="updates", label="G and D updates", choices=UPDATE_ORDERS,
                        family="gan", live=True, off="alternating", short="updates",
                        help="Alternating: D steps, then G steps against the new D. Simultaneous: G's gradient "
                             "is taken at the same D as D's own (with n_critic > 1, at D's last update), and "
                             "both then step. The Dirac-GAN lab draws both schemes on the smallest GAN.")
    ema_decay: float = knob(0.99, key="ema-decay", label="EMA of G's weights for samples", formula="θ_ema ← d·θ_ema + "
                            "(1 − d)·θ_G", bounds=(0.0, 0.99999), family="gan", acts_on="generator", live=True, off=0.0,
                            ui_values=(0.0, 0.9, 0.99, 0.999, 0.9999), short="EMA",
                            help="Samples and previews come from a moving average of the generator's weights.")


@dataclass
class RunConfig:
    name: str = knob("run", key="name", label="Run name (its folder)", check_with=check_run_name, ui=False)
    seed: int = knob(0, key="seed", label="Seed", bounds=(0, 2**31 - 1))
    device: str = knob("auto", key="device", label="Device", choices=DEVICES)
    precision: str = knob("auto", key="precision", label="Precision", choices=PRECISIONS, ui=False,
                          help="auto: bf16 autocast for image models on a CPU with bf16 instructions, float32 "
                               "elsewhere (on CUDA too: the playground's models ran slower in bf16 there); bf16: "
                               "autocast everywhere. Conv and resnet models keep channels_last kernels on a CPU, conv "
                               "models in bf16 on CUDA too")
    steps: int = knob(4000, key="steps", label="Train until this step count", bounds=(1, 100_000_000), ui=False)
    stats_every: int = knob(50, key="stats-every", label="Per-layer norms (and a VAE's KL per dimension) every N steps",
                            bounds=(1, 1_000_000), ui=False)
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    objective: ObjectiveConfig = section(ObjectiveConfig)
    optim: OptimConfig = section(OptimConfig)
    augment: AugmentConfig = section(AugmentConfig)
    transfer: TransferConfig = section(TransferConfig)

    def validate(self) -> "RunConfig":
        check_fields(self)
        for f in fields(self):
            if isinstance(getattr(self, f.name), Section):
                getattr(self, f.name).validate(f.name)
        if self.model.arch in ("conv", "resnet") and self.data.is_2d:
            raise ConfigError("model.arch", self.model.arch, "2D data needs the mlp architecture")
        if self.model.family == "vae" and self.data.is_2d and self.objective.likelihood != "gaussian":
            raise ConfigError("objective.likelihood", self.objective.likelihood, "2D data needs the gaussian likelihood")
        return self

    # --- JSON round trip -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Any) -> "RunConfig":
        """A validated config from a JSON-like dict; runs saved under the old field names load too."""
        config = _build(cls, upgrade_legacy_keys(raw), "")
        return config.validate()

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            raw = safe_json.loads(text, "config")
        except safe_json.JSONError as exc:
            raise ConfigError("config", str(text)[:40], f"must be valid JSON ({exc})") from None
        return cls.from_dict(raw)

    def replace(self, **dotted: Any) -> "RunConfig":
        """A validated copy with some fields changed, e.g. replace(**{"objective.beta": 4.0})."""
        raw = self.to_dict()
        for key, value in dotted.items():
            set_dotted(raw, key, value)
        return RunConfig.from_dict(raw)


def _build(cls, raw: Any, prefix: str):
    where = prefix.rstrip(".") or "config"
    if not isinstance(raw, dict):
        raise ConfigError(where, raw, "must be a JSON object")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}", raw[unknown[0]], f"unknown key; allowed keys: {', '.join(known)}")
    kwargs = {}
    for name, value in raw.items():
        default = known[name].default_factory() if callable(known[name].default_factory) else None
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{prefix}{name}.")
        else:
            kwargs[name] = value
    return cls(**kwargs)
