"""Every MQTT socket on the reading's path has TCP_NODELAY: with Nagle's algorithm a small
PUBLISH or PUBACK can wait for the previous packet's ACK (tens of milliseconds on loopback)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bridge import EmbeddedBroker, parse_config
from bridge.mqtt import Connection
from tests.bridge.helpers import wait_until

pytestmark = pytest.mark.anyio


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


async def test_the_broker_and_the_bridge_connection_do_not_delay_small_packets(
        tmp_path: Path) -> None:
    async with EmbeddedBroker() as broker:
        config = parse_config({
            "broker": {"url": broker.url, "client_id": "nodelay"},
            "api": {"host": "http://127.0.0.1:9", "key": "user:key"},
            "routes": [{"topic": "brewery/#", "trigger": "measurement"}],
            "state_dir": str(tmp_path), "metrics": None,
        })
        async with Connection(config.broker) as conn:
            await wait_until(lambda: len(broker._writers) == 1, "the broker's side")
            (served,) = broker._writers
            assert _nodelay(served.get_extra_info("socket")) == 1
            assert _nodelay(conn._paho.socket()) == 1
