"""What the Runs table, `genlab list` and the run comparison show: settings, labels, curves (no streamlit)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genlab.config import RunConfig

if TYPE_CHECKING:
    from genlab.runs.listing import RunInfo

SETTING_LABELS = {
    "latent_dim": "latent", "width": "width", "depth": "depth", "loss": "loss", "likelihood": "likelihood",
    "beta": "β", "capacity": "C", "l1_g": "L1(G)", "l2_g": "L2(G)", "l1_d": "L1(D)", "l2_d": "L2(D)",
    "weight_clip": "clip", "gp_lambda": "GP λ", "r1_gamma": "R1 γ", "r2_gamma": "R2 γ", "grad_clip": "grad clip",
    "spectral_norm_d": "SN(D)", "spectral_norm_g": "SN(G)", "batch_size": "batch", "lr_g": "lr G", "lr_d": "lr D",
}
# Settings worth a column in the table (the rest show when comparing runs).
KEY_SETTINGS = ("latent_dim", "loss", "beta", "capacity", "spectral_norm_d", "spectral_norm_g", "gp_lambda",
                "r1_gamma", "r2_gamma", "weight_clip", "l2_d", "l2_g", "grad_clip")
HEADLINE_METRICS = ("loss/total", "loss/recon", "loss/kl", "loss/d", "loss/g", "d/real", "d/fake")
CURVE_PREFIXES = ("loss/", "penalty/", "d/", "value/", "grad_norm/", "beta/", "kl/", "quality/", "modes/", "eval/")


def run_settings(config: RunConfig) -> dict[str, Any]:
    """The settings that tell runs apart (a regularizer only when it is on), in table order."""
    m, o, opt = config.model, config.objective, config.optim
    settings: dict[str, Any] = {"latent_dim": m.latent_dim, "width": m.width}
    if m.arch == "mlp":
        settings["depth"] = m.depth
    if m.family == "gan":
        settings["loss"] = o.gan_loss
        if getattr(opt, "ema_decay", 0):
            settings["ema_decay"] = opt.ema_decay
        regularizers = ("l1_g", "l2_g", "l1_d", "l2_d", "weight_clip", "gp_lambda", "r1_gamma", "r2_gamma", "grad_clip")
    else:
        settings.update(likelihood=o.likelihood, beta=o.beta)
        if o.capacity:
            settings["capacity"] = o.capacity
        regularizers = ("l1_g", "l2_g", "l1_d", "l2_d", "grad_clip")
    settings.update({r: getattr(o, r) for r in regularizers if getattr(o, r)})
    if m.spectral_norm_d:
        settings["spectral_norm_d"] = True
    if m.spectral_norm_g:
        settings["spectral_norm_g"] = True
    settings.update(batch_size=opt.batch_size, lr_g=opt.lr_g, lr_d=opt.lr_d)
    return settings


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def settings_text(settings: dict, keys: tuple[str, ...] = KEY_SETTINGS) -> str:
    """The settings that tell runs apart, e.g. "latent 6, β 4, SN(D) on"."""
    parts = []
    for key in keys:
        if key in settings:
            value = settings[key]
            parts.append(f"{SETTING_LABELS.get(key, key)} {_fmt(value)}")
    return ", ".join(parts)


def metrics_text(metrics: dict[str, float]) -> str:
    shown = [k for k in HEADLINE_METRICS if k in metrics] or sorted(metrics)[:4]
    return ", ".join(f"{k} {metrics[k]:.4g}" for k in shown)


def table_rows(infos: list[RunInfo]) -> list[dict]:
    """One row per run for the Runs table (broken runs say what is wrong)."""
    rows = []
    for info in infos:
        rows.append({
            "name": info.name,
            "model": f"{info.family.upper()} ({info.arch})" if info.ok else "—",
            "dataset": info.dataset,
            "settings": settings_text(info.settings) if info.ok else "",
            "steps": info.steps,
            "final metrics": metrics_text(info.final_metrics) if info.ok else "",
            "created": info.created.replace("T", " ").rstrip("Z"),
            "size (MB)": round(info.size_bytes / 1e6, 2),
            "status": "ok" if info.ok else f"broken: {info.error}",
        })
    return rows


def differing_settings(infos: list[RunInfo]) -> list[dict]:
    """Rows (one per run) of the settings whose values differ between the given runs — e.g. β or SN."""
    keys: list[str] = []
    for info in infos:
        keys += [k for k in info.settings if k not in keys]
    fields = ["family", "dataset", "arch"]
    differing = [f for f in fields if len({getattr(i, f) for i in infos}) > 1]
    differing += [k for k in keys if len({repr(i.settings.get(k)) for i in infos}) > 1]
    rows = []
    for info in infos:
        row = {"run": info.name}
        for key in differing:
            value = getattr(info, key) if key in fields else info.settings.get(key, "—")
            row[SETTING_LABELS.get(key, key)] = _fmt(value)
        rows.append(row)
    return rows


def curve_metrics(history: dict[str, list[float]]) -> list[str]:
    """Metric names worth overlaying (losses, penalties, D outputs, ...; not per-layer norms)."""
    return sorted(k for k in history if k.startswith(CURVE_PREFIXES))


def metric_series(history: dict[str, list[float]], metric: str):
    """(steps, values) numpy arrays of one metric, finite entries only; steps from the "step" column."""
    import numpy as np

    values = np.asarray(history.get(metric, []), dtype=np.float64)
    steps = np.asarray(history.get("step", []), dtype=np.float64)
    if len(steps) != len(values):
        steps = np.arange(1, len(values) + 1, dtype=np.float64)
    keep = np.isfinite(values) & np.isfinite(steps)
    return steps[keep], values[keep]
