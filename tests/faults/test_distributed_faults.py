"""Faults on the distributed stack: nothing accepted is lost, nobody hangs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import NS, put_action
from tests.distributed import Stack, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.consul, pytest.mark.couchdb,
              pytest.mark.docker]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = start_stack(tmp_path)
    yield s
    s.stop()


def _count(api: httpx.Client, name: str) -> int:
    r = api.get(f"{NS}/activations", params={"name": name, "count": "true"})
    return int(r.json()["activations"]) if r.status_code == 200 else -1


@pytest.mark.timeout(600)
def test_killed_invoker_loses_no_accepted_activation(stack: Stack) -> None:
    with stack.client() as api:
        put_action(api, "noop", "def main(a):\n    return {'i': a.get('i')}\n")
        ids: list[str] = []
        for i in range(1000):
            if i == 300:
                stack.kill("invoker0")
            r = api.post(f"{NS}/actions/noop", json={"i": i})
            assert r.status_code in (202, 503), r.text
            if r.status_code == 202:
                ids.append(r.json()["activationId"])
        assert len(ids) >= 900  # the survivor kept serving
        stack.spawn("invoker0")  # same name, same id: it takes up its own topic again
        deadline = time.monotonic() + 240
        while _count(api, "noop") < len(ids) and time.monotonic() < deadline:
            time.sleep(1)
        missing = [a for a in ids if api.get(f"{NS}/activations/{a}").status_code != 200]
        assert missing == [], f"{len(missing)} accepted activations have no record"


@pytest.mark.timeout(300)
def test_restarted_controller_loses_nothing_and_callers_get_answers(stack: Stack) -> None:
    with stack.client() as api:
        put_action(api, "kept", "def main(a):\n    return {'ok': True}\n")
        stack.kill("controller1")
        for _ in range(20):  # the gateway skips the dead controller
            r = api.post(f"{NS}/actions/kept?blocking=true&result=true", json={})
            assert r.status_code == 200, r.text
        stack.spawn("controller1")
        time.sleep(3)
        for _ in range(20):
            assert api.get(f"{NS}/actions/kept").status_code == 200
            r = api.post(f"{NS}/actions/kept?blocking=true&timeout=20000", json={})
            assert r.status_code in (200, 202, 503), r.text
