"""Fetch the browser code of the Train page's widgets while the visitor is still on the first page.

Streamlit's frontend loads each element type's JavaScript (button, select box, slider, metric...)
the first time a page shows one, in waves: a module is fetched, run, renders, and only then asks for
the next. The Home page uses none of those types, so a first visit to Train waited about 1.3–2.5 s
for about 40 files on this 2-core machine after its script had already finished (a one-off timing
script around benchmarks/first_visit.py's server and browser, listing Chromium's requests). Importing the widgets' modules once the first
page is drawn puts them in the browser's module map, so Train renders as soon as its data arrives.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st

STATIC_JS = Path(st.__file__).resolve().parent / "static" / "static" / "js"
# Top-level chunks of the widgets the Train page draws first; their dependencies come with them.
WIDGET_MODULES = ("Button", "ButtonGroup", "Selectbox", "NumberInput", "Slider", "TextInput", "Radio", "Metric",
                  "ImageList")
DONE_KEY = "genlab_preloaded"  # st.session_state: this browser tab already imported them

# Resolved against Streamlit's own entry script, so that the URLs are the very ones its lazy loader
# imports (the module map is keyed by URL), under any base path the server is given.
_SCRIPT = """<script type="module">
const entry = document.querySelector('script[type="module"][src*="/static/js/index."]');
if (entry) for (const file of FILES) import(new URL(file, entry.src).href).catch(() => {});
</script>"""


@functools.cache
def widget_module_files() -> tuple[str, ...]:
    """The file names (e.g. "Button.CORxUu4r.js") of WIDGET_MODULES in this Streamlit's build; a name
    this version does not have (or has twice) is left out, so a Streamlit upgrade costs speed, not errors."""
    files = []
    for name in WIDGET_MODULES:
        found = sorted(STATIC_JS.glob(f"{name}.*.js"))
        if len(found) == 1:
            files.append(found[0].name)
    return tuple(files)


def preload_widget_code() -> None:
    """Once per browser tab (session): a script that imports the widget modules in the background."""
    if st.session_state.get(DONE_KEY) or not widget_module_files():
        return
    st.session_state[DONE_KEY] = True
    st.html(_SCRIPT.replace("FILES", json.dumps(list(widget_module_files()))), unsafe_allow_javascript=True)
