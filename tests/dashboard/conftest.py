"""The dashboard in headless Chromium (Debian's, never a downloaded one) with Playwright, on
the deployment the ``server`` fixture gives, with the brewery as a user runs it: deployed from
its manifest, fed by the simulator over MQTT through the bridge (``tests/e2e/rig.py``, one
per session, shared with the end-to-end tests; its compressed brew is the history).

Chromium or Playwright missing is a failure with the fix in its message, never a skip:
``source scripts/lib/browser.sh && pwsk_browser`` installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import DEPLOYMENT
from tests.e2e.rig import Rig, shared_rig
from tests.servers import ROOT, Server

CHROMIUM = os.environ.get("PWSK_CHROMIUM", "/usr/bin/chromium")
HOW_TO = "install it with: source scripts/lib/browser.sh && pwsk_browser"

def artifacts() -> Path:
    """Where screenshots go: ``$PWSK_ARTIFACTS`` (default ``artifacts/``), then
    ``dashboard/<deployment>/``."""
    path = Path(os.environ.get("PWSK_ARTIFACTS") or ROOT / "artifacts") / "dashboard" / DEPLOYMENT
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
    rig: Rig
    last_ts: int = 0

    @property
    def server(self) -> Server:
        return self.rig.server

    @property
    def dashboard(self) -> str:
        return f"{self.server.url}/dashboard/"

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.server.url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    def get_latest(self) -> dict[str, Any]:
        return self.rig.get_latest(minutes=60)

    def fire(self, readings: list[tuple[str, str, float]]) -> int:
        """Publish (tank, sensor, value) readings over MQTT, as the sensors do, one timestamp
        for all of them and later than any before."""
        self.last_ts = max(self.last_ts + 1, int(time.time() * 1000))
        return self.rig.publish(readings, self.last_ts)

    def published(self) -> int:
        """How many events the realtime channel ``brewery`` has had."""
        info = httpx.get(f"{self.server.url}/realtime/guest/brewery").json()
        return int(info["last"].rsplit("-", 1)[1])

    def records(self, name: str, since_ms: int) -> dict[str, dict[str, Any]] | None:
        """The activation records of ``name`` started since ``since_ms``, by id (every
        page); None when the platform is too busy to list them now (a 503 or a timeout)."""
        out: dict[str, dict[str, Any]] = {}
        with self.server.client() as api:
            for skip in range(0, 10_000, 200):
                try:
                    answer = api.get("/api/v1/namespaces/_/activations",
                                     params={"name": name, "since": since_ms, "limit": 200,
                                             "skip": skip, "docs": "true"}, timeout=30)
                except httpx.TimeoutException:
                    return None
                if answer.status_code in (429, 502, 503, 504):
                    return None
                answer.raise_for_status()
                page = answer.json()
                out.update((act["activationId"], act) for act in page)
                if len(page) < 200:
                    break
        return out

    def realtime_trace(self, since_ms: int) -> dict[str, str] | None:
        """Where each reading's realtime event is, for every reading the ``measurement``
        trigger took since ``since_ms`` (``"tank:sensor@timestamp"`` →): ``published`` (its
        publish-realtime activation posted it to the channel), ``in flight`` (that activation
        has no record yet: queued or running), ``refused: <why>`` (the rule's activation was
        never started), ``failed: <status> <result> <logs>``, or ``no rule``. A reading the
        bridge has not fired yet (or whose trigger activation is not recorded) is absent.
        None when the platform is too busy to list the records now."""
        fires = self.records("measurement", since_ms)
        publishes = self.records("publish-realtime", since_ms)
        if fires is None or publishes is None:
            return None
        out: dict[str, str] = {}
        for fire in fires.values():
            payload = fire.get("response", {}).get("result") or {}
            key = f"{payload.get('tank')}:{payload.get('sensor')}@{payload.get('timestamp')}"
            lines = [rule_line(x) for x in fire.get("logs", []) if "publish-realtime" in x]
            if not lines:
                state = "no rule"
            elif not lines[0].get("success"):
                state = f"refused: {lines[0].get('error')}"
            elif (act := publishes.get(lines[0]["activationId"])) is None:
                state = "in flight"
            elif (act.get("response", {}).get("result") or {}).get("published"):
                state = "published"
            else:
                response = act.get("response", {})
                state = (f"failed: {response.get('status')} "
                         f"{json.dumps(response.get('result'))[:200]} "
                         f"{act.get('logs', [])[-3:]}")
            # A fire the bridge made twice (its first answer timed out): the better fate.
            out[key] = min(out.get(key, state), state, key=lambda x: FATES.get(x, 9))
        return out

    def wait(self, check: Any, what: str, limit_s: float = 60) -> Any:
        deadline = time.monotonic() + limit_s
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.2)


FATES = {"published": 0, "in flight": 1}  # better first; then failed, refused, no rule


def rule_line(log: str) -> dict[str, Any]:
    """One line of a trigger activation's logs: what one rule's activation became."""
    try:
        line = json.loads(log)
    except ValueError:
        return {"error": f"unreadable log line {log!r}"}
    return line if isinstance(line, dict) else {"error": f"unreadable log line {log!r}"}


@pytest.fixture(scope="session")
def brewery(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brewery]:
    with shared_rig(server, tmp_path_factory.mktemp("brewery")) as rig:
        yield Brewery(rig)
