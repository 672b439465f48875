"""The dashboard in headless Chromium (Debian's, never a downloaded one) with Playwright, on a
standalone with the brewery deployed and a stretch of a simulated brew behind it.

Chromium or Playwright missing is a failure with the fix in its message, never a skip:
``source scripts/lib/browser.sh && pwsk_browser`` installs both.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.simulator import Fault, Simulator, Step
from pwsk.client import Client
from pwsk.demo import deploy_brewery
from tests.servers import ROOT, Server, start_server

CHROMIUM = os.environ.get("PWSK_CHROMIUM", "/usr/bin/chromium")
HOW_TO = "install it with: source scripts/lib/browser.sh && pwsk_browser"
# The seeded history: minutes 20 to 126 of a brew with a mash overheat at 40, four simulated
# minutes per reading set, twenty real seconds apart, ending now (mid-lauter: both tanks hold
# wort, the mash valve is open and its pump on).
HISTORY_FROM_MIN, HISTORY_TO_MIN, HISTORY_STEP_S, HISTORY_GAP_MS = 20, 126, 240, 20_000
CHARTED = ("temperature", "level")
FIRE_GAP_S = 0.08


def artifacts() -> Path:
    path = Path(os.environ.get("PWSK_ARTIFACTS") or ROOT / "artifacts") / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")  # sync Playwright keeps a loop running: end it per module
def chromium() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        pytest.fail(f"Chromium is required for the dashboard tests and {CHROMIUM} is missing "
                    f"({'found ' + found if found else 'not on PATH either'}); {HOW_TO}",
                    pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"Playwright's Python package is required for the dashboard tests; "
                    f"{HOW_TO}", pytrace=False)
    with sync_playwright() as playwright:
        # Never a browser of Playwright's own: Debian's Chromium, headless; root needs
        # --no-sandbox.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class Brewery:
    server: Server
    client: Client
    steps: list[Step]  # what the history was made of
    last_ts: int

    @property
    def dashboard(self) -> str:
        return f"{self.server.url}/dashboard/"

    def get_latest(self) -> dict[str, Any]:
        url = f"{self.server.url}/api/v1/web/guest/brewery/get-latest.json"
        for _ in range(60):
            answer = httpx.get(url, params={"minutes": 60}, timeout=30)
            # Rule activations in flight count against the same namespace throttle.
            if answer.status_code != 429:
                break
            time.sleep(0.5)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def fire(self, readings: list[tuple[str, str, float]], ts: int | None = None) -> int:
        """Fire ``measurement`` for each (tank, sensor, value), as the bridge would."""
        ts = ts or int(time.time() * 1000)
        self.last_ts = max(self.last_ts + 1, ts)
        units = {"temperature": "C", "level": "%"}
        for tank, sensor, value in readings:
            assert self.client.fire_trigger("measurement", {
                "tank": tank, "sensor": sensor, "value": value,
                "unit": units.get(sensor, "state"), "timestamp": self.last_ts})
        return self.last_ts

    def published(self) -> int:
        """How many events the realtime channel ``brewery`` has had."""
        info = httpx.get(f"{self.server.url}/realtime/guest/brewery").json()
        return int(info["last"].rsplit("-", 1)[1])

    def wait(self, check: Any, what: str, limit_s: float = 60) -> Any:
        deadline = time.monotonic() + limit_s
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.2)


def missing(brewery: Brewery, fires: list[dict[str, Any]]) -> list[Any] | None:
    """The fired readings not stored yet, ``["none"]`` when all are; None while activations
    still seem to be running (the count grew since the last look)."""
    history = brewery.get_latest()["history"]
    stored = {(key, point[0]) for key, points in history.items() for point in points}
    left = [f for f in fires if (f"{f['tank']}:{f['sensor']}", f["timestamp"]) not in stored]
    count = len(stored)
    settled = count == getattr(brewery, "_seen", -1)
    brewery._seen = count  # type: ignore[attr-defined]
    if not left:
        return ["none"]
    return left if settled else None


def history_steps() -> list[Step]:
    sim = Simulator(seed=7, interval=HISTORY_STEP_S, faults=[Fault.parse("overheat@40")])
    return [s for s in sim.steps() if HISTORY_FROM_MIN * 60 <= s.t <= HISTORY_TO_MIN * 60]


@pytest.fixture(scope="module")
def brewery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brewery]:
    # Browsers reconnect after `retry` ms: short, so the reconnect test is quick.
    srv = start_server(tmp_path_factory.mktemp("dashboard"),
                       env={"PWSK_REALTIME_RETRY_MS": "300"})
    client = Client(srv.url, srv.auth)
    try:
        deploy_brewery(srv.url, srv.auth)
        steps = history_steps()
        now = int(time.time() * 1000)
        brewery = Brewery(srv, client, steps, 0)
        fires: list[dict[str, Any]] = []
        for i, step in enumerate(steps):
            ts = now - (len(steps) - i) * HISTORY_GAP_MS
            last = i == len(steps) - 1
            for r in step.readings:
                if r.sensor in CHARTED or last:  # states only as they are now
                    fires.append({"tank": r.tank, "sensor": r.sensor, "value": r.value,
                                  "unit": r.unit, "timestamp": ts})
            brewery.last_ts = ts
        # Paced like sensors: a burst would pass the namespace's concurrent-invocation
        # throttle, and rule invocations over it are refused (as OpenWhisk does). What a busy
        # machine still refused is fired again (storing a reading is idempotent).
        for _ in range(4):
            for params in fires:
                assert client.fire_trigger("measurement", params)
                time.sleep(FIRE_GAP_S)
            fires = brewery.wait(lambda todo=fires: missing(brewery, todo),
                                 "the history to settle", 20)
            if fires == ["none"]:
                break
        else:
            raise AssertionError(f"readings not stored: {fires}")
        yield brewery
    finally:
        client.close()
        srv.stop()
