"""Evaluating generative models: one registry of evaluators (genlab.evaluation.registry), each in the
module of what it measures. Importing this package registers them, in this order:

    modes      mode coverage of 2D mixtures                    on demand + live
    points     grid KL/JS, precision/recall, nearest distance  on demand + live
    fid        FID / KID on genlab classifier features          on demand
    diversity  sample diversity of image GANs                   live
    vae        test ELBO, NLL, active units (+ live posterior)  on demand + live
    mig        mutual information gap on data with factors      on demand

    from genlab.evaluation import evaluate, cheap_metrics
    evaluation = evaluate(trainer, n_samples=2500)   # .results, .skipped (reasons), .history_row
    cheap_metrics(trainer)                            # {"quality/...": float}, a few ms
"""
from genlab.evaluation import modes, points, images, vae  # noqa: F401, I001 - registers the evaluators, in this order
from genlab.evaluation.noise import sample
from genlab.evaluation.registry import (
    DEFAULT_KS,
    DEFAULT_SAMPLES,
    EVALUATORS,
    EvalSettings,
    Evaluation,
    Evaluator,
    cheap_metrics,
    evaluate,
    register,
)

__all__ = ["DEFAULT_KS", "DEFAULT_SAMPLES", "EVALUATORS", "EvalSettings", "Evaluation", "Evaluator", "cheap_metrics",
           "evaluate", "register", "sample"]
