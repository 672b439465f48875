"""The bridge end to end: a real ``pwsk standalone``, a real broker (embedded amqtt, and
Mosquitto under ``-m mqtt``), QoS 1 readings in, trigger activations out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from bridge import Bridge, EmbeddedBroker
from tests.bridge.conftest import BrokerUnderTest, FiredTrigger, MakeConfig
from tests.bridge.helpers import publish, reading, scrape, wait_for_count, wait_until
from tests.servers import ROOT, Server, free_port, start_server

pytestmark = pytest.mark.anyio
TriggerFactory = Callable[[str], FiredTrigger]
TANKS = ("mash", "boil")
SENSORS = {"temperature": "C", "level": "%", "valve": "state", "pump": "state",
           "heater": "state"}


def routes(root: str, trigger: str) -> list[dict[str, object]]:
    return [{"topic": f"{root}/+/+", "trigger": trigger,
             "params": {"tank": "{1}", "sensor": "{2}"}}]


def readings(root: str, count: int) -> list[tuple[str, bytes]]:
    sensors = list(SENSORS)
    out = []
    for i in range(count):
        tank, sensor = TANKS[i % 2], sensors[i % len(sensors)]
        out.append((f"{root}/{tank}/{sensor}", reading(i, SENSORS[sensor], 1_700_000_000_000 + i)))
    return out


async def test_readings_become_trigger_activations(
        mqtt: BrokerUnderTest, server: Server, trigger_factory: TriggerFactory,
        make_config: MakeConfig, root: str, name: str) -> None:
    trigger = trigger_factory(f"measurement-{name}")
    count = 30
    config = make_config(mqtt.url, server.url, server.auth, routes(root, trigger.name))
    async with Bridge(config) as bridge:
        async with asyncio.timeout(10):
            await bridge.wait_ready()
        await publish(mqtt.host, mqtt.port, readings(root, count))
        with server.client() as api:
            found = await wait_for_count(api, trigger.name, count)
            await wait_for_count(api, trigger.action, count)  # every rule ran the action
        await wait_until(lambda: bridge.metrics.pending == 0, "journal drained")
        metrics = await scrape(bridge)
        assert bridge.metrics_server is not None
        async with httpx.AsyncClient() as client:
            health = await client.get(bridge.metrics_server.url + "/healthz")
        assert health.status_code == 200
    by_value = {record["response"]["result"]["value"]: record["response"]["result"]
                for record in found}
    for i, (topic, _) in enumerate(readings(root, count)):
        _, tank, sensor = topic.split("/")
        assert by_value[i] == {"tank": tank, "sensor": sensor, "value": i,
                               "unit": SENSORS[sensor], "timestamp": 1_700_000_000_000 + i}
    assert metrics["received"] == count
    assert metrics["fired"] == count
    assert metrics["dead_lettered"] == metrics["retried"] == 0
    assert metrics["in_flight"] == metrics["pending"] == 0
    assert metrics["connected"] == 1
    assert config.dead_letter_path.exists() is False


async def test_fires_to_a_missing_trigger_go_to_dead_letters(
        mqtt: BrokerUnderTest, server: Server, make_config: MakeConfig, root: str,
        name: str) -> None:
    config = make_config(mqtt.url, server.url, server.auth, routes(root, f"missing-{name}"))
    async with Bridge(config) as bridge:
        async with asyncio.timeout(10):
            await bridge.wait_ready()
        await publish(mqtt.host, mqtt.port, readings(root, 5))
        await wait_until(lambda: bridge.metrics.dead_lettered == 5, "5 dead letters")
        metrics = await scrape(bridge)
    assert metrics["fired"] == metrics["retried"] == metrics["pending"] == 0
    letters = bridge.dead_letters.read()
    assert len(letters) == 5
    assert {letter["status"] for letter in letters} == {404}
    assert sorted(letter["params"]["value"] for letter in letters) == [0, 1, 2, 3, 4]
    assert all(letter["trigger"] == f"missing-{name}" for letter in letters)


async def test_while_pwsk_is_down_fires_wait_and_none_is_lost(
        mqtt: BrokerUnderTest, make_config: MakeConfig, tmp_path: Path, root: str) -> None:
    # A server of its own on a fixed port, with the trigger in its store; then stopped.
    port = free_port()
    data = tmp_path / "pwsk"
    server = await asyncio.to_thread(start_server, data, None, port)
    with server.client() as api:
        assert api.put("/api/v1/namespaces/_/actions/echo", json={
            "exec": {"kind": "python:default", "code": "def main(a):\n    return a\n"}},
        ).status_code == 200
        assert api.put("/api/v1/namespaces/_/triggers/measurement", json={}).status_code == 200
        assert api.put("/api/v1/namespaces/_/rules/r", json={
            "trigger": "/_/measurement", "action": "/_/echo"}).status_code == 200
    await asyncio.to_thread(server.stop)

    count = 8
    config = make_config(mqtt.url, server.url, server.auth, routes(root, "measurement"))
    try:
        async with Bridge(config) as bridge:
            async with asyncio.timeout(10):
                await bridge.wait_ready()
            await publish(mqtt.host, mqtt.port, readings(root, count))
            await wait_until(lambda: bridge.metrics.retried >= 2 * count, "retries")
            assert bridge.metrics.fired == 0
            assert bridge.metrics.in_flight == bridge.metrics.pending == count
            health = bridge.health()
            assert health["status"] == "degraded" and health["pwsk"]["status"] == "down", health
            assert health["broker"] == {"status": "up"} and health["pending"] == count, health
            server = await asyncio.to_thread(start_server, data, None, port)
            await wait_until(lambda: bridge.metrics.fired == count, "fires after restart")
            assert bridge.health()["status"] == "ok", bridge.health()
            with server.client() as api:
                await wait_for_count(api, "measurement", count)
            assert bridge.metrics.dead_lettered == 0
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_bridge_killed_before_firing_loses_nothing(
        mqtt: BrokerUnderTest, server: Server, trigger_factory: TriggerFactory,
        make_config: MakeConfig, root: str, name: str, tmp_path: Path) -> None:
    """kill -9 after the messages were acknowledged to the broker but before pwsk took any:
    the next bridge fires them from its journal, and the broker has nothing left to send."""
    trigger = trigger_factory(f"measurement-{name}")
    count = 6
    metrics_port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"
    doomed = make_config(mqtt.url, dead, server.auth, routes(root, trigger.name),
                         metrics={"port": metrics_port})
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(doomed.model_dump(mode="json")))
    log = (tmp_path / "bridge.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, never waited on in the loop
        [sys.executable, "-m", "bridge", "--config", str(path)], cwd=ROOT,
        stdout=log, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics_port}") as client:
            async def scraped() -> dict[str, str]:
                try:
                    text = (await client.get("/metrics")).text
                except httpx.HTTPError:
                    return {}
                return dict(line.split(" ") for line in text.splitlines()
                            if not line.startswith("#"))

            for _ in range(400):
                if (await scraped()).get("pwsk_bridge_connected") == "1":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the bridge process did not connect")
            await publish(mqtt.host, mqtt.port, readings(root, count))
            for _ in range(400):
                values = await scraped()
                if (values.get("pwsk_bridge_received_total") == str(count)
                        and float(values.get("pwsk_bridge_retried_total", 0)) >= count):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the bridge did not take the messages: {values}")
            await asyncio.sleep(0.2)  # let the acknowledgements leave
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()

    journal = [orjson.loads(line) for line in doomed.journal_path.read_bytes().splitlines()]
    assert sum(1 for line in journal if line["op"] == "add") == count, (
        journal, (tmp_path / "bridge.log").read_text())

    revived = doomed.model_copy(update={"api": doomed.api.model_copy(
        update={"host": server.url})})
    async with Bridge(revived) as bridge:
        async with asyncio.timeout(10):
            await bridge.wait_ready()
        assert bridge.metrics.replayed == count
        await wait_until(lambda: bridge.metrics.fired == count, "replayed fires")
        with server.client() as api:
            await wait_for_count(api, trigger.name, count)
        await asyncio.sleep(0.3)
        assert bridge.metrics.received == 0  # the broker had nothing to send again


async def test_the_bridge_reconnects_after_a_broker_restart(
        restartable: BrokerUnderTest, server: Server,
        trigger_factory: TriggerFactory, make_config: MakeConfig, root: str,
        name: str) -> None:
    trigger = trigger_factory(f"measurement-{name}")
    config = make_config(restartable.url, server.url, server.auth, routes(root, trigger.name))
    async with Bridge(config) as bridge:
        async with asyncio.timeout(10):
            await bridge.wait_ready()
        await publish(restartable.host, restartable.port, readings(root, 4))
        await wait_until(lambda: bridge.metrics.fired == 4, "first fires")
        assert restartable.restart is not None
        await restartable.restart()
        await wait_until(lambda: bridge.metrics.reconnects >= 1 and bridge.connected,
                         "a reconnection")
        async with asyncio.timeout(10):
            await bridge.wait_ready()
        later = [(topic, reading(100 + i)) for i, (topic, _) in
                 enumerate(readings(root, 4))]
        await publish(restartable.host, restartable.port, later)
        await wait_until(lambda: bridge.metrics.fired == 8, "fires after the restart")
        with server.client() as api:
            await wait_for_count(api, trigger.name, 8)
        metrics = await scrape(bridge)
    assert metrics["reconnects"] >= 1
    assert metrics["received"] == 8


async def test_sigterm_stops_the_bridge_process_cleanly(
        make_config: MakeConfig, tmp_path: Path) -> None:
    async with EmbeddedBroker() as broker:
        config = make_config(broker.url, "http://127.0.0.1:9", "a:b",
                             [{"topic": "x/#", "trigger": "t"}],
                             metrics={"port": free_port()})
        path = tmp_path / "bridge.yaml"
        path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "--config", str(path), cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        assert config.metrics is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{config.metrics.port}") as http:
            for _ in range(400):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the bridge process did not connect")
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    assert b"connected to 127.0.0.1" in err
