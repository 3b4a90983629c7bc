"""What to tell a user whose run diverged, by the term that became NaN/Inf."""
from __future__ import annotations


def divergence_advice(term: str, family: str) -> str:
    """What usually helps when `term` became NaN/Inf."""
    if term.startswith("penalty/l1") or term.startswith("penalty/l2"):
        return "lower that weight penalty's strength, or lower the learning rate"
    if term in ("penalty/gp", "penalty/r1", "penalty/r2"):
        return "lower the gradient-penalty strength or the discriminator's learning rate, or add gradient clipping"
    if family == "vae":
        if term == "loss/kl":
            return ("lower the learning rates, add gradient clipping, or use a KL warm-up; a very small β with "
                    "a tiny Gaussian σ can let the encoder's variances collapse")
        if term == "loss/recon":
            return ("lower the learning rates or add gradient clipping; with a Gaussian likelihood use a larger σ "
                    "(Reset)")
        return "lower the learning rates, add gradient clipping, or lower β"
    if term.endswith("/d") or term in ("loss/d_adv", "d/real", "d/fake"):
        return ("lower the discriminator's learning rate, add gradient clipping or R1 (γ≈1–10), "
                "or enable spectral norm on D (needs Reset)")
    if term.endswith("/g") or term == "loss/g_adv":
        return ("lower the generator's learning rate, add gradient clipping, or regularize D (R1, WGAN-GP, "
                "spectral norm) so its gradients stay bounded")
    return "lower the learning rates and add gradient clipping"


def divergence_message(step: int, term: str, value: float, family: str, kept_step: int) -> str:
    """The explanation a paused, diverged run shows; `kept_step`: the step the run was rolled back to."""
    return (f"Training diverged at step {step}: {term} became {value}. The run is paused and was rolled back "
            f"to step {kept_step} (its weights and optimizer state). What usually helps: {divergence_advice(term, family)}. Change a "
            "setting, then Resume (or Reset).")
