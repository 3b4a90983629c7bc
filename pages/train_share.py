"""The Train page's setup in its URL (genlab.share): restored once when a tab opens a link or a lesson,
then rewritten after every change, so the address bar always holds a link to this exact run.

Only genlab.share's own keys are written or deleted; anything else in the URL (the app's private
per-tab token `tab`, other features' state) is left as it is, and never copied into a shared link.
Not a page (app.py lists the pages).
"""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import streamlit as st

from genlab.config import KNOBS, ConfigError, RunConfig, get_dotted, knob_by_key
from genlab.data import DataUnavailableError
from genlab.lessons import LESSONS_DIR, Lesson, load_lessons
from genlab.lessons.progress import Progress
from genlab.live import CapacityError
from genlab.share import (
    DATASET_KEY, FAMILY_KEY, RESERVED_KEYS, VIEW_KEYS, Problem, View, config_to_params, params_to_config,
)
from genlab.trainers import available_devices
from pages.presentation import PRESENT_KEY
from pages.shared import tab_kept
from pages.train_form import flash, live_key, uploaded_data

ss = st.session_state
RESTORED_KEY = "share.restored"  # this session has read its Train URL already
VIEW_KEY = "share.view"  # the View of this tab: lesson, show / hide / lock
OPEN_LESSON_KEY = "lesson.open"  # set by the Lessons page: the id of the lesson to open here
PROGRESS_KEY = "lesson.progress"
REFRESH_KEY = "live.refresh"
OWN_KEYS = frozenset({k.key for k in KNOBS} | set(VIEW_KEYS))


@st.cache_resource(ttl=30, show_spinner=False)
def shipped_lessons() -> tuple[dict[str, Lesson], list[str]]:
    """The lessons in lessons/ by id, and the one-line errors of files that do not load."""
    lessons, errors = load_lessons(LESSONS_DIR)
    return {lesson.id: lesson for lesson in lessons}, [str(e) for e in errors]


def current_view() -> View:
    view = ss.get(VIEW_KEY, View())
    return View(refresh=ss.get(REFRESH_KEY, view.refresh), lesson=view.lesson, present=bool(ss.get(PRESENT_KEY)),
                show=view.show, hide=view.hide, lock=view.lock)


def current_lesson() -> Lesson | None:
    return shipped_lessons()[0].get(current_view().lesson)


def sync_url(runner) -> View:
    """Call once per run of the Train page, before its widgets: open a lesson the Lessons page asked
    for, or on the tab's first visit the setup its URL describes; then write the run's setup back."""
    lesson_id = ss.pop(OPEN_LESSON_KEY, None)
    if lesson_id is not None:
        _restore(runner, {"lesson": lesson_id}, resume=False)
    elif not ss.get(RESTORED_KEY):
        own = {key: st.query_params[key] for key in st.query_params if key not in RESERVED_KEYS}
        if own:
            _restore(runner, own)
    ss[RESTORED_KEY] = True
    view = current_view()
    wanted = config_to_params(runner.config, view)
    for key in [k for k in st.query_params if k in OWN_KEYS and k not in wanted]:
        del st.query_params[key]
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value
    return view


def link_to(params: dict[str, str]) -> str:
    """The full address of the Train page with `params` (this server's address, as the browser sees it)."""
    url = urlsplit(st.context.url or "")
    folder = url.path.rsplit("/", 1)[0]  # every page lives next to the others: /train, /lessons, ...
    base = f"{url.scheme}://{url.netloc}{folder}/train" if url.netloc else "train"
    return f"{base}?{urlencode(params, safe=',')}"


def close_lesson() -> None:
    ss[VIEW_KEY] = View()
    ss.pop(PROGRESS_KEY, None)
    tab_kept().pop(PROGRESS_KEY, None)


def apply_settings(runner, settings: dict[str, str], fresh_run: bool) -> None:
    """A lesson step's settings (link vocabulary) on the current run: live ones at the next step, a
    fresh run when asked or when a Setup setting changes. Errors are flashed; nothing is half-applied."""
    config, _, problems = params_to_config({**config_to_params(runner.config), **settings})
    for problem in problems:
        flash("warning", f"Not applied: {problem}")
    try:
        if fresh_run or any(key in (FAMILY_KEY, DATASET_KEY) or not knob_by_key(key).live for key in settings):
            runner.reset(config, data=uploaded_data(config))
            flash("success", "A fresh run with the step's settings: press **Start**.")
        else:
            live = {knob_by_key(key).path: _value(config, key) for key in settings}
            runner.set_live(**live)
            for key in settings:
                ss[live_key(knob_by_key(key))] = _value(config, key)
    except (ConfigError, DataUnavailableError, CapacityError, ValueError) as exc:
        flash("error", f"Could not apply the step's settings: {exc}")


def _value(config: RunConfig, key: str):
    return get_dotted(config, knob_by_key(key).path)


def _restore(runner, params: dict[str, str], resume: bool = True) -> None:
    """Open the setup and view of a link or a lesson. `resume`: a lesson this tab was following goes on
    where it was (a reload); else (opened from the Lessons page) it starts again."""
    lessons, _ = shipped_lessons()
    lesson = lessons.get(params.get("lesson", ""))
    problems: list[Problem] = []
    if "lesson" in params and lesson is None:
        problems.append(Problem("lesson", params["lesson"], f"no such lesson (lessons: {', '.join(lessons)}); ignored"))
        params = {k: v for k, v in params.items() if k != "lesson"}
    if lesson is not None and FAMILY_KEY not in params and DATASET_KEY not in params:
        params = {**lesson.params(), **params}  # a lesson link: the lesson's file is the setup
    config, view, found = params_to_config(params)
    problems += found
    if config.device not in available_devices():
        problems.append(Problem("device", config.device, "is not available on this machine; using auto"))
        config = config.replace(device="auto")
    ss[VIEW_KEY] = view
    ss[REFRESH_KEY] = view.refresh
    if lesson is not None:
        kept = tab_kept().get(PROGRESS_KEY) if resume else None
        ss[PROGRESS_KEY] = kept if kept is not None and kept.lesson_id == lesson.id else Progress.start(lesson)
        tab_kept()[PROGRESS_KEY] = ss[PROGRESS_KEY]
    for problem in problems:
        flash("warning", str(problem))
    if any(key not in VIEW_KEYS for key in params):  # a setting, even without family and dataset
        _open_setup(runner, config)


def _open_setup(runner, config: RunConfig) -> None:
    if config_to_params(config) == config_to_params(runner.config):
        return  # already this run (e.g. the same tab reloaded): keep it
    try:
        with st.spinner("Building the linked setup…"):
            runner.reset(config, data=uploaded_data(config))
    except (ConfigError, DataUnavailableError, ValueError) as exc:
        flash("error", f"Could not open the link's setup ({exc}); showing the default run instead.")
