"""The brewery dashboard as a person uses it, in headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.conftest import Brewery, artifacts
from tests.dashboard.proxy import Proxy
from tests.servers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 30_000  # readings go through trigger → rule → action → channel


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

    open_dashboard(page, brewery.dashboard)
    last = brewery.steps[-1]
    points = 2 * len(brewery.steps)
    expect(tid(page, "chart-temperature")).to_have_attribute("data-points", str(points))
    expect(tid(page, "chart-level")).to_have_attribute("data-points", str(points))
    for tank in ("mash", "boil"):
        expect(tid(page, f"{tank}-temperature")).to_have_text(
            f"{last.value(tank, 'temperature'):.1f}")
        expect(tid(page, f"{tank}-level")).to_have_text(f"{last.value(tank, 'level'):.0f}")
    # Mid-lauter: wort runs from the mash through its open valve, pumped.
    expect(tid(page, "mash-valve")).to_have_attribute("data-state", "on")
    expect(tid(page, "mash-pump")).to_have_attribute("data-state", "on")
    expect(tid(page, "mash-heater")).to_have_attribute("data-state", "off")
    expect(tid(page, "boil-valve")).to_have_attribute("data-state", "off")
    expect(tid(page, "mash-activity")).to_have_text("lautering")
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


def test_live_values_change_as_readings_arrive(page: Any, brewery: Brewery) -> None:
    from playwright.sync_api import expect

    open_dashboard(page, brewery.dashboard)
    chart = tid(page, "chart-temperature")
    # The history may come on a retry (a busy server answers 429 now and then).
    expect(chart).not_to_have_attribute("data-points", "0", timeout=WAIT_MS)
    before = int(chart.get_attribute("data-points"))
    brewery.fire([("mash", "temperature", 53.7), ("boil", "level", 61.5),
                  ("boil", "heater", 1)])
    expect(tid(page, "mash-temperature")).to_have_text("53.7", timeout=WAIT_MS)
    expect(tid(page, "boil-level")).to_have_text("62", timeout=WAIT_MS)
    expect(tid(page, "boil-heater")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
    expect(tid(page, "chart-temperature")).to_have_attribute("data-points", str(before + 1))
    assert tid(page, "connection-status").get_attribute("data-last-event-id")


def test_overheat_raises_the_alarm_banner_and_clears_it(page: Any, brewery: Brewery) -> None:
    from playwright.sync_api import expect

    open_dashboard(page, brewery.dashboard)
    banner = tid(page, "alarm-banner")
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

    proxy = Proxy(int(brewery.server.url.rsplit(":", 1)[1]))
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
