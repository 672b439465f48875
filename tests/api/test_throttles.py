"""Throttles (spec §6.4): per-minute invocations and fires, concurrent invocations → 429."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.helpers import ECHO, NS, invoke, put_action
from tests.servers import Server, start_server


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path, env={"PWSK_INVOCATIONS_PER_MINUTE": "3",
                                      "PWSK_FIRES_PER_MINUTE": "2",
                                      "PWSK_CONCURRENT_INVOCATIONS": "1"})
    yield srv
    srv.stop()


def _fresh_minute() -> None:
    """Calendar-minute windows: do not start a count a few seconds before one resets."""
    if time.time() % 60 > 50:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_invocations_per_minute(tight: Server) -> None:
    with tight.client() as api:
        put_action(api, "e", ECHO)
        _fresh_minute()
        for _ in range(3):
            assert invoke(api, "e").status_code == 200
        r = invoke(api, "e")
        assert r.status_code == 429
        assert r.json()["error"] == (
            "Too many requests in the last minute (count: 4, allowed: 3).")
        limits = api.get(f"{NS}/limits").json()
        assert limits["invocationsPerMinute"] == 3 and limits["concurrentInvocations"] == 1


def test_concurrent_invocations(tight: Server) -> None:
    with tight.client() as api:
        put_action(api, "slow", "import time\ndef main(a):\n    time.sleep(2)\n    return {}\n")
        _fresh_minute()
        assert api.post(f"{NS}/actions/slow", json={}).status_code == 202
        r = api.post(f"{NS}/actions/slow", json={})
        assert r.status_code == 429
        assert r.json()["error"] == (
            "Too many concurrent requests in flight (count: 1, allowed: 1).")


def test_fires_per_minute(tight: Server) -> None:
    with tight.client() as api:
        put_action(api, "e", ECHO)
        api.put(f"{NS}/triggers/t", json={})
        api.put(f"{NS}/rules/r", json={"trigger": "/_/t", "action": "/_/e"})
        api.post(f"{NS}/rules/r", json={"status": "inactive"})
        _fresh_minute()
        assert api.post(f"{NS}/triggers/t", json={}).status_code == 204  # no rule: not counted
        api.post(f"{NS}/rules/r", json={"status": "active"})
        assert api.post(f"{NS}/triggers/t", json={}).status_code == 202
        time.sleep(0.5)
        assert api.post(f"{NS}/triggers/t", json={}).status_code == 202
        r = api.post(f"{NS}/triggers/t", json={})
        assert r.status_code == 429
        assert "(count: 3, allowed: 2)" in r.json()["error"]
