"""The brewery dashboard as a person uses it, in headless Chromium."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from functions.simulator import Fault, Simulator
from tests.dashboard.conftest import Brewery, artifacts
from tests.dashboard.proxy import Proxy
from tests.servers import ROOT

# The first test also sets up the session's brewery rig (deploy and a compressed brew).
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(360)]

WAIT_MS = 30_000  # readings go through trigger → rule → action → channel
STALL_S = 60  # a brew's readings on their way that long without any progress: stuck
CAP_S = 240  # ... and however busy the machine, they reach the page within this


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def tid(page: Any, name: str) -> Any:
    return page.get_by_test_id(name)


def open_dashboard(page: Any, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
    expect(tid(page, "connection-status")).to_have_attribute("data-state", "live",
                                                              timeout=WAIT_MS)


def shot(page: Any, name: str) -> None:
    page.wait_for_timeout(1000)  # let the tanks' fill and colour transitions finish
    page.screenshot(path=str(artifacts() / f"{name}.png"), full_page=True)


def test_loads_history_and_current_state(page: Any, brewery: Brewery) -> None:
    from playwright.sync_api import expect

    body = brewery.get_latest()
    open_dashboard(page, brewery.dashboard)
    # The charts hold the history get-latest returned (the session's compressed brew, and
    # whatever other tests published after it), the cards its latest values.
    points = {sensor: sum(len(body["history"].get(f"{tank}:{sensor}", []))
                          for tank in ("mash", "boil")) for sensor in ("temperature", "level")}
    assert points["temperature"] >= 2 * 16, body["history"].keys()  # the brew's at least
    expect(tid(page, "chart-temperature")).to_have_attribute("data-points",
                                                             str(points["temperature"]))
    expect(tid(page, "chart-level")).to_have_attribute("data-points", str(points["level"]))
    latest = body["latest"]
    for tank in ("mash", "boil"):
        expect(tid(page, f"{tank}-temperature")).to_have_text(
            f"{latest[f'{tank}:temperature']['value']:.1f}")
        expect(tid(page, f"{tank}-level")).to_have_text(
            f"{latest[f'{tank}:level']['value']:.0f}")
        for part in ("valve", "pump", "heater"):
            state = "on" if latest[f"{tank}:{part}"]["value"] else "off"
            expect(tid(page, f"{tank}-{part}")).to_have_attribute("data-state", state)
    expect(tid(page, "mash-temperature-max")).to_have_text("67.0")
    expect(tid(page, "alarm-banner")).to_be_hidden()
    expect(tid(page, "last-reading-age")).to_contain_text("updated")
    shot(page, "history")
    # Narrow screens get one column, still without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("document.documentElement.scrollWidth <= 390", timeout=5000)
    shot(page, "mobile")


def test_changing_the_maximum_takes_effect(page: Any, brewery: Brewery) -> None:
    from playwright.sync_api import expect

    open_dashboard(page, brewery.dashboard)
    boil = float(tid(page, "boil-temperature").inner_text())
    form_max = tid(page, "threshold-max")
    tid(page, "threshold-key").select_option("boil:temperature")
    expect(form_max).to_have_value("102")
    form_max.fill("")
    tid(page, "threshold-submit").click()
    expect(tid(page, "threshold-result")).to_have_attribute("data-state", "error")

    lower = round(boil - 5)
    form_max.fill(str(lower))
    tid(page, "threshold-submit").click()
    expect(tid(page, "threshold-result")).to_have_attribute("data-state", "ok", timeout=WAIT_MS)
    expect(tid(page, "boil-temperature-max")).to_have_text(f"{lower:.1f}")
    expect(tid(page, "alarm-boil-temperature")).to_contain_text(f"maximum of {lower}")
    assert brewery.get_latest()["thresholds"]["boil:temperature"] == lower  # stored
    shot(page, "threshold")
    if os.environ.get("PWSK_UPDATE_DOCS"):  # the README's picture
        page.screenshot(path=str(ROOT / "docs" / "dashboard.png"), full_page=True)
    # A new page reads the stored maximum.
    page.reload()
    expect(tid(page, "boil-temperature-max")).to_have_text(f"{lower:.1f}", timeout=WAIT_MS)
    form_max = tid(page, "threshold-max")
    tid(page, "threshold-key").select_option("boil:temperature")
    form_max.fill("102")
    tid(page, "threshold-submit").click()
    expect(tid(page, "threshold-result")).to_have_attribute("data-state", "ok", timeout=WAIT_MS)
    expect(tid(page, "alarm-banner")).to_be_hidden()


def test_live_values_change_as_the_simulator_runs_into_an_overheat(page: Any,
                                                                   brewery: Brewery) -> None:
    from playwright.sync_api import expect

    open_dashboard(page, brewery.dashboard)
    chart = tid(page, "chart-temperature")
    expect(chart).not_to_have_attribute("data-points", "0", timeout=WAIT_MS)
    before = int(chart.get_attribute("data-points"))
    banner = tid(page, "alarm-banner")
    # A brew whose mash heater relay is stuck on from mash-in: 45 simulated minutes, a set
    # every 5, in 9 s; the mash heats from cold straight past its maximum.
    args = ("--time-scale", "300", "--interval", "300", "--minutes", "45", "--seed", "12",
            "--fault", "overheat@0+60")
    steps = list(Simulator(seed=12, interval=300, max_seconds=45 * 60,
                           faults=[Fault.parse("overheat@0+60")]).steps())
    hottest = steps[-1].value("mash", "temperature")
    assert hottest > 67
    published = brewery.published()
    since_ms = int(time.time() * 1000)
    simulator = brewery.rig.simulate_in_background(*args)
    try:
        seen = follow(page, brewery, simulator, since_ms, published, before, len(steps))
        assert simulator.wait(timeout=60) == 0
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait()
    assert len(seen) >= 3, f"the mash temperature hardly moved while brewing: {seen}"
    expect(chart).to_have_attribute("data-points", str(before + 2 * len(steps)))
    expect(tid(page, "mash-temperature")).to_have_text(f"{hottest:.1f}", timeout=WAIT_MS)
    expect(tid(page, "mash-heater")).to_have_attribute("data-state", "on")
    expect(tid(page, "mash-activity")).to_have_text("heating")
    # The overheat raises the alarm banner with the newest value.
    expect(banner).to_be_visible(timeout=WAIT_MS)
    alarm = tid(page, "alarm-mash-temperature")
    expect(alarm).to_contain_text(f"Mash tun temperature {hottest:.1f}", timeout=WAIT_MS)
    expect(alarm).to_contain_text("above its maximum of 67")
    expect(tid(page, "tank-mash")).to_have_attribute("data-alarm", "true")
    assert tid(page, "connection-status").get_attribute("data-last-event-id")


SEEN_JS = """() => {
  const card = document.querySelector('[data-testid="mash-temperature"]');
  window.seen = [card.textContent];
  new MutationObserver(() => {
    const text = card.textContent;
    if (window.seen[window.seen.length - 1] !== text) window.seen.push(text);
  }).observe(card, { childList: true, characterData: true, subtree: true });
}"""


def follow(page: Any, brewery: Brewery, simulator: Any, since_ms: int, published: int,
           before: int, sets: int) -> list[str]:
    """Wait until every set the simulator publishes is on the temperature chart (two points
    each); return the mash temperature as the page showed it, each change.

    Readings take trigger → rule → publish-realtime → channel, and a loaded machine may run
    the activations well after the simulator is done. So the wait lasts as long as the
    platform has work for them and gets on with it: it fails once the platform is done
    (nothing in flight) with the chart still short, or when nothing moved for STALL_S, or
    after CAP_S in all; the message says what became of each reading not on the channel."""
    chart = tid(page, "chart-temperature")
    want, events = before + 2 * sets, 10 * sets
    # The page notes each value the mash temperature card shows (between polls it may show
    # several: a busy platform's backlog comes in bursts).
    page.evaluate(SEEN_JS)
    start = time.monotonic()
    moved = start  # when the platform last got on with the readings
    done_at: float | None = None  # since when nothing has been left to do
    progress: tuple[int, ...] = ()
    trace: dict[str, str] = {}
    checked = 0.0
    while int(chart.get_attribute("data-points")) < want:
        now = time.monotonic()
        if now - checked >= 3:
            checked = now
            trace = brewery.realtime_trace(since_ms) or trace  # None: too busy to tell now
            states = list(trace.values())
            now_progress = (len(states), states.count("published"), brewery.published(),
                            int(chart.get_attribute("data-points")))
            if now_progress != progress:
                progress, moved = now_progress, now
            left = (simulator.poll() is None or len(trace) < events
                    or "in flight" in states)
            done_at = None if left else (done_at or now)
        why = ("the platform is done with the readings" if done_at and now - done_at > 10
               else f"nothing moved for {STALL_S} s" if now - moved > STALL_S
               else f"it took over {CAP_S} s" if now - start > CAP_S else "")
        if why:
            missing = {k: v for k, v in sorted(trace.items()) if v != "published"}
            bridge = {k: v for k, v in brewery.rig.metrics().items()
                      if k.rsplit("_", 1)[-1] in ("received", "fired", "retried", "pending",
                                                  "lettered", "flight")}
            raise AssertionError(
                f"{why}, but the chart stopped at {chart.get_attribute('data-points')} points "
                f"of {want}; the page showed {page.evaluate('window.seen')}; the channel had "
                f"{brewery.published() - published} of {events} events; the trigger took "
                f"{len(trace)} of {events} readings (bridge: {bridge}), "
                f"{list(trace.values()).count('published')} published; the others: {missing}")
        page.wait_for_timeout(100)
    return list(page.evaluate("window.seen"))


def test_overheat_raises_the_alarm_banner_and_clears_it(page: Any, brewery: Brewery) -> None:
    from playwright.sync_api import expect

    open_dashboard(page, brewery.dashboard)
    banner = tid(page, "alarm-banner")
    brewery.fire([("mash", "temperature", 64.0)])  # whatever came before: a normal mash
    expect(tid(page, "mash-temperature")).to_have_text("64.0", timeout=WAIT_MS)
    expect(banner).to_be_hidden()
    brewery.fire([("mash", "temperature", 71.4)])
    expect(banner).to_be_visible(timeout=WAIT_MS)
    alarm = tid(page, "alarm-mash-temperature")
    expect(alarm).to_contain_text("Mash tun temperature 71.4")
    expect(alarm).to_contain_text("above its maximum of 67")
    expect(tid(page, "tank-mash")).to_have_attribute("data-alarm", "true")
    shot(page, "alarm")
    # Just under the maximum is not enough (hysteresis), below it by 0.5 clears.
    brewery.fire([("mash", "temperature", 66.8)])
    expect(tid(page, "mash-temperature")).to_have_text("66.8", timeout=WAIT_MS)
    expect(banner).to_be_visible()
    brewery.fire([("mash", "temperature", 64.9)])
    expect(banner).to_be_hidden(timeout=WAIT_MS)
    expect(tid(page, "tank-mash")).to_have_attribute("data-alarm", "false")


def test_a_reconnect_replays_missed_events(page: Any, brewery: Brewery) -> None:
    from playwright.sync_api import expect

    host, port = brewery.address
    proxy = Proxy(port, host)
    try:
        open_dashboard(page, f"{proxy.url}/dashboard/")
        status = tid(page, "connection-status")
        # The network drops, and stays down while three readings are published.
        proxy.cut(hold=True)
        expect(status).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
        published = brewery.published()
        brewery.fire([("mash", "temperature", 51.9), ("mash", "level", 12.0),
                      ("boil", "temperature", 58.8)])
        brewery.wait(lambda: brewery.published() >= published + 3, "three events published")
        expect(tid(page, "mash-temperature")).not_to_have_text("51.9")
        proxy.release()
        # The browser reconnects with Last-Event-ID and the gateway replays the three.
        expect(status).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        expect(status).to_have_attribute("data-replayed", "3")
        expect(tid(page, "mash-temperature")).to_have_text("51.9")
        expect(tid(page, "mash-level")).to_have_text("12")
        expect(tid(page, "boil-temperature")).to_have_text("58.8")
        shot(page, "reconnect")
    finally:
        proxy.close()
