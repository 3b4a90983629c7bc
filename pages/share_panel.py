"""The Train page's "Share · teach · hand in" panel: the link to this exact run, the first step's losses
(so two people can check they have the same run), a teacher's link that locks or hides controls for
students, and the one-file run report to download. Not a page.
"""
from __future__ import annotations

import streamlit as st

from genlab.config import knob_by_key
from genlab.report import build_report, report_file_name
from genlab.share import View, config_to_params, control_names
from genlab.training.hooks import HEADLINE
from pages.lesson_panel import lesson_notes
from pages.train_share import current_lesson, link_to

ss = st.session_state
FIRST_KEY = "share.first_losses"  # (runner id, run id, "loss/d 1.386 · ...") of the run shown
TEACHER_KEYS = ("share.lock", "share.hide")  # the teacher's choices, kept while the panel is closed


def first_losses(runner) -> str:
    """The first step's headline losses of the current run ("" before its first step), read once per run."""
    tag = (id(runner), runner.run_id)
    cached = ss.get(FIRST_KEY)
    if cached is not None and cached[:2] == tag:
        return cached[2]
    if runner.step_count < 1:
        return ""
    table = runner.history_lists()
    rows = [i for i, step in enumerate(table.get("step", [])) if step == 1]
    if not rows:
        return ""
    text = " · ".join(f"{name} {table[name][rows[0]]:.6g}" for name in HEADLINE if name in table
                      and table[name][rows[0]] == table[name][rows[0]])  # NaN: not measured at step 1
    ss[FIRST_KEY] = (*tag, text)
    return text


def share_panel(runner, view: View) -> None:
    params = config_to_params(runner.config, view)
    link = link_to(params)
    st.markdown("**Link to this run** — opens this exact setup in a new tab (same seed: same first steps).")
    st.code(link, language=None, wrap_lines=True)
    first = first_losses(runner)
    start = runner.start_config
    start_params = config_to_params(start, view) if start is not None else None
    if first and start_params is not None:
        if start_params == params:
            st.caption(f"First step of this run: {first}. Same link, same numbers.")
        else:
            changed = sorted(key for key in params.keys() | start_params.keys()
                             if params.get(key) != start_params.get(key))
            st.caption(f"Changed while this run trained: {', '.join(knob_by_key(key).label for key in changed)}. "
                       "The link above opens a run with the settings it has now, which trains differently "
                       "from its first step on. This run as it started:")
            st.code(link_to(start_params), language=None, wrap_lines=True)
            st.caption(f"First step of this run: {first}. Same link, same numbers.")
    if not _restricted_by_link(view):
        _teacher(runner, view)
    start_link = link_to(start_params) if start_params is not None else ""
    st.download_button("Download the run report (HTML)", data=_report_maker(runner, link, start_link),
                       file_name=report_file_name(runner.config, runner.step_count), mime="text/html",
                       key="share.report", on_click="ignore", icon=":material/download:",
                       help="One self-contained file: setup, curves, samples, metrics and this link.")


def _restricted_by_link(view: View) -> bool:
    """Whether a teacher's link locked or hid controls in this tab (a student's tab: no teacher panel). A
    lesson's own show / hide / lock lists restrict a teacher's tab as much as a student's, so they do not count."""
    lesson = current_lesson()
    own = lesson.controls if lesson is not None else {}
    return any(tuple(getattr(view, key)) != tuple(own.get(key, ())) for key in ("show", "hide", "lock"))


def _teacher(runner, view: View) -> None:
    st.markdown("**For students** — the same run with some controls locked or hidden:")
    names = control_names()
    columns = st.columns(2)
    lock = columns[0].multiselect("Lock", names, key="share.lock", help="Shown, but cannot be changed.")
    hide = columns[1].multiselect("Hide", names, key="share.hide", help="Not shown at all. setup / live: whole groups.")
    if lock or hide:
        student = View(refresh=view.refresh, lesson=view.lesson, present=view.present, show=view.show,
                       lock=_union(view.lock, lock), hide=_union(view.hide, hide))  # the lesson's lists kept
        st.code(link_to(config_to_params(runner.config, student)), language=None, wrap_lines=True)


def _union(first: tuple[str, ...], more: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *more]))


def _report_maker(runner, link: str, start_link: str):
    """The report, built only when the button is pressed (Streamlit calls this outside the script:
    it reads the runner, never st.*)."""
    notes = lesson_notes()

    def make() -> str:
        snap = runner.snapshot()
        if snap.scene is not None:
            samples, reference = snap.scene.fake, snap.scene.real
        else:
            samples, reference = snap.preview, None
        return build_report(snap.config, runner.history_lists(), samples=samples, reference=reference, link=link,
                            start_link=start_link, continued=runner.start_config is None, notes=notes)

    return make
