"""Failure detectors: plain-language warnings computed from a run's metric history.

`detect_failures(history, ...)` and the detectors it calls are pure functions over a history of training
metrics and the live quality signals that `genlab.evaluation.cheap_metrics` records under "quality/..."
keys (mode coverage of 2D mixtures, sample diversity of image GANs, active units and KL of VAEs). They
return `Finding`s: mode collapse, posterior collapse, discriminator overpowering, a loss exploding,
divergence. They never
touch a model, so the app can call them on every refresh.

History formats accepted: {key: list/array of values} (optionally with a "step" column, NaN where a
metric was not recorded, as in `MetricHistory.to_lists()` / a saved run's metrics.json) or
{key: (steps, values)} (as in the runner's `Snapshot.history`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

# --- thresholds (module constants so that tests and the app can show them) ---------------------------
MODE_DROP_MIN = 2  # modes covered must fall by at least this many from their best ...
MODE_DROP_FRACTION = 0.25  # ... and by this fraction of the best
MODE_BEST_MIN = 3  # a generator that never covered 3 modes is still learning, not collapsing
DIVERSITY_LOW = 0.35  # generated / real mean pairwise feature distance below this is "low"
DIVERSITY_FELL = 0.5  # ... and it counts as collapse once it fell to half its best (or below)
DIVERSITY_STUCK = 0.15  # so low for DIVERSITY_STUCK_READINGS readings = collapsed even if never higher
DIVERSITY_STUCK_READINGS = 5
DIVERSITY_FLAT = 0.03  # ... while varying less than this over those readings
KL_COLLAPSED = 0.1  # nats (whole code) under which the posterior carries ~no information
POSTERIOR_MIN_STEPS = 100  # ignore the first steps (after KL warm-up)
RECENT_STEPS = 50  # training-metric window for "sustained"
D_SATURATION = {  # (D(x) above, D(G(z)) below) meaning D separates real from fake almost perfectly
    "minimax": (0.95, 0.05),
    "nonsaturating": (0.95, 0.05),
    "least_squares": (0.9, 0.1),
    "hinge": (1.0, -1.0),
}
FLAT_D_GAP = 0.01  # D's mean output on real and on generated data closer than this: D tells them apart no more
G_GRAD_VANISHED = 0.1  # recent ‖∇G‖ below this fraction of its earlier level = vanished
EXPLODE_FACTOR = 100.0  # recent |loss| or gradient norm this many times its calmest earlier level = exploding
EXPLODE_FLOOR = 1.0  # ... where the earlier level counts as at least this (small losses may grow a bit)
EXPLODE_MIN_POINTS = 40  # readings needed before a series can be called exploding
EXPLODE_WINDOW_FRACTION = 0.1  # the recent window: this fraction of the readings (at least CALM_WINDOW)
CALM_WINDOW = 10  # readings per window when looking for a series' calmest earlier level
EXPLODE_KEYS = ("loss/d", "loss/g", "loss/total", "grad_norm/d", "grad_norm/g", "grad_norm/encoder",
                "grad_norm/decoder")
WASSERSTEIN_HINT = ("The Wasserstein loss needs a Lipschitz constraint on the critic D: turn on WGAN-GP "
                    "(λ ≈ 10) or weight clipping (c ≈ 0.01), or spectral norm on D (needs Reset). Without one "
                    "the critic's outputs, and with them both losses, grow without bound.")


@dataclass(frozen=True)
class Finding:
    kind: str  # "mode_collapse" | "posterior_collapse" | "discriminator_overpowering" | "exploding" | "divergence"
    severity: str  # "warning" | "critical"
    title: str  # a few words for a badge
    message: str  # what is happening, with the numbers that show it
    hint: str  # what it means and what to try, in plain language
    step: int | None = None  # the step of the latest evidence

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# History access
# ------------------------------------------------------------------------------------------------
def _series(history: Mapping[str, Any], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one metric with unrecorded (NaN) entries dropped; infinities kept."""
    raw = history.get(key)
    if raw is None:
        return np.zeros(0), np.zeros(0)
    if isinstance(raw, tuple) and len(raw) == 2 and np.ndim(raw[0]) == 1 and np.ndim(raw[1]) == 1:
        steps, values = np.asarray(raw[0], dtype=float), np.asarray(raw[1], dtype=float)
    else:
        values = np.asarray(raw, dtype=float).reshape(-1)
        step_col = history.get("step")
        if step_col is not None and not isinstance(step_col, tuple) and np.size(step_col) == values.size:
            steps = np.asarray(step_col, dtype=float).reshape(-1)
        else:
            steps = np.arange(1, values.size + 1, dtype=float)
    keep = ~np.isnan(values)
    return steps[keep], values[keep]


def _last_step(steps: np.ndarray) -> int | None:
    return int(steps[-1]) if steps.size else None


def _with_quality(history: Mapping[str, Any], quality: Mapping[str, float] | None) -> Mapping[str, Any]:
    """The history with `quality` (latest on-demand numbers) appended as one more reading of each key."""
    if not quality:
        return history
    merged: dict[str, Any] = {key: _series(history, key) for key in history if key != "step"}
    last_step = max((float(steps[-1]) for steps, _ in merged.values() if steps.size), default=0.0)
    for key, value in quality.items():
        name = key if key.startswith("quality/") else f"quality/{key}"
        steps, values = merged.get(name, (np.zeros(0), np.zeros(0)))
        merged[name] = (np.append(steps, last_step), np.append(values, float(value)))
    return merged


# ------------------------------------------------------------------------------------------------
# Detectors (pure)
# ------------------------------------------------------------------------------------------------
def detect_mode_collapse(history: Mapping[str, Any]) -> list[Finding]:
    """2D: modes covered fell well below their best. Images: sample diversity low and fallen (or stuck)."""
    findings = []
    steps, covered = _series(history, "quality/modes_covered")
    if covered.size >= 4:
        # all of the last 3 readings well below the best one before them (a rising curve never fires)
        best, recent = float(covered[:-3].max()), float(covered[-3:].max())
        if best >= MODE_BEST_MIN and best - recent >= max(MODE_DROP_MIN, MODE_DROP_FRACTION * best):
            _, total = _series(history, "quality/modes_total")
            of = f" of {int(total[-1])}" if total.size else ""
            findings.append(Finding(
                "mode_collapse", "critical" if recent <= max(1.0, 0.25 * best) else "warning", "Mode collapse",
                f"Modes covered fell from {best:.0f}{of} to {covered[-1]:.0f} (at most {recent:.0f} in the last 3 "
                "measurements).",
                "The generator is concentrating on fewer modes: it found a few outputs that fool the "
                "discriminator and stopped covering the rest. Try a lower generator learning rate, "
                "a gradient penalty (R1 or WGAN-GP) or spectral normalization on D, or a Wasserstein/hinge loss.",
                _last_step(steps)))
    steps, diversity = _series(history, "quality/diversity")
    if diversity.size >= 3:
        best = float(diversity[:-3].max()) if diversity.size > 3 else 0.0
        recent = float(diversity[-3:].max())  # all of the last 3 readings
        fell = best >= DIVERSITY_LOW and recent < DIVERSITY_LOW and recent <= DIVERSITY_FELL * best
        window = diversity[-DIVERSITY_STUCK_READINGS:]
        # stuck: very low AND flat (an untrained generator also starts near 0, but then it rises)
        stuck = (diversity.size >= DIVERSITY_STUCK_READINGS and bool((window < DIVERSITY_STUCK).all())
                 and float(window.max() - window.min()) < DIVERSITY_FLAT)
        if fell or stuck:
            how = f"fell from {best:.2f} to {diversity[-1]:.2f}" if fell else f"has stayed below {DIVERSITY_STUCK}"
            findings.append(Finding(
                "mode_collapse", "critical" if recent < DIVERSITY_STUCK else "warning", "Low sample diversity",
                f"Sample diversity (spread of generated images relative to real ones, 1 = as varied as the "
                f"data) {how}.",
                "The generated images look alike: the generator is collapsing onto a few outputs. Try a lower "
                "generator learning rate, a gradient penalty or spectral normalization on D, or restart from "
                "an earlier checkpoint.",
                _last_step(steps)))
    return findings


def detect_posterior_collapse(history: Mapping[str, Any], kl_warmup_steps: int = 0) -> list[Finding]:
    """No active latent units, or total KL ≈ 0 sustained, after warm-up."""
    start = max(kl_warmup_steps, POSTERIOR_MIN_STEPS)
    au_steps, au = _series(history, "quality/active_units")
    au_late = au[au_steps > start]
    kl_steps, kl = _series(history, "loss/kl")
    kl_late = kl[kl_steps > start][-RECENT_STEPS:]
    no_units = au_late.size > 0 and au_late[-1] == 0
    no_kl = kl_late.size >= min(RECENT_STEPS, 10) and float(np.median(kl_late)) < KL_COLLAPSED
    if not (no_units or no_kl):
        return []
    parts = []
    if au_late.size:
        parts.append(f"{int(au_late[-1])} active latent units")
    if kl_late.size:
        parts.append(f"KL = {float(np.median(kl_late)):.3f} nats over the last {kl_late.size} steps")
    step = max(s for s in (_last_step(au_steps), _last_step(kl_steps)) if s is not None)
    return [Finding(
        "posterior_collapse", "critical", "Posterior collapse",
        "The encoder carries no information: " + ", ".join(parts) + ".",
        "The decoder ignores the latent code, so every sample looks like an average image and the latent "
        "space means nothing. Lower β, use KL warm-up or a capacity target C > 0, or a weaker decoder.",
        step)]


def _infer_saturation(gan_loss: str | None, real: np.ndarray, fake: np.ndarray) -> tuple[float, float] | None:
    if gan_loss is not None:
        return D_SATURATION.get(gan_loss)  # wasserstein: critic values have no scale that means "saturated"
    if real.size and fake.size and min(real.min(), fake.min()) >= 0.0 and max(real.max(), fake.max()) <= 1.0:
        return D_SATURATION["nonsaturating"]  # values look like probabilities
    return None


def detect_discriminator_overpowering(history: Mapping[str, Any], gan_loss: str | None = None) -> list[Finding]:
    """D(x) → 1 and D(G(z)) → 0 sustained over the last RECENT_STEPS steps; critical if G's gradients vanished."""
    steps, real = _series(history, "d/real")
    _, fake = _series(history, "d/fake")
    n = min(real.size, fake.size)
    if n < 20:
        return []
    real, fake = real[-n:], fake[-n:]
    limits = _infer_saturation(gan_loss, real, fake)
    if limits is None:
        return []
    window = min(RECENT_STEPS, n // 2)
    recent_real, recent_fake = float(np.median(real[-window:])), float(np.median(fake[-window:]))
    if not (recent_real >= limits[0] and recent_fake <= limits[1]):
        return []
    # G's gradient norm is read on fewer steps than D's outputs: the same window in steps
    grad_steps, grad_g = _series(history, "grad_norm/g")
    in_window = grad_steps >= steps[-window]
    recent, earlier = grad_g[in_window], grad_g[~in_window]
    vanished, grad_text = False, ""
    if recent.size and earlier.size >= recent.size:
        recent_grad = float(np.median(recent))
        # the grad norm's typical level before the saturated window: best running median
        k = max(1, min(recent.size, earlier.size // 4))
        level = float(np.max([np.median(earlier[i : i + k]) for i in range(0, earlier.size - k + 1, k)]))
        vanished = recent_grad < G_GRAD_VANISHED * level
        grad_text = f"; ‖∇G‖ {recent_grad:.2g} (was up to {level:.2g})"
    message = f"D(x) = {recent_real:.3f} and D(G(z)) = {recent_fake:.3f} over the last {window} steps{grad_text}."
    if vanished:
        hint = ("The discriminator wins outright and the generator's gradients have vanished, so the "
                "generator has stopped learning. Lower D's learning rate or its steps per G step (n_critic), "
                "add a gradient penalty (R1 / WGAN-GP) or spectral normalization on D, or use the "
                "non-saturating or Wasserstein loss.")
    else:
        hint = ("The discriminator separates real from generated samples almost perfectly. The generator may "
                "still be learning, but it usually stalls soon. Lower D's learning rate or n_critic, or add "
                "a gradient penalty or spectral normalization on D.")
    return [Finding("discriminator_overpowering", "critical" if vanished else "warning",
                    "Discriminator overpowering", message, hint, _last_step(steps))]


def detect_divergence(history: Mapping[str, Any], diverged_term: str | None = None) -> list[Finding]:
    """A term became NaN/Inf: the runner's `diverged_term`, or infinities in the history."""
    advice = ("Lower the learning rates, add gradient clipping (grad_clip), or lower the strength of the "
              "penalty that blew up; then restart or load an earlier checkpoint.")
    if diverged_term:
        return [Finding("divergence", "critical", "Training diverged",
                        f"{diverged_term} became NaN or infinite; the run was rolled back to its last good state and stopped.",
                        "The numbers blew up. " + advice, None)]
    for key in history:
        if not key.startswith(("loss/", "penalty/", "grad_norm/")):
            continue
        steps, values = _series(history, key)
        if values.size and not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            return [Finding("divergence", "critical", "Training diverged",
                            f"{key} became {values[bad]} at step {int(steps[bad])}.",
                            "The numbers blew up. " + advice, int(steps[bad]))]
    return []


def calmest_level(magnitudes: np.ndarray, window: int = CALM_WINDOW) -> float:
    """The lowest median over consecutive windows of `window` readings (a last, shorter one included
    when it has at least half a window): the level a series had before it started to grow."""
    medians = [float(np.median(magnitudes[i : i + window])) for i in range(0, magnitudes.size, window)
               if magnitudes[i : i + window].size * 2 >= window]
    return min(medians, default=float(np.median(magnitudes)))


def detect_exploding(history: Mapping[str, Any], *, wasserstein_unconstrained: bool = False) -> list[Finding]:
    """A loss or gradient norm growing by orders of magnitude before any NaN: the median |value| over
    the recent window (the last EXPLODE_WINDOW_FRACTION of the readings, at least CALM_WINDOW) is at
    least EXPLODE_FACTOR times the series' calmest earlier level (the lowest median of CALM_WINDOW
    consecutive earlier readings, counted as at least EXPLODE_FLOOR). Measured against the calmest
    level rather than the average of the past, so that a loss growing steadily (∝ step², as an
    unconstrained Wasserstein critic's does) is caught as early as one that jumps.

    `wasserstein_unconstrained`: the run uses the Wasserstein loss with no Lipschitz constraint on D
    (no WGAN-GP, weight clipping or spectral norm), the usual cause, so the hint names the fix."""
    for key in EXPLODE_KEYS:
        steps, values = _series(history, key)
        magnitudes = np.abs(values[np.isfinite(values)])
        if magnitudes.size < EXPLODE_MIN_POINTS:
            continue
        window = max(CALM_WINDOW, int(magnitudes.size * EXPLODE_WINDOW_FRACTION))
        recent = float(np.median(magnitudes[-window:]))
        calm = calmest_level(magnitudes[:-window])
        if recent < EXPLODE_FACTOR * max(calm, EXPLODE_FLOOR):
            continue
        hint = WASSERSTEIN_HINT if wasserstein_unconstrained else (
            "Training is running away and will likely end in NaN. Lower the learning rates, add gradient "
            "clipping (grad_clip) or a gradient penalty on D (R1 / WGAN-GP), or restart from an earlier checkpoint.")
        return [Finding(
            "exploding", "critical", "Loss exploding",
            f"|{key}| has grown to {recent:.3g} (median of the last {window} readings), "
            f"{recent / max(calm, 1e-12):,.0f}× its calmest earlier level ({calm:.3g}).",
            hint, _last_step(steps))]  # one finding is enough: the other terms usually grow with it
    return []


def flat_critic(history: Mapping[str, Any]) -> tuple[float, float] | None:
    """(D(x), D(G(z))), medians over the last RECENT_STEPS readings, when D gives real and generated data
    the same answer (closer than FLAT_D_GAP); None otherwise or without enough readings."""
    _, real = _series(history, "d/real")
    _, fake = _series(history, "d/fake")
    n = min(real.size, fake.size, RECENT_STEPS)
    if n < 20:
        return None
    recent_real, recent_fake = float(np.median(real[-n:])), float(np.median(fake[-n:]))
    return (recent_real, recent_fake) if abs(recent_real - recent_fake) < FLAT_D_GAP else None


def blame_clipping(findings: list[Finding], history: Mapping[str, Any], weight_clip: float) -> list[Finding]:
    """A collapse under weight clipping with a flat D: the clipping is the cause, and the finding says so.
    Clipping every weight of D to [−c, c] with a small c leaves D almost constant, so G's loss has no
    slope to follow; adding a penalty on top of the clipping (the generic advice) does not help."""
    flat = flat_critic(history) if weight_clip > 0 else None
    if flat is None:
        return findings
    hint = (f"D's weights are clipped to ±{weight_clip:g}, which leaves D nearly constant: it gives real and "
            "generated samples the same answer, so the generator gets no direction. Raise the clipping c, or "
            "turn clipping off and use WGAN-GP or spectral normalization on D instead.")
    return [replace(f, message=f"{f.message} D(x) = {flat[0]:.3f} and D(G(z)) = {flat[1]:.3f}: D "
                                           "no longer tells them apart.", hint=hint)
            if f.kind == "mode_collapse" else f for f in findings]


def detect_failures(history: Mapping[str, Any], *, family: str | None = None, gan_loss: str | None = None,
                    lipschitz_d: bool = False, weight_clip: float = 0.0, kl_warmup_steps: int = 0,
                    diverged_term: str | None = None, quality: Mapping[str, float] | None = None) -> list[Finding]:
    """Every detector that applies to the run (family "gan"/"vae"; None: decide from the keys present).

    `lipschitz_d`: D has a Lipschitz constraint (WGAN-GP, weight clipping or spectral norm); `weight_clip`:
    the clipping c when D's weights are clipped (0: not).
    `quality`: latest on-demand numbers (e.g. {"active_units": 0}) counted as one more reading.
    Critical findings come first.
    """
    history = _with_quality(history, quality)
    findings = detect_divergence(history, diverged_term)
    if not findings:  # once a term is NaN/Inf, that says it all
        findings = detect_exploding(history, wasserstein_unconstrained=gan_loss == "wasserstein" and not lipschitz_d)
    is_gan = family == "gan" or (family is None and "d/real" in history)
    is_vae = family == "vae" or (family is None and "loss/kl" in history)
    if is_gan:
        findings += blame_clipping(detect_mode_collapse(history), history, weight_clip)
        findings += detect_discriminator_overpowering(history, gan_loss)
    if is_vae:
        findings += detect_posterior_collapse(history, kl_warmup_steps)
    return sorted(findings, key=lambda f: f.severity != "critical")


def detect_for_config(history: Mapping[str, Any], config, diverged_term: str | None = None,
                      quality: Mapping[str, float] | None = None) -> list[Finding]:
    """`detect_failures` with the settings read from a RunConfig (family, GAN loss and D's constraints,
    KL warm-up)."""
    objective = config.objective
    lipschitz_d = objective.gp_lambda > 0 or objective.weight_clip > 0 or config.model.spectral_norm_discriminator
    return detect_failures(history, family=config.model.family, gan_loss=objective.gan_loss,
                           lipschitz_d=lipschitz_d, weight_clip=objective.weight_clip,
                           kl_warmup_steps=objective.kl_warmup_steps,
                           diverged_term=diverged_term, quality=quality)
