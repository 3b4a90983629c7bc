"""A run report in one self-contained HTML file, for a student to hand in: the setup, the link that
reproduces it, the curves and samples as inline PNG pictures, the latest metrics and, in a lesson, its
progress. It opens offline in any browser: no script, no style sheet, font or picture to fetch.

    html = build_report(config, runner.history_lists(), samples=points, reference=data, link=url,
                        notes=["✓ Step 1: ..."])
"""
from __future__ import annotations

import datetime as _dt
import html
from typing import Any, Mapping, Sequence

import numpy as np

from genlab import pictures
from genlab.config import KNOBS, RunConfig, get_dotted
from genlab.presets import config_for
from genlab.report.charts import is_log_friendly, line_chart
from genlab.share import format_value
from genlab.viz.curves import loss_names

Table = Mapping[str, Sequence[float]]  # MetricHistory.to_lists(): "step" and one column per metric
PER_LAYER = ("weight_norm/", "spectral_norm/", "operator_norm/", "power_iteration_unconverged/", "kl/dim_")
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; color: #111; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } .changed { font-weight: 600; }
img { max-width: 100%; border: 1px solid #ddd; margin: 4px 0; } code { word-break: break-all; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; } .small { color: #555; font-size: 0.9em; }
"""


def history_of(table: Table) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A saved-run table as metric -> (steps, values), the cells where the metric was measured."""
    steps = np.asarray(table.get("step", []), np.float64)
    out = {}
    for name, column in table.items():
        values = np.asarray(column, np.float64)
        if name == "step" or len(values) != len(steps):
            continue
        measured = ~np.isnan(values)
        if measured.any():
            out[name] = (steps[measured], values[measured])
    return out


def _reproduce(link: str, start_link: str, continued: bool) -> str:
    def anchor(url: str) -> str:
        return f"<p><a href='{_e(url)}'><code>{_e(url)}</code></a></p>"

    if continued:
        return ("<p>Open this link in genlab for these settings and seed (this run was continued from a saved "
                "run, so its own first steps may have had other settings):</p>" + anchor(link))
    if start_link and start_link != link:
        return ("<p>Settings were changed while this run trained. This link opens a run with its settings at "
                "the end, which trains differently from its first step on:</p>" + anchor(link)
                + "<p>This one opens it as it started (same settings and seed, so the same first steps):</p>"
                + anchor(start_link))
    return "<p>Open this link in genlab (same settings and seed, so the same first steps):</p>" + anchor(link)


def build_report(config: RunConfig, table: Table, *, samples: Any = None, reference: Any = None, link: str = "",
                 start_link: str = "", continued: bool = False, title: str = "", notes: Sequence[str] = (),
                 generated: str | None = None) -> str:
    """The report's HTML text (see the module docstring). `samples`: generated images (N, C, H, W) in
    [0, 1] or points (N, 2), drawn over `reference` data points; `notes`: lines about the lesson. `link`
    opens the run's settings now; `start_link`, when they changed while it trained, its settings at step 1;
    `continued`: the run was opened from a save, so its first steps are not known."""
    history = history_of(table)
    step = int(max((s[-1] for s, _ in history.values()), default=0))
    heading = title or f"genlab run report: {config.name}"
    when = generated or _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [f"<h1>{_e(heading)}</h1>",
             f"<p class='small'>{_e(config.model.family.upper())} on {_e(config.data.name)}, step {step:,}, "
             f"seed {config.seed}; written {_e(when)} by genlab.</p>"]
    if link:
        parts.append("<h2>Reproduce it</h2>" + _reproduce(link, start_link, continued))
    if notes:
        parts.append("<h2>Lesson</h2><ul>" + "".join(f"<li>{_e(note)}</li>" for note in notes) + "</ul>")
    parts.append("<h2>Setup</h2>" + _setup_table(config))
    parts.append("<h2>Curves</h2><div class='charts'>" + "".join(_charts(history)) + "</div>")
    if samples is not None:
        picture = pictures.samples_picture(pictures.as_array(samples), None if reference is None else
                                           pictures.as_array(reference))
        what = "generated points (red) over data (grey)" if picture.ndim == 3 and len(np.shape(samples)) == 2 \
            else "samples"
        parts.append(f"<h2>Samples</h2><p class='small'>{what} at step {step:,}</p>"
                     f"<img alt='samples' src='{pictures.data_uri_png(picture)}'>")
    parts.append("<h2>Latest metrics</h2>" + _metrics_table(history))
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{_e(heading)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def report_file_name(config: RunConfig, step: int) -> str:
    return f"{config.name}-seed{config.seed}-step{step}-report.html"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _setup_table(config: RunConfig) -> str:
    preset = config_for(config.model.family, config.data.name,
                        dotted={"data.path": config.data.path} if config.data.path else None)
    rows = []
    for knob in KNOBS:
        if not (knob.ui or knob.path == "seed") or not knob.applies(lambda path: get_dotted(config, path)):
            continue
        value = get_dotted(config, knob.path)
        changed = " class='changed'" if value != get_dotted(preset, knob.path) else ""
        shown = knob.choice_label(value) if knob.choices else format_value(value)
        rows.append(f"<tr{changed}><td>{_e(knob.label)}</td><td><code>{_e(knob.key)}</code></td>"
                    f"<td>{_e(shown)}{' (live)' if knob.live else ''}</td></tr>")
    return ("<p class='small'>Bold: changed from the preset of this family and data set.</p>"
            "<table><tr><th>Setting</th><th>Link key</th><th>Value</th></tr>" + "".join(rows) + "</table>")


def _charts(history: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    groups = [("Losses and penalties", loss_names(history), (720, 300)),
              ("D(x) on real data, D(G(z)) on generated", [n for n in ("d/real", "d/fake") if n in history], (720, 260)),
              ("Gradient norms", sorted(n for n in history if n.startswith("grad_norm/")), (720, 260))]
    groups += [(name, [name], (356, 220)) for name in sorted(history) if name.startswith(("quality/", "eval/"))]
    images = []
    for title, names, size in groups:
        if not names:
            continue
        curves = {name: history[name] for name in names}
        log_y = title == "Gradient norms" and any(is_log_friendly(v) for _, v in curves.values())
        picture = line_chart(curves, title + (" (log scale)" if log_y else ""), size=size, log_y=log_y)
        images.append(f"<img alt='{_e(title)}' src='{pictures.data_uri_png(picture)}'>")
    return images


def _metrics_table(history: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> str:
    rows = [f"<tr><td><code>{_e(name)}</code></td><td class='num'>{values[-1]:.5g}</td>"
            f"<td class='num'>{int(steps[-1]):,}</td></tr>"
            for name, (steps, values) in sorted(history.items()) if not name.startswith(PER_LAYER)]
    return "<table><tr><th>Metric</th><th>Latest value</th><th>At step</th></tr>" + "".join(rows) + "</table>"
