"""Dirac-GAN lab: why regularization makes GAN training converge, on the smallest GAN there is."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from genlab.theory.dirac import LOSSES, REGULARIZERS, DiracGame, field_on_grid
from genlab.theory.cache import TrajectoryCache
from genlab.theory.dynamics import SCHEMES, Setting, Stability, Trajectories, stability, step_verdict
from genlab.viz.dirac import click_point, click_targets, dirac_figure
from pages.shared import use_app_navigation
from pages.train_handoff import DIRAC_GAME_KEY, switch_to_train

use_app_navigation()

ss = st.session_state
EXTENT = 2.5  # the plane shown: [−EXTENT, EXTENT]²
FIELD_CELLS = 21
STRENGTH_STEP = 0.05
STEP_SIZES = [round(0.01 * i, 2) for i in range(1, 101)]  # every position of the h slider
DEFAULT_STRENGTH = {"weight_clip": 1.0, "gradient_penalty": 1.0, "r1": 1.0, "r2": 1.0, "instance_noise": 0.5}
SWITCH_KEY = "dirac.switch"  # set by a "Try it on the ring" click: go to Train on this run
SIDES = {"A": ("minimax", "none"), "B": ("minimax", "r1")}  # side -> its first game


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_field(game: DiracGame):
    return [values.numpy() for values in field_on_grid(game, EXTENT, FIELD_CELLS)]


def strength_grid(regularizer: str) -> list[float]:
    """Every value the strength slider can take."""
    top = REGULARIZERS[regularizer][2]
    return [round(i * STRENGTH_STEP, 2) for i in range(int(round(top / STRENGTH_STEP)) + 1)]


@st.cache_resource(show_spinner=False)
def trajectory_cache() -> TrajectoryCache:
    return TrajectoryCache()


def batch_for(name: str, game: DiracGame, start: tuple[float, float], h: float) -> list[Setting]:
    """What to compute alongside a missing run, for about the price of that run: every click target
    when a click moved the start, every position of h when h moved (or the game has no strength), else
    every strength; the next clicks or moves then find their runs ready."""
    last = ss.get(f"dirac.{name}.last")
    ss[f"dirac.{name}.last"] = (start, game.strength, h)
    if last is not None and last[0] != start:
        if start not in click_targets(EXTENT):
            return []  # typed in: the next start is anyone's guess
        return [Setting(theta, psi, game.strength, h) for theta, psi in click_targets(EXTENT)]
    if game.regularizer == "none" or (last is not None and last[2] != h):
        return [Setting(*start, game.strength, value) for value in STEP_SIZES]
    return [Setting(*start, value, h) for value in strength_grid(game.regularizer)]


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_stability(game: DiracGame, h: float) -> Stability:
    return stability(game, h)


def number(value: float) -> str:
    text = f"{value:.3g}"
    return "0" if text in ("0", "-0") else text.replace("-", "−")


def eigenvalues_text(values: tuple[complex, complex]) -> str:
    """"a ± bi" for a complex-conjugate pair (J is real), "a, b" for two real eigenvalues."""
    first, second = values
    if abs(first.imag) > 1e-12:
        return f"{number(first.real)} ± {number(abs(first.imag))}i"
    return f"{number(first.real)}, {number(second.real)}"


def use_clicked_start(side: str) -> None:
    """on_select callback: the clicked point becomes the paths' start (set before the inputs are drawn)."""
    try:
        points = list(ss[f"dirac.{side}.chart"]["selection"]["points"] or [])
    except (KeyError, TypeError):
        return
    point = click_point(points)
    if point is not None:
        ss["dirac.theta0"], ss["dirac.psi0"] = round(point[0], 2), round(point[1], 2)


def game_controls(side: str, container) -> DiracGame:
    loss_default, regularizer_default = SIDES[side]
    cols = container.columns(3)
    loss = cols[0].selectbox("GAN loss", list(LOSSES), format_func=LOSSES.get, key=f"dirac.{side}.loss",
                             index=list(LOSSES).index(loss_default))
    regularizer = cols[1].selectbox("Regularizer", list(REGULARIZERS), format_func=lambda r: REGULARIZERS[r][0],
                                    key=f"dirac.{side}.regularizer", index=list(REGULARIZERS).index(regularizer_default))
    _, symbol, top = REGULARIZERS[regularizer]
    strength = 0.0
    if regularizer != "none":
        strength = cols[2].slider(f"Strength {symbol}", 0.0, top, DEFAULT_STRENGTH[regularizer], STRENGTH_STEP,
                                  key=f"dirac.{side}.{regularizer}")
    return DiracGame(loss, regularizer, round(strength, 2))


def show_numbers(paths: Trajectories, result: Stability, h: float, steps: int, container) -> None:
    """J's eigenvalues and the continuous verdict, then per scheme: where its run ended, its step's ρ."""
    if result.eigenvalues is None:
        container.warning(result.undefined, icon=":material/info:")
    else:
        container.metric("Eigenvalues λ of J at (0, 0)", eigenvalues_text(result.eigenvalues))
        container.caption(f"Continuous time: {result.continuous_verdict}.")
    rows = {}
    for scheme in SCHEMES:
        norm = paths.end_norm(scheme)
        row = {f"‖(θ, ψ)‖ after {steps} steps": f"{norm:.3g}" if math.isfinite(norm)
               else f"diverged at step {len(getattr(paths, scheme)) - 1}"}
        if result.radius is not None:
            row[f"ρ of one step, h = {h:g}"] = f"{result.radius[scheme]:.4f}"
            row["near (0, 0)"] = step_verdict(result.radius[scheme])
        rows[scheme] = row
    container.table(pd.DataFrame.from_dict(rows, orient="index"))


def side(name: str, start: tuple[float, float], h: float, steps: int, chart_box, numbers_box) -> None:
    try:
        game = game_controls(name, chart_box)
    except ValueError as error:
        chart_box.error(f"Game settings: {error}")
        return
    paths = trajectory_cache().get(game, start, h, steps, batch=batch_for(name, game, start, h))
    figure = dirac_figure(cached_field(game), {scheme: getattr(paths, scheme) for scheme in SCHEMES}, start, EXTENT,
                          game.label, clip=game.strength if game.clips else 0.0, uirevision=f"dirac-{name}")
    chart_box.plotly_chart(figure, key=f"dirac.{name}.chart", on_select=lambda: use_clicked_start(name),
                           selection_mode="points")
    show_numbers(paths, cached_stability(game, h), h, steps, numbers_box)
    numbers_box.button("Try it on the ring →", key=f"dirac.{name}.to_train", icon=":material/model_training:",
                       on_click=hand_over, args=(game,),
                       help="Open Train with this loss and regularizer on a real GAN (MLPs, 8-Gaussian ring).")


def hand_over(game: DiracGame) -> None:
    """Button callback: the game goes to the Train page (pages/train_handoff.py), which opens it as a
    ring run; the switch itself happens in the script (a callback cannot switch pages)."""
    ss[DIRAC_GAME_KEY] = game
    ss[SWITCH_KEY] = True


def explain(container) -> None:
    container.markdown(
        "**Reading the numbers.** $J$ is the Jacobian of $v$ at the equilibrium. The continuous dynamics "
        "$\\dot x = v(x)$ converge near it when every eigenvalue has $\\operatorname{Re}\\lambda < 0$. "
        "A simultaneous step $x \\leftarrow x + h\\,v(x)$ multiplies small deviations by $I + hJ$, so it "
        "converges when every $|1 + h\\lambda| < 1$: purely imaginary $\\lambda$ (the unregularized GAN, "
        "WGAN) give $|1 + h\\lambda| > 1$ for every $h$, a slow outward spiral. Alternating steps (critic "
        "first) have their own step matrix. The Train page trains with either (its **G and D updates** "
        "setting; alternating by default). $\\rho$ is the spectral radius of a step's "
        "matrix (for simultaneous steps the largest $|1 + h\\lambda|$): below 1 the iterates converge, at 1 "
        "they circle for ever. R1 or R2 with $\\gamma > 0$ add $-\\gamma$ to $J$'s "
        "critic entry: $\\lambda = -\\gamma/2 \\pm \\sqrt{\\gamma^2/4 - 1/4}$, inside the left half-plane."
    )
    container.caption("Weight clipping keeps ψ in the shaded band |ψ| ≤ c after every critic step. Instance noise "
                      "adds N(0, σ²) to real and generated samples; its expectation is taken over fixed normal "
                      "quantiles. WGAN-GP's penalty (|ψ| − 1)² has a kink at ψ = 0, so its field has no Jacobian there.")


if ss.pop(SWITCH_KEY, False):
    switch_to_train()
st.title("Dirac-GAN lab")
st.markdown(
    "The smallest GAN (Mescheder et al., 2018): the generator is one number, $G(z) = \\theta$; the critic is "
    "one slope, $D(x) = \\psi x$; the data are a point mass at 0. The only equilibrium is "
    "$(\\theta, \\psi) = (0, 0)$. Each arrow is $v = (-\\partial L_G/\\partial\\theta,\\,-\\partial L_D/\\partial\\psi)$, "
    "computed by autograd through genlab's own loss and penalty functions, the ones the Train page uses. "
    "**Click the plane** to start gradient descent there."
)
compare = st.toggle("Compare two settings side by side", key="dirac.compare")
controls = st.columns(4)
h = round(controls[0].slider("Step size h", 0.01, 1.0, 0.2, 0.01, key="dirac.h"), 2)
steps = controls[1].slider("Steps", 10, 1000, 500, 10, key="dirac.steps")
theta0 = controls[2].number_input("Start θ₀", -EXTENT, EXTENT, 1.0, 0.1, key="dirac.theta0")
psi0 = controls[3].number_input("Start ψ₀", -EXTENT, EXTENT, 1.0, 0.1, key="dirac.psi0")
start = (float(theta0), float(psi0))

if compare:
    for name, column in zip(SIDES, st.columns(2)):
        side(name, start, h, steps, column, column)
    explain(st.container())
else:
    left, right = st.columns([1.3, 1])
    side("A", start, h, steps, left, right)
    explain(right)
