"""The bridge against a scripted pwsk (httpx MockTransport) and the embedded broker: payload
shapes, back-pressure, acknowledgement order, graceful stop."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge import Bridge, EmbeddedBroker
from bridge.journal import Journal
from bridge.service import _Acker
from tests.bridge.conftest import MakeConfig
from tests.bridge.helpers import publish, reading, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker() as embedded:
        yield embedded


class SlowPwsk:
    """Accepts every fire after ``delay`` seconds and records the peak concurrency."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.bodies: list[dict[str, Any]] = []
        self.running = 0
        self.peak = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.delay)
            self.bodies.append(json.loads(request.content))
            return httpx.Response(202, json={"activationId": "0" * 32})
        finally:
            self.running -= 1


async def test_payload_shapes_and_unmappable_topics(broker: EmbeddedBroker,
                                                    make_config: MakeConfig) -> None:
    pwsk = SlowPwsk()
    config = make_config(broker.url, "http://pwsk.test", "a:b", [
        {"topic": "brewery/+/+", "trigger": "measurement",
         "params": {"tank": "{1}", "sensor": "{2}"}},
        {"topic": "events/#", "trigger": "event", "params": {"kind": "{1}"}},
    ])
    async with Bridge(config, transport=httpx.MockTransport(pwsk)) as bridge:
        await bridge.wait_ready()
        await publish(broker.host, broker.port, [
            ("brewery/mash/valve", b"open"),
            ("brewery/boil/level", b"[1,2]"),
            ("brewery/boil/pump", b"\xff\xfe"),
            ("events", b'{"note": "no level 1"}'),
            ("events/door", b'{"note": "fine"}'),
        ])
        await wait_until(lambda: bridge.metrics.fired + bridge.metrics.dead_lettered == 5)
    assert sorted(pwsk.bodies, key=json.dumps) == sorted([
        {"payload": "open", "tank": "mash", "sensor": "valve"},
        {"payload": [1, 2], "tank": "boil", "sensor": "level"},
        {"payload_base64": "//4=", "tank": "boil", "sensor": "pump"},
        {"note": "fine", "kind": "door"},
    ], key=json.dumps)
    (letter,) = bridge.dead_letters.read()
    assert letter["topic"] == "events"
    assert letter["error"] == "topic 'events' has no level 1"
    assert letter["params"] == {"note": "no level 1"}


async def test_in_flight_fires_are_bounded(broker: EmbeddedBroker,
                                           make_config: MakeConfig) -> None:
    pwsk = SlowPwsk(delay=0.05)
    config = make_config(broker.url, "http://pwsk.test", "a:b",
                         [{"topic": "brewery/#", "trigger": "m"}], max_in_flight=3)
    async with Bridge(config, transport=httpx.MockTransport(pwsk)) as bridge:
        await bridge.wait_ready()
        peak_gauge = 0

        def sample() -> bool:
            nonlocal peak_gauge
            peak_gauge = max(peak_gauge, bridge.metrics.in_flight)
            return bridge.metrics.fired == 30

        await publish(broker.host, broker.port,
                      [("brewery/mash/level", reading(i, "%")) for i in range(30)])
        await wait_until(sample, "30 fires")
    assert pwsk.peak == 3
    assert peak_gauge <= 3
    assert sorted(body["value"] for body in pwsk.bodies) == list(range(30))


async def test_a_graceful_stop_leaves_unfinished_fires_to_the_next_run(
        broker: EmbeddedBroker, make_config: MakeConfig) -> None:
    hanging = SlowPwsk(delay=30)
    config = make_config(broker.url, "http://pwsk.test", "a:b",
                         [{"topic": "brewery/#", "trigger": "m"}], drain_timeout=0.2)
    async with Bridge(config, transport=httpx.MockTransport(hanging)) as bridge:
        await bridge.wait_ready()
        await publish(broker.host, broker.port,
                      [("brewery/boil/level", reading(i, "%")) for i in range(4)])
        await wait_until(lambda: bridge.metrics.in_flight == 4)
    assert bridge.metrics.fired == 0
    quick = SlowPwsk()
    async with Bridge(config, transport=httpx.MockTransport(quick)) as again:
        assert again.metrics.replayed == 4
        await wait_until(lambda: again.metrics.fired == 4, "replayed fires")
        assert again.metrics.pending == 0
    assert sorted(body["value"] for body in quick.bodies) == [0, 1, 2, 3]


class Recorder:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: Any) -> None:
        self.acked.append(message)


async def test_acks_wait_for_the_disk_and_keep_arrival_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.open()
    gates = [threading.Event(), threading.Event()]  # one per fsync, opened by the test
    calls = iter(gates)
    real_fsync = os.fsync

    def held_fsync(fd: int) -> None:
        gate = next(calls, None)
        if gate is not None:
            gate.wait(5)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", held_fsync)
    conn = Recorder()
    acker = _Acker(conn, journal)  # type: ignore[arg-type]
    task = asyncio.create_task(acker.run())
    journal.add("t", {}, "x")
    acker.push(1, journal.position)  # type: ignore[arg-type]
    await asyncio.sleep(0.05)  # the first fsync is under way, held
    journal.add("t", {}, "x")
    acker.push(2, journal.position)  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert conn.acked == []  # nothing is acknowledged before its line is on disk
    gates[0].set()
    await wait_until(lambda: conn.acked == [1], "the first ack")
    await asyncio.sleep(0.05)
    assert conn.acked == [1]  # 2 arrived during the first fsync: it waits for the second
    gates[1].set()
    await asyncio.wait_for(acker.flush(), 5)
    assert conn.acked == [1, 2]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    journal.close()
