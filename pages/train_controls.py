"""The Train page's sidebar: a live control per live knob of the run's family, and the speed controls.
Live values reach the run at its next step, without a Reset."""
from __future__ import annotations

import streamlit as st

from genlab.config import get_dotted
from genlab.share import REFRESH_CHOICES
from pages.knob_widgets import knob_widget
from pages.shared import session_runner
from pages.train_form import LIVE_KNOBS, live_key, on_live_change

ss = st.session_state
SECTION_TITLES = {"optim": "Optimizer", "objective": "Loss and regularizers"}
REFRESH_S = REFRESH_CHOICES
SLOW_MOTION = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)


def on_speed_change() -> None:
    rate = ss["live.slow_rate"] if ss["live.slow_motion"] else None
    session_runner().set_slow_motion(rate)


def live_controls(runner) -> None:
    config = runner.config
    st.header("Live controls")
    st.caption("Applied at the next step, no Reset needed.")
    groups: dict[str, list] = {"optim": []}  # by config section, the optimizer's first
    for knob in LIVE_KNOBS:
        if knob.applies(lambda path: get_dotted(config, path)):
            groups.setdefault(knob.path.split(".")[0], []).append(knob)
    for section, knobs in groups.items():
        if knobs:
            st.subheader(SECTION_TITLES.get(section, section.capitalize()))
        for knob in knobs:
            knob_widget(knob, live_key(knob), on_change=on_live_change, args=(knob.path,))
    st.subheader("Speed")
    slow_rate = runner.slow_motion_steps_per_s  # the runner keeps it across page visits
    ss.setdefault("live.refresh", 0.5)
    ss.setdefault("live.slow_motion", slow_rate is not None)
    ss.setdefault("live.slow_rate", slow_rate if slow_rate in SLOW_MOTION else 2.0)
    st.select_slider("Refresh the view every (s)", REFRESH_S, key="live.refresh")
    st.toggle("Slow motion", key="live.slow_motion", on_change=on_speed_change,
              help="Sleep between steps, to watch single updates.")
    if ss["live.slow_motion"]:
        st.select_slider("Steps per second", SLOW_MOTION, key="live.slow_rate", on_change=on_speed_change)
