"""Train: set up a GAN or VAE, start it, and steer it live while it learns.

Thin by design: widgets and calls into genlab.runner / genlab.viz. Training runs in this tab's
TrainingRunner thread (pages/shared.py); this script only sends commands and draws snapshots, and
the live view is a fragment that re-runs on its own about twice a second (design notes §3).
"""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

from genlab import viz
from genlab.config import GAN_LOSSES, IMAGE_SIZES, LIKELIHOODS, OPTIMIZERS, TOY2D_DATASETS, ConfigError, RunConfig
from genlab.data import DataUnavailableError
from genlab.runner import DIVERGED, ERROR, IDLE, PAUSED, RUNNING, STOPPED, CapacityError, TrainingRunner
from pages.shared import checkpoint_root, session_runner

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

GAN_LIVE = (
    ("optim.lr_g", "Generator learning rate", LR, None),
    ("optim.lr_d", "Discriminator learning rate", LR, None),
    ("optim.n_critic", "D steps per G step (n_critic)", N_CRITIC, None),
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


def fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def flash(kind: str, text: str) -> None:
    """A message shown once, on the next full run of the page (callbacks cannot draw in place)."""
    ss.setdefault("train.flash", []).append((kind, text))


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
    changes = {field: ss[key] for key, field in SETUP_FIELDS.items()}
    name = changes["data.name"]
    if name in ("points", "folder"):
        upload = ss.get(f"setup.upload.{name}")
        changes["data.path"] = f"upload:{upload.name}" if upload is not None else ""
    else:
        changes["data.path"] = ""
    changes["name"] = f"{name}-{changes['model.family']}".replace("_", "-")
    return runner.config.replace(**changes)


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
def on_dataset_change() -> None:
    """Sensible model defaults for the kind of data: MLP for 2D, small conv nets for images."""
    if ss["setup.dataset"] in TOY2D_DATASETS:
        ss.update({"setup.arch": "mlp", "setup.width": 128, "setup.depth": 2, "setup.batch_size": 256})
        if ss["setup.family"] == "vae":
            ss["setup.likelihood"] = "gaussian"
    else:
        ss.update({"setup.arch": "conv", "setup.width": 32, "setup.batch_size": 64, "setup.likelihood": "bernoulli"})
        if ss["setup.dataset"] == "shapes":
            ss["setup.image_size"] = 32


def on_family_change() -> None:
    if ss["setup.family"] == "vae" and ss["setup.dataset"] in TOY2D_DATASETS:
        ss["setup.likelihood"] = "gaussian"


def on_live_change(field: str) -> None:
    try:
        session_runner().set_live(**{field: ss[f"live.{field}"]})
    except ConfigError as exc:
        flash("error", f"Not applied: {exc}")


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
        flash("error", f"{exc}")
    except Exception as exc:  # noqa: BLE001 - show any other failure instead of a traceback page
        flash("error", f"{name} failed: {type(exc).__name__}: {exc}")


# ----------------------------------------------------------------------------------------------
# page
# ----------------------------------------------------------------------------------------------
runner = session_runner()
sync_widgets(runner)
state = runner.state
config = runner.config
family = config.model.family

st.title("Train")

# --- Setup ------------------------------------------------------------------------------------
with st.expander("Setup: model, data, loss (changing these needs **Reset**)", expanded=state == IDLE and runner.step_count == 0):
    cols = st.columns(4)
    with cols[0]:
        st.radio("Model", ("gan", "vae"), key="setup.family", format_func=str.upper, horizontal=True,
                 on_change=on_family_change)
        st.selectbox("Data set", tuple(DATASET_LABELS), key="setup.dataset", format_func=DATASET_LABELS.get,
                     on_change=on_dataset_change,
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
        st.warning(f"This Setup is not valid yet: {exc}")

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
    ss.setdefault("live.refresh", 0.5)
    ss.setdefault("live.slow_motion", False)
    ss.setdefault("live.slow_rate", 2.0)
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


# --- Live view --------------------------------------------------------------------------------
def live_view() -> None:
    runner = session_runner()
    snap = runner.snapshot(want_scene=ss.get("view.scene", True))
    cols = st.columns(5)
    cols[0].metric("Step", f"{snap.step:,}")
    cols[1].metric("Steps/s", f"{snap.steps_per_s:,.0f}" if snap.state == RUNNING else "–")
    cols[2].metric("Elapsed", fmt_seconds(snap.elapsed_s))
    cols[3].metric("State", snap.state + (" (slow motion)" if snap.slow_motion_steps_per_s and snap.state == RUNNING else ""))
    cols[4].metric("Device", snap.device)
    if snap.state in (DIVERGED, ERROR):
        st.error(snap.message, icon="⚠️")
    refresh = ss.get("live.refresh", 0.5)
    if snap.state == RUNNING:
        st.caption(f"≈ {snap.steps_per_s * refresh:,.0f} steps between refreshes (every {refresh:g} s).")
    tag = f"{id(runner)}-{runner.run_id}"

    left, right = st.columns([1, 1.25])
    with left:
        if snap.data_kind == "points":
            if snap.scene is not None:
                st.plotly_chart(viz.scene_figure(snap.scene, show_field=ss.get("view.field", True),
                                                 uirevision=f"scene-{tag}"), key="chart.scene")
            elif snap.preview is not None:
                st.plotly_chart(viz.points_figure(None, snap.preview, uirevision=f"scene-{tag}"), key="chart.scene")
            opt = st.columns(2)
            opt[0].toggle("2D view (heatmap + points)", value=True, key="view.scene")
            if snap.family == "gan":
                opt[1].toggle("Generator's gradient field", value=True, key="view.field")
        elif snap.preview is not None:
            images = snap.preview
            width = images.shape[-1] * math.ceil(math.sqrt(len(images)))
            grid = viz.image_grid(images, upscale=max(1, round(384 / max(width, 1))))
            st.image(grid, caption=f"Samples from fixed noise, step {snap.preview_step:,}")
    with right:
        log_y = st.toggle("Log scale", key="view.log")
        st.plotly_chart(viz.loss_figure(snap.history, log_y=log_y, uirevision=f"loss-{tag}-{log_y}"), key="chart.loss")

    left, right = st.columns(2)
    with left:
        if snap.family == "gan":
            st.plotly_chart(viz.d_outputs_figure(snap.history, uirevision=f"d-{tag}"), key="chart.d")
        else:
            st.plotly_chart(viz.kl_per_dim_figure(snap.last, uirevision=f"kl-{tag}"), key="chart.kl")
    with right:
        which = st.segmented_control("Chart", ("Layer norms", "Gradient norms"), key="view.chart",
                                     default="Layer norms", label_visibility="collapsed")
        if which == "Gradient norms":
            st.plotly_chart(viz.grad_norms_figure(snap.history, uirevision=f"g-{tag}"), key="chart.grads")
        else:
            st.plotly_chart(viz.layer_norms_figure(snap.history, uirevision=f"w-{tag}"), key="chart.layers")


refresh_every = ss["live.refresh"] if state == RUNNING else max(1.0, ss["live.refresh"])
st.fragment(run_every=refresh_every)(live_view)()
