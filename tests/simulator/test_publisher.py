"""The simulator over MQTT: topics, payloads, pacing, a broker that goes away, the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from bridge import EmbeddedBroker
from functions.simulator import Simulator
from functions.simulator.publisher import BrokerAddress, publish
from tests.servers import ROOT

pytestmark = pytest.mark.anyio


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker() as embedded:
        yield embedded


async def collect(broker: EmbeddedBroker, into: list[aiomqtt.Message],
                  ready: asyncio.Event) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe("brewery/#", qos=1)
        ready.set()
        async for message in client.messages:
            into.append(message)


async def test_a_brew_is_published_on_brewery_topics(broker: EmbeddedBroker) -> None:
    got: list[aiomqtt.Message] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(collect(broker, got, ready))
    await asyncio.wait_for(ready.wait(), 5)
    started_ms = int(time.time() * 1000)
    done = await publish(Simulator(seed=1, interval=900), BrokerAddress.parse(broker.url),
                         time_scale=0)
    for _ in range(200):
        if len(got) == done.messages:
            break
        await asyncio.sleep(0.02)
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    assert done.messages == done.steps * 10 and done.skipped == 0
    assert len(got) == done.messages
    topics = {message.topic.value for message in got}
    assert topics == {f"brewery/{tank}/{sensor}" for tank in ("mash", "boil")
                      for sensor in ("temperature", "level", "valve", "pump", "heater")}
    for message in got:
        assert message.qos == 1
        assert isinstance(message.payload, bytes)
        payload = json.loads(message.payload)
        assert set(payload) == {"value", "unit", "timestamp"}
        assert started_ms <= payload["timestamp"] <= int(time.time() * 1000)
        unit = {"temperature": "C", "level": "%"}.get(message.topic.value.split("/")[2], "state")
        assert payload["unit"] == unit


async def test_time_scale_paces_the_brew(broker: EmbeddedBroker) -> None:
    started = time.monotonic()
    done = await publish(Simulator(seed=1, interval=60, max_seconds=300),
                         BrokerAddress.parse(broker.url), time_scale=600)
    elapsed = time.monotonic() - started
    assert done.steps == 6  # t = 0, 60, ..., 300
    assert 0.45 <= elapsed < 2.0  # 300 simulated seconds at 600x


async def test_publishing_survives_a_broker_restart(broker: EmbeddedBroker) -> None:
    async def outage() -> None:
        await asyncio.sleep(0.5)
        await broker.stop()
        await asyncio.sleep(0.5)
        await broker.start()

    trouble = asyncio.create_task(outage())
    done = await publish(Simulator(seed=1, interval=60, max_seconds=1800),
                         BrokerAddress.parse(broker.url), time_scale=600, ack_timeout=0.3)
    await trouble
    assert done.steps + done.skipped == 31  # readings due while the broker was away are skipped
    assert done.steps >= 12
    assert done.reconnects >= 1


def test_broker_addresses() -> None:
    assert BrokerAddress.parse("mqtt://u:p%21@h:1999") == BrokerAddress("h", 1999, "u", "p!")
    assert BrokerAddress.parse("mqtt://h").port == 1883
    for bad in ("http://h", "mqtt://", "mqtt://h:port"):
        with pytest.raises(ValueError, match="broker"):
            BrokerAddress.parse(bad)


def test_cli_prints_a_brew() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "functions.simulator", "--stdout", "--seed", "3", "--interval",
         "3600"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["topic"] == "brewery/mash/temperature"
    assert lines[0]["t"] == 0.0 and lines[0]["unit"] == "C"
    assert lines[-1]["phase"] == "done"


def test_cli_stops_after_minutes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "functions.simulator", "--stdout", "--seed", "3", "--interval",
         "300", "--minutes", "30"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True)
    times = sorted({json.loads(line)["t"] for line in result.stdout.splitlines()})
    assert times == [0.0, 300.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0]
    bad = subprocess.run([sys.executable, "-m", "functions.simulator", "--minutes", "0"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--minutes must be > 0" in bad.stderr


def test_cli_rejects_bad_faults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "functions.simulator", "--fault", "melt@3"], cwd=ROOT,
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "expected KIND@MINUTE[+MINUTES]" in result.stderr


async def test_cli_publishes(broker: EmbeddedBroker) -> None:
    got: list[aiomqtt.Message] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(collect(broker, got, ready))
    await asyncio.wait_for(ready.wait(), 5)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "functions.simulator", "--broker", broker.url, "--time-scale",
        "0", "--interval", "1800", "--seed", "1", "--fault", "overheat@45", cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    await asyncio.sleep(0.2)
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    assert proc.returncode == 0, err.decode()
    assert "brew 1 done" in err.decode()
    assert len(got) >= 100 and len(got) % 10 == 0
