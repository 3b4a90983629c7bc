"""The server settings a visitor depends on (.streamlit/config.toml), as Streamlit itself reads them."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO_ROOT

SETTINGS = ("client.showErrorDetails", "client.toolbarMode", "browser.gatherUsageStats", "global.minCachedMessageSize")


def streamlit_options() -> dict[str, object]:
    """The options as `streamlit run app.py` from the repository root gets them (a fresh process: the
    config is read once per process)."""
    code = ("import json; from streamlit import config; config.get_config_options(force_reparse=True); "
            f"print(json.dumps({{k: config.get_option(k) for k in {list(SETTINGS)!r}}}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_visitors_get_no_tracebacks_no_developer_menu_and_no_usage_statistics_sent():
    options = streamlit_options()
    assert options["client.showErrorDetails"] == "none"
    assert options["client.toolbarMode"] == "viewer"
    assert options["browser.gatherUsageStats"] is False


def test_the_message_cache_is_off():
    """With it, the live fragment's frontend failed now and then (benchmarks/pause_resume_stress.py)."""
    assert streamlit_options()["global.minCachedMessageSize"] >= 1e9
