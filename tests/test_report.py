"""genlab.report: one self-contained HTML file a student can hand in."""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image

from genlab.presets import config_for
from genlab.report import build_report, history_of, report_file_name
from genlab.report.charts import is_log_friendly, line_chart

NASTY = "<script>alert('x')</script>&\""


def table(steps: int = 60) -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    nan = float("nan")
    return {"step": list(range(1, steps + 1)),
            "loss/d": list(1.4 + 0.1 * rng.standard_normal(steps)),
            "loss/g": list(0.7 + 0.1 * rng.standard_normal(steps)),
            "grad_norm/d": list(np.geomspace(1e-3, 10, steps)),
            "quality/modes_covered": [8.0 if s % 25 == 0 else nan for s in range(1, steps + 1)]}


def report(**overrides) -> str:
    config = config_for("gan", "ring", dotted={"objective.r1_gamma": 1.0, "name": "ring-gan"})
    arguments = {"samples": np.random.default_rng(1).normal(size=(200, 2)),
                 "reference": np.random.default_rng(2).normal(size=(500, 2)),
                 "link": "http://host:8501/train?family=gan&dataset=ring&r1=1", "generated": "2026-01-01 10:00"}
    return build_report(config, table(), **{**arguments, **overrides})


def pictures_in(html: str) -> list[Image.Image]:
    uris = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    return [Image.open(io.BytesIO(base64.b64decode(uri))) for uri in uris]


def test_the_report_is_one_self_contained_file():
    html = report()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    sources = re.findall(r"src='([^']*)'", html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)  # nothing to fetch
    images = pictures_in(html)
    assert len(images) == len(sources) >= 4  # losses, gradient norms, modes covered, samples
    assert all(image.format == "PNG" and image.width > 100 for image in images)


def test_the_report_holds_the_setup_the_link_and_the_latest_metrics():
    html = report()
    assert "href='http://host:8501/train?family=gan&amp;dataset=ring&amp;r1=1'" in html
    assert re.search(r"<tr class='changed'><td>R1 γ[^<]*</td><td><code>r1</code></td><td>1 \(live\)", html)
    assert "<td><code>loss/d</code></td>" in html and "<td class='num'>60</td>" in html
    assert "step 60" in html and "seed 0" in html


def test_user_text_is_escaped():
    html = report(title=NASTY, notes=[NASTY], link="javascript:alert(1)'><b>")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "'><b>" not in html and "&#x27;&gt;&lt;b&gt;" in html


def test_no_machine_paths_leak(tmp_path):
    config = config_for("gan", "points", dotted={"data.path": str(tmp_path / "secret-points.csv")})
    html = build_report(config, table(), link="train?family=gan&dataset=ring")
    assert "secret-points" not in html and str(tmp_path) not in html and str(Path.home()) not in html


def test_images_and_file_name():
    html = report(samples=np.random.default_rng(3).uniform(size=(16, 1, 28, 28)), reference=None)
    assert "<h2>Samples</h2>" in html
    name = report_file_name(config_for("vae", "mnist", dotted={"seed": 4}), 1200)
    assert name == "mnist-vae-seed4-step1200-report.html"


def test_history_of_keeps_only_measured_cells():
    history = history_of(table())
    steps, values = history["quality/modes_covered"]
    assert list(steps) == [25, 50] and list(values) == [8, 8]
    assert len(history["loss/d"][0]) == 60 and "step" not in history


def test_line_chart_draws_each_curve_and_says_when_there_is_nothing():
    empty = line_chart({}, "Nothing", size=(400, 200))
    assert empty.shape == (200, 400, 3)
    drawn = line_chart({"a": ([1, 2, 3], [0.0, 1.0, 2.0])}, "A", size=(400, 200), smooth=False)
    assert (drawn != empty).any(axis=2).sum() > (empty != 255).any(axis=2).sum()  # more ink than the empty frame
    assert is_log_friendly([1e-3, 1.0]) and not is_log_friendly([1.0, 50.0])
    assert not is_log_friendly([0.0, -1.0])  # no positive values: no log axis


def test_the_reproduce_section_says_which_link_gives_the_same_first_steps():
    config = config_for("vae", "shapes", dotted={"objective.beta": 8.0})
    now, start = "train?family=vae&beta=8", "train?family=vae&beta=1"
    same = build_report(config, table(), link=now, start_link=now)
    assert "same first steps" in same and same.count("<a href") == 1
    changed = build_report(config, table(), link=now, start_link=start)
    assert changed.index("trains differently") < changed.index("beta=8") < changed.index("so the same first steps") \
        < changed.index("beta=1")
    continued = build_report(config, table(), link=now, continued=True)
    assert "same first steps" not in continued and "continued from a saved run" in continued
