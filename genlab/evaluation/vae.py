"""VAE quality: test-set ELBO, importance-sampled NLL, active units and KL per dimension (on demand),
the posterior's active units and KL on a fixed batch (live), and MIG on data with known factors."""
from __future__ import annotations

from typing import Any

from genlab.evaluation.noise import fixed_data_batch
from genlab.evaluation.registry import EvalSettings, Evaluator, register
from genlab.metrics.mig import trainer_mig
from genlab.metrics.vae_metrics import posterior_stats, vae_test_metrics

TEST_MAX_EXAMPLES = 1000
POSTERIOR_BATCH = 256
RECORDED = ("elbo", "recon_nll", "kl", "active_units")


def why_not(trainer) -> str | None:
    if trainer.config.model.family != "vae":
        return "test ELBO, NLL and active units are for VAEs; this run is a GAN"
    return None


def measure(trainer, settings: EvalSettings) -> dict[str, Any]:
    """Test-set ELBO (β = 1), importance-sampled NLL for each k, active units, KL per dimension."""
    return vae_test_metrics(trainer, n_test=min(settings.n_samples, TEST_MAX_EXAMPLES), ks=settings.ks,
                            generator=settings.generator)


def quick(trainer) -> dict[str, float]:
    """Active units and the total KL of q(z|x) to the prior (nats) on a fixed batch of training data."""
    stats = posterior_stats(trainer, fixed_data_batch(trainer, "posterior_batch", POSTERIOR_BATCH))
    return {"active_units": stats["active_units"], "kl_total": sum(stats["kl_dims"])}


register(Evaluator("vae", why_not, measure, recorded=lambda key: key in RECORDED or key.startswith("nll_k"),
                   quick=quick))


def mig_why_not(trainer) -> str | None:
    if trainer.config.model.family != "vae":
        return "MIG measures a VAE's encoder; this run is a GAN"
    if trainer.data.factors is None:
        return f"no ground-truth factors for {trainer.data.name} (MIG needs them; shapes has them)"
    return None


def mig(trainer, settings: EvalSettings) -> dict[str, Any]:
    """Mutual information gap of the posterior means against the data's known factors."""
    result = trainer_mig(trainer)
    return {k: v for k, v in result.items() if k == "mig" or k.startswith("mig/")}


register(Evaluator("mig", mig_why_not, mig, recorded=lambda key: key == "mig"))
