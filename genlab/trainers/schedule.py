"""The learning-rate cool-down: the rates fall linearly over the last share of a run's step budget.

Averaging G's weights (EMA) removes the step-to-step jitter of a GAN around its modes; lowering the
learning rates near the end removes it at the source, and on the 2D ring and grid it is what takes the
share of samples within 3σ of a mode from about 85 % to 95 % in the same number of steps
(benchmarks/toy2d_presets.py). The rates stop at a tenth rather than at zero, so that a live run that
goes on past its budget still trains and still answers its sliders.
"""
from __future__ import annotations

COOLDOWN_FLOOR = 0.1  # the factor at the end of the budget and after it


def cooldown_factor(step: int, steps: int, cooldown: float) -> float:
    """The factor on every learning rate for the update after `step` updates, in a run of `steps` steps
    whose last share `cooldown` (c) cools down:

        1                                         for t ≤ (1 − c)·T
        1 − (1 − floor)·(t − (1 − c)·T) / (c·T)   for (1 − c)·T < t < T
        floor (0.1)                               for t ≥ T

    c = 0 is off (always 1)."""
    if cooldown <= 0:
        return 1.0
    start = (1.0 - cooldown) * steps
    if step <= start:
        return 1.0
    progress = min(1.0, (step - start) / (cooldown * steps))
    return 1.0 - (1.0 - COOLDOWN_FLOOR) * progress


def learning_rate_note(step: int, steps: int, cooldown: float, transfer_scale: float = 1.0) -> str | None:
    """In words, how the rates the optimizer uses after `step` updates differ from the learning-rate
    settings (the sliders): the cool-down and a transfer run's scale; None when they are the settings."""
    factor = transfer_scale * cooldown_factor(step, steps, cooldown)
    if factor == 1.0:
        return None
    reasons = []
    if transfer_scale != 1.0:
        reasons.append(f"× {transfer_scale:g} for a run started from another run's weights")
    if cooldown > 0 and step > (1.0 - cooldown) * steps:
        if step >= steps:
            reasons.append(f"the cool-down ended at step {steps:,}, the run's budget: from there on a tenth")
        else:
            reasons.append(f"the cool-down lowers them to a tenth by step {steps:,}, the run's budget")
    return (f"Learning rates in use: the settings × {factor:.2g} ({'; '.join(reasons)}). "
            "A new slider value is scaled the same way.")
