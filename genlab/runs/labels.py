"""What the Runs table, `genlab list` and the run comparison show: settings, labels, curves (no streamlit)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genlab.config import KNOBS, RunConfig, get_dotted

if TYPE_CHECKING:
    from genlab.runs.listing import RunInfo

# the label of each setting (a knob's short name -> its Runs-table label), from the config's declarations
SETTING_LABELS = {k.key: k.short for k in KNOBS if k.short}
# settings worth a column in the table (the rest show when comparing runs)
KEY_SETTINGS = tuple(k.key for k in KNOBS if k.short and k.column)
HEADLINE_METRICS = ("loss/total", "loss/recon", "loss/kl", "loss/d", "loss/g", "d/real", "d/fake")
CURVE_PREFIXES = ("loss/", "penalty/", "d/", "value/", "grad_norm/", "beta/", "kl/", "quality/", "modes/", "eval/")


def run_settings(config: RunConfig) -> dict[str, Any]:
    """The settings that tell runs apart, by knob key in declaration order: those of the run's model
    family that matter for it (e.g. depth only for an MLP), a regularizer only when it is on."""
    def value_of(path: str) -> Any:
        return get_dotted(config, path)

    return {k.key: value_of(k.path) for k in KNOBS
            if k.short and k.applies(value_of) and (k.off is None or value_of(k.path) != k.off)}


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


def default_comparison(infos: list[RunInfo]) -> list[str]:
    """Two runs worth comparing first: of one model family (a GAN's and a VAE's losses are different
    quantities), on one data set where the list has such a pair; the first run alone otherwise."""
    for same in (lambda a, b: (a.family, a.dataset) == (b.family, b.dataset), lambda a, b: a.family == b.family):
        for i, first in enumerate(infos):
            partner = next((other for other in infos[i + 1:] if same(first, other)), None)
            if partner is not None:
                return [first.name, partner.name]
    return [info.name for info in infos[:1]]
