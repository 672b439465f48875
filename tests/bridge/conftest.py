"""Fixtures for the bridge: brokers (embedded amqtt, and Mosquitto under ``-m mqtt``), bridge
configurations with fast retries, and triggers with a rule to an echo action."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from bridge import BridgeConfig, EmbeddedBroker, parse_config
from tests.bus import engines
from tests.servers import Server

ECHO = "def main(args):\n    return args\n"


def pytest_collection_finish(session: pytest.Session) -> None:
    # Mosquitto comes from scripts/services, started once before the first test needs it.
    if any(item.get_closest_marker("mqtt") for item in session.items):
        engines.start("mosquitto")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class BrokerUnderTest:
    kind: str
    url: str
    host: str
    port: int
    embedded: EmbeddedBroker | None = None


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mqtt)])
async def mqtt(request: pytest.FixtureRequest) -> AsyncIterator[BrokerUnderTest]:
    """A broker on loopback: amqtt in this process, or the Mosquitto of scripts/services."""
    if request.param == "embedded":
        async with EmbeddedBroker() as embedded:
            yield BrokerUnderTest("embedded", embedded.url, embedded.host, embedded.port,
                                  embedded)
        return
    url = engines.url("mosquitto")
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    yield BrokerUnderTest("mosquitto", url, host, int(port))


@pytest.fixture
def root() -> str:
    """A topic root of this test's own, so tests sharing a broker never see each other."""
    return f"brewery-{secrets.token_hex(4)}"


@pytest.fixture
def client_id() -> str:
    return f"bridge-{secrets.token_hex(4)}"


@pytest.fixture
async def forget_session(mqtt: BrokerUnderTest, client_id: str) -> AsyncIterator[None]:
    """After the test, drop the bridge's persistent session from a shared broker."""
    yield
    if mqtt.embedded is None:
        async with aiomqtt.Client(mqtt.host, mqtt.port, identifier=client_id,
                                  clean_session=True):
            pass


MakeConfig = Callable[..., BridgeConfig]


@pytest.fixture
def make_config(tmp_path: Path, client_id: str) -> MakeConfig:
    """``make_config(broker_url, api_host, key, routes=..., **overrides)`` with fast retries,
    a metrics port of its own, and state under the test's tmp_path."""

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
            "fsync": True,
            "drain_timeout": 1,
        }
        for key_, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key_), dict):
                data[key_] = {**data[key_], **value}
            else:
                data[key_] = value
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

    def make(trigger: str) -> FiredTrigger:
        made_one = FiredTrigger(trigger, f"{trigger}-echo", f"{trigger}-rule")
        ns = "/api/v1/namespaces/_"
        assert client.put(f"{ns}/actions/{made_one.action}", json={
            "exec": {"kind": "python:default", "code": ECHO}}).status_code == 200
        assert client.put(f"{ns}/triggers/{trigger}", json={}).status_code == 200
        response = client.put(f"{ns}/rules/{made_one.rule}", json={
            "trigger": f"/_/{trigger}", "action": f"/_/{made_one.action}"})
        assert response.status_code == 200, response.text
        made.append(made_one)
        return made_one

    yield make
    ns = "/api/v1/namespaces/_"
    for item in made:
        client.delete(f"{ns}/rules/{item.rule}")
        client.delete(f"{ns}/triggers/{item.name}")
        client.delete(f"{ns}/actions/{item.action}")
    client.close()
