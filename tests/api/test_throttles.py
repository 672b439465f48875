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


def test_a_rule_waits_for_a_concurrency_slot(tight: Server) -> None:
    # Better than OpenWhisk, which drops a rule's activation at the concurrency limit: a
    # fire's rule waits for a slot (bounded), so a burst of events loses none of them.
    with tight.client() as api:
        put_action(api, "busy", "import time\ndef main(a):\n    time.sleep(1)\n    return a\n")
        api.put(f"{NS}/triggers/tb", json={})
        api.put(f"{NS}/rules/rb", json={"trigger": "/_/tb", "action": "/_/busy"})
        _fresh_minute()
        fired = [api.post(f"{NS}/triggers/tb", json={"n": n}) for n in (1, 2)]
        assert [r.status_code for r in fired] == [202, 202], [r.text for r in fired]
        deadline = time.monotonic() + 60
        while True:
            records = api.get(f"{NS}/activations", params={"name": "busy", "docs": "true"})
            done = [a for a in records.json() if a.get("response", {}).get("success")]
            if len(done) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert sorted(a["response"]["result"]["n"] for a in done) == [1, 2]
        second = api.get(f"{NS}/activations/{fired[1].json()['activationId']}").json()
        assert '"success":true' in second["logs"][0].replace(" ", ""), second["logs"]
