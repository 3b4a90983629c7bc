"""pages/preload.py: the first page has the browser import the Train page's widget code once per tab.
(tests/test_browser.py checks in Chromium that the files arrive while the visitor is on Home.)"""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages.preload import STATIC_JS, WIDGET_MODULES, widget_module_files

APP = Path(__file__).resolve().parent.parent / "app.py"


def test_every_widget_module_is_found_in_this_streamlits_build():
    files = widget_module_files()
    # a Streamlit upgrade that renamed a chunk: look in STATIC_JS for its new name and update WIDGET_MODULES
    assert [name.split(".")[0] for name in files] == list(WIDGET_MODULES), sorted(p.name for p in STATIC_JS.iterdir())[:50]
    assert all((STATIC_JS / name).is_file() for name in files)


def test_the_first_page_imports_them_once_per_tab():
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    scripts = [element.proto for element in app.get("html") if "import(" in element.proto.body]
    assert len(scripts) == 1 and scripts[0].unsafe_allow_javascript
    assert all(f'"{name}"' in scripts[0].body for name in widget_module_files())
    app.run()  # the same tab again: its browser has them
    assert not [element for element in app.get("html") if "import(" in element.proto.body]
