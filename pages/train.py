"""Train: set up a GAN or VAE, start it, and steer it live while it learns.

Thin by design: widgets and calls into genlab.runner / genlab.viz. Training runs in this tab's
TrainingRunner thread (pages/shared.py); this script only sends commands and draws snapshots, and
the live view is a fragment that re-runs on its own about twice a second (ARCHITECTURE.md).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from genlab.config import GAN_LOSSES, IMAGE_SIZES, LIKELIHOODS, OPTIMIZERS, ConfigError, RunConfig
from genlab.data import DataUnavailableError
from genlab.presets import preset
from genlab.live import DIVERGED, ERROR, IDLE, PAUSED, RUNNING, STOPPED, CapacityError, TrainingRunner
from pages.plain import plain
from pages.recovery import offer_recovery
from pages.shared import checkpoint_root, session_runner, use_app_navigation
from pages.train_view import live_view

use_app_navigation()

ss = st.session_state

DATASET_LABELS = {
    "ring": "Ring: 8 Gaussians (2D)",
    "grid": "Grid: 25 Gaussians (2D)",
    "spiral": "Spiral (2D)",
    "moons": "Two moons (2D)",
    "circles": "Circles (2D)",
    "checkerboard": "Checkerboard (2D)",
    "swissroll": "Swiss roll (2D)",
    "points": "Your 2D points (CSV upload)",
    "shapes": "Shapes (dSprites-like images)",
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "folder": "Your images (zip upload)",
}
GAN_LOSS_LABELS = {
    "nonsaturating": "non-saturating (−log D(G(z)))",
    "minimax": "minimax (log(1 − D(G(z))))",
    "wasserstein": "Wasserstein (use WGAN-GP or clipping)",
    "hinge": "hinge",
    "least_squares": "least squares",
}

# ----------------------------------------------------------------------------------------------
# Setup: fields that need a Reset (they rebuild the model or the data)
# ----------------------------------------------------------------------------------------------
SETUP_FIELDS = {
    "setup.family": "model.family",
    "setup.dataset": "data.name",
    "setup.image_size": "data.image_size",
    "setup.download": "data.download",
    "setup.arch": "model.arch",
    "setup.width": "model.width",
    "setup.depth": "model.depth",
    "setup.latent_dim": "model.latent_dim",
    "setup.sn_d": "model.spectral_norm_d",
    "setup.sn_g": "model.spectral_norm_g",
    "setup.gan_loss": "objective.gan_loss",
    "setup.likelihood": "objective.likelihood",
    "setup.gaussian_std": "objective.gaussian_std",
    "setup.batch_size": "optim.batch_size",
    "setup.optimizer": "optim.optimizer",
    "setup.seed": "seed",
    "setup.device": "device",
}

# ----------------------------------------------------------------------------------------------
# Live controls: (dotted field, label, options or (min, max, step), help). Applied at the next step.
# ----------------------------------------------------------------------------------------------
LR = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
WEIGHT_PENALTY = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
GAMMA = (0.0, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0)
GP_LAMBDA = (0.0, 0.1, 1.0, 5.0, 10.0, 100.0)
WEIGHT_CLIP = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0)
GRAD_CLIP = (0.0, 0.1, 0.5, 1.0, 5.0, 10.0, 100.0)
BETA = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
CAPACITY = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 25.0, 50.0)
WARMUP = (0, 100, 500, 1000, 2000, 5000, 10000, 50000)
N_CRITIC = (1, 2, 3, 5, 10)
EMA_DECAY = (0.0, 0.9, 0.99, 0.999, 0.9999)

GAN_LIVE = (
    ("optim.lr_g", "Generator learning rate", LR, None),
    ("optim.lr_d", "Discriminator learning rate", LR, None),
    ("optim.n_critic", "D steps per G step (n_critic)", N_CRITIC, None),
    ("optim.ema_decay", "EMA of G's weights for samples (0 = off)", EMA_DECAY,
     "Samples and previews come from a moving average of the generator's weights."),
    ("objective.r1_gamma", "R1 γ: ½γ E‖∇D(x)‖² on real data", GAMMA, "Zero-centred gradient penalty on real data."),
    ("objective.r2_gamma", "R2 γ: ½γ E‖∇D(G(z))‖² on generated data", GAMMA, None),
    ("objective.gp_lambda", "WGAN-GP λ: λ E(‖∇D(x̂)‖ − 1)²", GP_LAMBDA, None),
    ("objective.weight_clip", "Weight clipping c of D (0 = off)", WEIGHT_CLIP, None),
    ("objective.grad_clip", "Gradient clipping, max norm (0 = off)", GRAD_CLIP, None),
    ("objective.l2_d", "L2 penalty on D's weights", WEIGHT_PENALTY, None),
    ("objective.l1_d", "L1 penalty on D's weights", WEIGHT_PENALTY, None),
    ("objective.l2_g", "L2 penalty on G's weights", WEIGHT_PENALTY, None),
    ("objective.l1_g", "L1 penalty on G's weights", WEIGHT_PENALTY, None),
)
VAE_LIVE = (
    ("optim.lr_d", "Encoder learning rate", LR, None),
    ("optim.lr_g", "Decoder learning rate", LR, None),
    ("objective.beta", "β (weight of the KL term)", BETA, "β = 1 is the ELBO; β > 1 is a β-VAE."),
    ("objective.capacity", "Capacity C in nats (β·|KL − C|)", CAPACITY, "Burgess et al.: target KL."),
    ("objective.kl_warmup_steps", "KL warm-up steps (β ramps up from 0)", WARMUP, None),
    ("objective.grad_clip", "Gradient clipping, max norm (0 = off)", GRAD_CLIP, None),
    ("objective.l2_d", "L2 penalty on the encoder's weights", WEIGHT_PENALTY, None),
    ("objective.l1_d", "L1 penalty on the encoder's weights", WEIGHT_PENALTY, None),
    ("objective.l2_g", "L2 penalty on the decoder's weights", WEIGHT_PENALTY, None),
    ("objective.l1_g", "L1 penalty on the decoder's weights", WEIGHT_PENALTY, None),
)
REFRESH_S = (0.5, 1.0, 2.0)
SLOW_MOTION = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
OPEN_RUN_KEY = "open_run"  # set by the Runs page ("Continue training"): the folder of a run to load


@st.cache_data(ttl=30, show_spinner=False)
def offline_sets() -> dict[str, bool]:
    """Which standard image sets are on disk (else they need Download, which needs the internet)."""
    from pathlib import Path

    from genlab.data.images import candidate_dirs, find_idx_files

    found = {name: any(find_idx_files(d, "train") for d in candidate_dirs(name)) for name in ("mnist", "fashion_mnist")}
    found["cifar10"] = (Path("data") / "cifar-10-batches-py").is_dir()
    return found


def dataset_label(name: str) -> str:
    missing = offline_sets().get(name) is False
    return DATASET_LABELS[name] + (" — not found offline: tick Download" if missing else "")


def get_dotted(config: RunConfig, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def fmt_number(value: float) -> str:
    if value == 0:
        return "0 (off)"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{value:g}"
    return f"{value:.0e}" if abs(value) < 1e-2 else f"{value:g}"


def flash(kind: str, text: str) -> None:
    """A message shown once, on the next full run of the page (callbacks cannot draw in place)."""
    ss.setdefault("train.flash", []).append((kind, text))


def open_run(runner: TrainingRunner, path: str) -> str | None:
    """Load the saved run at `path` (sent by the Runs page's "Continue training") into the runner;
    returns its folder name when it can be trained here, else None (the reason is flashed)."""
    from genlab.runs import CheckpointError, load_run

    try:
        with st.spinner("Opening the run…"):
            loaded = load_run(Path(path))
            if not loaded.data_available:
                flash("warning", f"**{plain(loaded.path.name)}**: its data set ({loaded.config.data.name}) is not "
                                 "available here, so it can be sampled and explored (Latent explorer) but not "
                                 "trained. The current run is unchanged.")
                return None
            runner.load(loaded.trainer, loaded.history)
    except (CheckpointError, ValueError) as exc:  # CheckpointError is a ValueError; so is a bad history
        flash("error", f"Could not open the run: {plain(exc)}")
        return None
    flash("success", f"Opened **{plain(loaded.path.name)}** at step {runner.step_count:,} — press Start to continue.")
    return loaded.path.name


# ----------------------------------------------------------------------------------------------
# keep widget values in step with the runner
# ----------------------------------------------------------------------------------------------
def sync_widgets(runner: TrainingRunner) -> None:
    """Initialise widget values from the runner's config when they are missing (first visit, back
    from another page) or when the run was replaced (Reset, a loaded run)."""
    config = runner.config
    replaced = ss.get("train.run_id") != (id(runner), runner.run_id)
    for key, field in SETUP_FIELDS.items():
        if replaced or key not in ss:
            ss[key] = get_dotted(config, field)
    for field, *_ in GAN_LIVE + VAE_LIVE:
        key = f"live.{field}"
        if replaced or key not in ss:
            ss[key] = get_dotted(config, field)
    if replaced or "save.name" not in ss:
        ss["save.name"] = f"{config.data.name}-{config.model.family}-seed{config.seed}".replace("_", "-")
    ss["train.run_id"] = (id(runner), runner.run_id)


def setup_config(runner: TrainingRunner) -> RunConfig:
    """The RunConfig the Setup widgets describe, with the run's current live values (may raise ConfigError)."""
    current = runner.config
    # widgets not shown (e.g. the GAN loss while VAE is picked) have no value: keep the run's
    changes = {field: ss[key] if key in ss else get_dotted(current, field) for key, field in SETUP_FIELDS.items()}
    name = changes["data.name"]
    if name in ("points", "folder"):
        upload = ss.get(f"setup.upload.{name}")
        if upload is None:
            raise ConfigError("data.path", "", f"upload a {'CSV file' if name == 'points' else 'zip of images'} first")
        changes["data.path"] = f"upload:{upload.name}"
    else:
        changes["data.path"] = ""
    changes["name"] = f"{name}-{changes['model.family']}".replace("_", "-")
    family = changes["model.family"]
    if (family, name) != (current.model.family, current.data.name):
        # another kind of run: start from its preset (learning rates, Adam betas, ...), not from
        # this run's live values; the Setup widgets (already filled from the preset) go on top
        return RunConfig().replace(**{**preset(family, name), **changes})
    return current.replace(**changes)


def setup_differs(runner: TrainingRunner, config: RunConfig) -> bool:
    current = runner.config
    fields = list(SETUP_FIELDS.values()) + ["data.path"]
    return any(get_dotted(current, f) != get_dotted(config, f) for f in fields)


def uploaded_data(config: RunConfig):
    """A DataSource for an uploaded CSV / zip (None for the built-in sets)."""
    name = config.data.name
    if name not in ("points", "folder"):
        return None
    upload = ss.get(f"setup.upload.{name}")
    if upload is None:
        raise ConfigError("data.path", "", f"upload a {'CSV file' if name == 'points' else 'zip of images'} first")
    from genlab.data import images_from_zip_bytes, points_from_csv_bytes
    from genlab.trainers import pick_device

    device = pick_device(config.device)
    if name == "points":
        return points_from_csv_bytes(upload.getvalue(), device=device, origin=upload.name)
    return images_from_zip_bytes(upload.getvalue(), config.data.image_size, device=device)


# ----------------------------------------------------------------------------------------------
# callbacks (run before the page re-renders, so the page shows the new state at once)
# ----------------------------------------------------------------------------------------------
def on_kind_change() -> None:
    """A new model family or data set: fill the Setup with genlab.presets' starting values for that
    pair (the CLI uses the same), e.g. an MLP for 2D data, a small conv net for images."""
    values = preset(ss["setup.family"], ss["setup.dataset"])
    for key, field in SETUP_FIELDS.items():
        if field in values and field not in ("model.family", "data.name"):
            ss[key] = values[field]


def on_live_change(field: str) -> None:
    try:
        session_runner().set_live(**{field: ss[f"live.{field}"]})
    except ConfigError as exc:
        flash("error", f"Not applied: {plain(exc)}")


def on_speed_change() -> None:
    rate = ss["live.slow_rate"] if ss["live.slow_motion"] else None
    session_runner().set_slow_motion(rate)


def command(name: str) -> None:
    runner = session_runner()
    try:
        if name == "start":
            runner.start()
        elif name == "pause":
            runner.pause()
        elif name == "stop":
            runner.stop()
        elif name in ("step", "step_d", "step_g"):
            runner.step({"step": "both", "step_d": "d", "step_g": "g"}[name])
        elif name == "reset":
            config = setup_config(runner)
            with st.spinner("Building the model and loading the data…"):
                runner.reset(config, data=uploaded_data(config))
            flash("success", "Reset: a fresh run with the current Setup.")
        elif name == "save":
            path = runner.save(name=ss["save.name"], root=str(checkpoint_root()))
            flash("success", f"Saved step {runner.step_count:,} to `{path}`.")
    except CapacityError as exc:
        flash("error", str(exc))
    except (ConfigError, DataUnavailableError, ValueError) as exc:
        flash("error", plain(exc))
    except Exception as exc:  # noqa: BLE001 - show any other failure instead of a traceback page
        flash("error", f"{name} failed: {type(exc).__name__}: {plain(exc)}")


# ----------------------------------------------------------------------------------------------
# page
# ----------------------------------------------------------------------------------------------
runner = session_runner()
opened = open_run(runner, ss.pop(OPEN_RUN_KEY)) if ss.get(OPEN_RUN_KEY) else None
ss.pop(OPEN_RUN_KEY, None)
sync_widgets(runner)
if opened is not None:
    ss["save.name"] = opened  # Save overwrites the run it continues
state = runner.state
config = runner.config
family = config.model.family

st.title("Train")
offer_recovery(runner)

# --- Setup ------------------------------------------------------------------------------------
fresh = state == IDLE and runner.step_count == 0
with st.expander("Setup: model, data, loss (changing these needs **Reset**)", expanded=fresh):
    cols = st.columns(4)
    with cols[0]:
        st.radio("Model", ("gan", "vae"), key="setup.family", format_func=str.upper, horizontal=True,
                 on_change=on_kind_change)
        st.selectbox("Data set", tuple(DATASET_LABELS), key="setup.dataset", format_func=dataset_label,
                     on_change=on_kind_change,
                     help="MNIST / Fashion-MNIST / CIFAR-10 are read from ./data (Fashion-MNIST also from "
                          "Debian's dataset-fashion-mnist); tick Download to fetch them.")
        dataset = ss["setup.dataset"]
        if dataset == "points":
            st.file_uploader("CSV of 2D points (two numeric columns)", type=["csv", "txt"], key="setup.upload.points")
        elif dataset == "folder":
            st.file_uploader("Zip of images", type=["zip"], key="setup.upload.folder")
        if dataset in ("mnist", "fashion_mnist", "cifar10"):
            st.checkbox("Download if not found", key="setup.download")
        if dataset in ("shapes", "folder"):
            st.selectbox("Image size", IMAGE_SIZES, key="setup.image_size")
    with cols[1]:
        st.selectbox("Architecture", ("mlp", "conv"), key="setup.arch",
                     help="MLP for 2D data (and small images); conv for images.")
        st.number_input("Width (hidden units / base channels)", 4, 1024, key="setup.width", step=16)
        st.number_input("Depth (MLP hidden layers)", 1, 8, key="setup.depth")
        st.number_input("Latent size", 1, 512, key="setup.latent_dim")
    with cols[2]:
        if ss["setup.family"] == "gan":
            st.selectbox("GAN loss", GAN_LOSSES, key="setup.gan_loss", format_func=GAN_LOSS_LABELS.get)
        else:
            st.selectbox("Likelihood p(x|z)", LIKELIHOODS, key="setup.likelihood",
                         help="Bernoulli for images in [0, 1]; Gaussian (fixed σ) for 2D points.")
            if ss["setup.likelihood"] == "gaussian":
                st.number_input("Gaussian σ", 0.001, 10.0, key="setup.gaussian_std", format="%.3f")
        enc, dec = ("D", "G") if ss["setup.family"] == "gan" else ("encoder", "decoder")
        st.checkbox(f"Spectral norm on {enc}", key="setup.sn_d",
                    help="W / σ_max(W) on every layer. Part of the model, so it needs a Reset.")
        st.checkbox(f"Spectral norm on {dec}", key="setup.sn_g")
    with cols[3]:
        st.number_input("Batch size", 1, 4096, key="setup.batch_size")
        st.selectbox("Optimizer", OPTIMIZERS, key="setup.optimizer")
        st.number_input("Seed", 0, 2**31 - 1, key="setup.seed")
        import torch

        devices = ["auto", "cpu"] + [d for d, ok in (("cuda", torch.cuda.is_available()),
                                                     ("mps", torch.backends.mps.is_available())) if ok]
        if ss["setup.device"] not in devices:
            devices.append(ss["setup.device"])
        st.selectbox("Device", devices, key="setup.device")
    try:
        pending = setup_config(runner)
        if setup_differs(runner, pending):
            st.info("The Setup differs from the current run: press **Reset** to start a fresh run with it.")
    except ConfigError as exc:
        st.warning(f"This Setup is not valid yet: {plain(exc)}")

# --- Live controls (sidebar) ------------------------------------------------------------------
with st.sidebar:
    st.header("Live controls")
    st.caption("Applied at the next step, no Reset needed.")
    for field, label, options, help_text in (GAN_LIVE if family == "gan" else VAE_LIVE):
        key = f"live.{field}"
        value = ss[key]
        opts = tuple(sorted(set(options) | {value}))
        st.select_slider(label, opts, key=key, format_func=fmt_number, help=help_text,
                         on_change=on_live_change, args=(field,))
    st.subheader("Speed")
    slow_rate = runner.snapshot().slow_motion_steps_per_s  # the runner keeps it across page visits
    ss.setdefault("live.refresh", 0.5)
    ss.setdefault("live.slow_motion", slow_rate is not None)
    ss.setdefault("live.slow_rate", slow_rate if slow_rate in SLOW_MOTION else 2.0)
    st.select_slider("Refresh the view every (s)", REFRESH_S, key="live.refresh")
    st.toggle("Slow motion", key="live.slow_motion", on_change=on_speed_change,
              help="Sleep between steps, to watch single updates.")
    if ss["live.slow_motion"]:
        st.select_slider("Steps per second", SLOW_MOTION, key="live.slow_rate", on_change=on_speed_change)

# --- Transport --------------------------------------------------------------------------------
buttons = st.columns([1, 1, 1, 1, 1, 1, 1, 2, 1])
startable = state != RUNNING
buttons[0].button("Resume" if state in (PAUSED, DIVERGED) else "Start", key="btn.start", type="primary",
                  on_click=command, args=("start",), disabled=not startable, width="stretch")
buttons[1].button("Pause", key="btn.pause", on_click=command, args=("pause",), disabled=state != RUNNING,
                  width="stretch")
buttons[2].button("Step", key="btn.step", on_click=command, args=("step",), width="stretch",
                  help="One training step (pauses a running run).")
if family == "gan":
    buttons[3].button("Step D", key="btn.step_d", on_click=command, args=("step_d",), width="stretch",
                      help="One discriminator update only.")
    buttons[4].button("Step G", key="btn.step_g", on_click=command, args=("step_g",), width="stretch",
                      help="One generator update only.")
buttons[5].button("Stop", key="btn.stop", on_click=command, args=("stop",), width="stretch",
                  disabled=state in (IDLE, STOPPED, ERROR) and not runner.thread_alive)
buttons[6].button("Reset", key="btn.reset", on_click=command, args=("reset",), width="stretch",
                  help="A fresh run with the Setup above (discards this one unless saved).")
buttons[7].text_input("Run name", key="save.name", label_visibility="collapsed", placeholder="run name")
buttons[8].button("Save", key="btn.save", on_click=command, args=("save",), width="stretch",
                  help=f"Save weights, config and curves under {checkpoint_root()}.")

for kind, text in ss.pop("train.flash", []):
    getattr(st, kind)(text)

# --- Evaluate now: the slower quality numbers, between two steps ---------------------------------
EVAL_LABELS = {"eval/kid_mean": "KID (mean)", "eval/kid_std": "KID (std)", "eval/elbo": "ELBO (test)",
               "eval/recon_nll": "Reconstruction NLL", "eval/kl": "KL (test)", "eval/active_units": "Active units",
               "eval/mig": "MIG", "eval/modes_covered": "Modes covered", "eval/modes_total": "Modes total",
               "eval/high_quality_fraction": "High-quality fraction", "eval/reverse_kl": "Reverse KL"}


def eval_label(key: str, dataset: str) -> str:
    from genlab.metrics.fid import fid_label

    if key == "eval/fid":
        return fid_label(dataset)
    if key.startswith("eval/nll_k"):
        return f"NLL (importance sampling, k = {key[len('eval/nll_k'):]})"
    return EVAL_LABELS.get(key, key.removeprefix("eval/"))


def evaluate_now() -> None:
    runner = session_runner()
    try:
        evaluation = runner.evaluate_now()
        ss["train.eval"] = (runner.run_id, runner.step_count, evaluation.history_row, evaluation.skipped)
    except Exception as exc:  # noqa: BLE001 - show the failure, keep the page
        flash("error", f"Evaluation failed: {type(exc).__name__}: {plain(exc)}")


with st.expander("Evaluate now (FID / ELBO / modes, takes a few seconds)"):
    has_trainer = getattr(runner, "trainer", None) is not None
    st.button("Evaluate now", key="btn.evaluate", disabled=not has_trainer, on_click=evaluate_now,
              help="Measure the slower quality numbers now (between two steps) and add them to the curves.")
    done = ss.get("train.eval")
    if done is not None and done[0] == runner.run_id:
        _, at_step, results, skipped = done
        if results:
            st.caption(f"At step {at_step:,}:")
            cols = st.columns(min(4, len(results)))
            for i, (key, value) in enumerate(results.items()):
                cols[i % len(cols)].metric(eval_label(key, config.data.name), f"{value:.4g}")
        else:
            st.info("No on-demand metric applies to this run's data.")
        for name, reason in skipped.items():
            st.caption(f"Not measured ({name}): {reason}")


# --- Live view: a fragment that re-runs on its own (only it, not the page) ----------------------
refresh_every = ss["live.refresh"] if state == RUNNING else max(1.0, ss["live.refresh"])
st.fragment(run_every=refresh_every)(live_view)()
