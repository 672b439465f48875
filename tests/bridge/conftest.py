"""Fixtures for the bridge: brokers (embedded amqtt, and Mosquitto under the ``mqtt`` marker),
bridge configurations with fast retries, and triggers with a rule to an echo action."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from bridge import BridgeConfig, EmbeddedBroker, parse_config
from tests.bus import engines
from tests.servers import Server, free_port

ECHO = "def main(args):\n    return args\n"


def pytest_collection_finish(session: pytest.Session) -> None:
    # The shared Mosquitto comes from scripts/services, started once before any test needs it;
    # when it cannot be had, those tests fail with the script's words (never skip).
    if any(item.get_closest_marker("mqtt") for item in session.items):
        engines.start("mosquitto")


@pytest.fixture
def root() -> str:
    """A topic root of this test's own, so tests sharing a broker never see each other."""
    return f"brewery-{secrets.token_hex(4)}"


@pytest.fixture
def client_id() -> str:
    return f"bridge-{secrets.token_hex(4)}"


@dataclass
class BrokerUnderTest:
    kind: str
    url: str
    host: str
    port: int
    restart: Callable[[], Awaitable[None]] | None = None


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mqtt)])
async def mqtt(request: pytest.FixtureRequest, client_id: str) -> AsyncIterator[BrokerUnderTest]:
    """A broker on loopback: amqtt in this process, or the Mosquitto of scripts/services
    (shared, so the bridge's persistent session is dropped after the test)."""
    if request.param == "embedded":
        async with EmbeddedBroker() as embedded:
            yield BrokerUnderTest("embedded", embedded.url, embedded.host, embedded.port)
        return
    url = engines.url("mosquitto")
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    yield BrokerUnderTest("mosquitto", url, host, int(port))
    async with aiomqtt.Client(host, int(port), identifier=client_id, clean_session=True):
        pass


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)),
        None)
    if found is None:
        pytest.fail("mosquitto is not installed: `scripts/services up mosquitto` installs it "
                    "(or apt-get install mosquitto)", pytrace=False)
    return found


class PrivateMosquitto:
    """A Mosquitto of the test's own (the test restarts it), on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.binary = mosquitto_binary()
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             "persistence false\nlog_dest stderr\nlog_type error\n")
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)],  # noqa: ASYNC220
                                         stdout=log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, timeout=1):
                    return
            except aiomqtt.MqttError:
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
        pytest.fail(f"mosquitto did not start:\n{self.log.read_text()}", pytrace=False)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mqtt)])
async def restartable(request: pytest.FixtureRequest,
                      tmp_path: Path) -> AsyncIterator[BrokerUnderTest]:
    """A broker the test may restart on the same port: ``await broker.restart()``."""
    if request.param == "embedded":
        embedded = EmbeddedBroker()
        await embedded.start()

        async def restart_embedded() -> None:
            await embedded.stop()
            await asyncio.sleep(0.3)  # the bridge notices and starts backing off
            await embedded.start()

        try:
            yield BrokerUnderTest("embedded", embedded.url, embedded.host, embedded.port,
                                  restart_embedded)
        finally:
            await embedded.stop()
        return
    private = PrivateMosquitto(tmp_path)
    await private.start()

    async def restart_private() -> None:
        private.stop()
        await asyncio.sleep(0.3)
        await private.start()

    try:
        yield BrokerUnderTest("mosquitto", f"mqtt://127.0.0.1:{private.port}", "127.0.0.1",
                              private.port, restart_private)
    finally:
        private.stop()


MakeConfig = Callable[..., BridgeConfig]


@pytest.fixture
def make_config(tmp_path: Path, client_id: str) -> MakeConfig:
    """``make_config(broker_url, api_host, key, routes, **overrides)`` with fast retries, a
    metrics port of its own, and state under the test's tmp_path."""

    def make(broker_url: str, api_host: str, key: str, routes: list[dict[str, Any]],
             **overrides: Any) -> BridgeConfig:
        data: dict[str, Any] = {
            "broker": {"url": broker_url, "client_id": client_id, "reconnect_initial": 0.05,
                       "reconnect_max": 0.5},
            "api": {"host": api_host, "key": key, "timeout": 5},
            "routes": routes,
            "retry": {"initial": 0.05, "max": 0.5, "give_up_after": 60},
            "state_dir": str(tmp_path / "state"),
            "metrics": {"port": 0},
            "drain_timeout": 1,
        }
        for field, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(field), dict):
                data[field] = {**data[field], **value}
            else:
                data[field] = value
        return parse_config(data, "test configuration")

    return make


@dataclass
class FiredTrigger:
    name: str
    action: str
    rule: str


@pytest.fixture
def trigger_factory(server: Server) -> Iterator[Callable[[str], FiredTrigger]]:
    """``make(name)``: trigger ``name`` with an active rule to an echo action; removed after."""
    made: list[FiredTrigger] = []
    client = server.client()
    ns = "/api/v1/namespaces/_"

    def make(trigger: str) -> FiredTrigger:
        item = FiredTrigger(trigger, f"{trigger}-echo", f"{trigger}-rule")
        response = client.put(f"{ns}/actions/{item.action}",
                              json={"exec": {"kind": "python:default", "code": ECHO}})
        assert response.status_code == 200, response.text
        assert client.put(f"{ns}/triggers/{trigger}", json={}).status_code == 200
        response = client.put(f"{ns}/rules/{item.rule}", json={
            "trigger": f"/_/{trigger}", "action": f"/_/{item.action}"})
        assert response.status_code == 200, response.text
        made.append(item)
        return item

    yield make
    for item in made:
        client.delete(f"{ns}/rules/{item.rule}")
        client.delete(f"{ns}/triggers/{item.name}")
        client.delete(f"{ns}/actions/{item.action}")
    client.close()
