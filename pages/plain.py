"""User strings shown as plain text where Streamlit renders Markdown.

st.info / st.error / st.caption, widget labels and flash messages are Markdown: a run name, an upload's
file name or a recorded command (all from users, some from uploaded runs) could otherwise add links,
images, colours or formatting. Put such strings, and error messages that quote them, through `plain`
where they go into Markdown; show longer ones (a command) with st.code or st.text instead.

Not a page itself (app.py's st.navigation lists the pages).
"""
from __future__ import annotations

import re

MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character CommonMark can escape


def plain(text: object) -> str:
    """`text` on one line with every Markdown character escaped, so that it shows exactly as written."""
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))
