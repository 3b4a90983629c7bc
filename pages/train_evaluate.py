"""The Train page's "Evaluate now" panel: the slower quality numbers, measured between two steps."""
from __future__ import annotations

import streamlit as st

from genlab.config import TOY2D_DATASETS
from pages.plain import plain
from pages.shared import session_runner
from pages.train_form import flash
from pages.train_view import QUALITY_METRICS

ss = st.session_state
QUALITY_LABELS = {key: label for key, label, _ in QUALITY_METRICS}
EVAL_KEY = "train.eval"
PENDING_KEY = "train.eval_pending"  # Evaluate now was clicked: measure when the panel is drawn
# a VAE's importance-sampled NLL with k = 100 took 10 of a conv VAE's 15 s here (48 s on a busy server)
# while the page waited; `python -m genlab eval` still measures k = 100
NLL_KS = (1, 10)
EVAL_LABELS = {"eval/kid_mean": "KID (mean)", "eval/kid_std": "KID (std)", "eval/elbo": "ELBO (test)",
               "eval/recon_nll": "Reconstruction NLL", "eval/kl": "KL (test)", "eval/active_units": "Active units",
               "eval/mig": "MIG", "eval/modes_covered": "Modes covered", "eval/modes_total": "Modes total",
               "eval/high_quality_fraction": "High-quality fraction",
               "eval/modes_with_any_high_quality_sample": "Modes with a high-quality sample"}


def eval_label(key: str, dataset: str) -> str:
    from genlab.metrics.fid import fid_label

    if key == "eval/fid":
        return fid_label(dataset)
    if key.startswith("eval/nll_k"):
        return f"NLL (importance sampling, k = {key[len('eval/nll_k'):]})"
    name = key.removeprefix("eval/")
    # the numbers the live quality table shows too keep its labels (precision, recall, grid KL/JS ...)
    return EVAL_LABELS.get(key) or QUALITY_LABELS.get(f"quality/{name}", name)


def evaluate_now() -> None:
    runner = session_runner()
    try:
        evaluation = runner.evaluate_now(ks=NLL_KS)
        ss[EVAL_KEY] = (runner.run_id, runner.step_count, evaluation.history_row, evaluation.skipped)
    except Exception as exc:  # noqa: BLE001 - show the failure, keep the page
        flash("error", f"Evaluation failed: {type(exc).__name__}: {plain(exc)}")


def _ask_for_evaluation() -> None:
    ss[PENDING_KEY] = True


def evaluate_panel(runner) -> None:
    # a run in a worker process that is still being set up has nothing to measure yet
    st.button("Evaluate now", key="btn.evaluate", disabled=not runner.ready, on_click=_ask_for_evaluation,
              help="Measure the slower quality numbers now (between two steps) and add them to the curves.")
    if ss.pop(PENDING_KEY, False):  # measured here, not in the click's callback: the spinner shows in the panel
        points, vae = runner.config.data.name in TOY2D_DATASETS, runner.config.model.family == "vae"
        what = "modes, precision and recall" if points else "FID, KID, the test ELBO, NLL and MIG" if vae else "FID and KID"
        with st.spinner(f"Measuring {what}: " + ("a moment…" if points else "up to a minute on a CPU…")):
            evaluate_now()
    done = ss.get(EVAL_KEY)
    if done is None or done[0] != runner.run_id:
        return
    _, at_step, results, skipped = done
    if results:
        st.caption(f"At step {at_step:,}:")
        cols = st.columns(min(4, len(results)))
        for i, (key, value) in enumerate(results.items()):
            cols[i % len(cols)].metric(eval_label(key, runner.config.data.name), f"{value:.4g}")
    else:
        st.info("No on-demand metric applies to this run's data.")
    for name, reason in skipped.items():
        st.caption(f"Not measured ({name}): {reason}")
    if any(key.startswith("eval/nll_k") for key in results):
        st.caption(f"NLL with up to k = {NLL_KS[-1]} samples here; `python -m genlab eval` on the saved run also "
                   "gives k = 100, a tighter bound.")
