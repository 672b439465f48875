"""The embedded amqtt broker: lifecycle, persistent sessions, users."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from bridge import EmbeddedBroker

pytestmark = pytest.mark.anyio


async def test_start_stop_restart_on_the_same_port() -> None:
    broker = EmbeddedBroker()
    await broker.start()
    await broker.start()  # idempotent
    port = broker.port
    assert broker.running and broker.url == f"mqtt://127.0.0.1:{port}"
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish("a/b", b"x", qos=1)
    await broker.stop()
    await broker.stop()  # idempotent
    assert not broker.running
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(broker.host, port, timeout=2):
            pass
    await broker.start()
    assert broker.port == port
    async with aiomqtt.Client(broker.host, port):
        pass
    await broker.stop()


async def test_a_persistent_session_gets_what_was_published_while_away() -> None:
    async with EmbeddedBroker() as broker:
        async with aiomqtt.Client(broker.host, broker.port, identifier="keeper",
                                  clean_session=False) as client:
            await client.subscribe("brewery/#", qos=1)
        async with aiomqtt.Client(broker.host, broker.port) as publisher:
            for i in range(3):
                await publisher.publish("brewery/mash/level", str(i).encode(), qos=1)
        async with aiomqtt.Client(broker.host, broker.port, identifier="keeper",
                                  clean_session=False) as client:
            got: list[bytes] = []
            async with asyncio.timeout(5):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    got.append(message.payload)
                    if len(got) == 3:
                        break
    assert got == [b"0", b"1", b"2"]


async def test_users_need_the_right_password() -> None:
    async with EmbeddedBroker(users={"bridge": "s3cret"}) as broker:
        async with aiomqtt.Client(broker.host, broker.port, username="bridge",
                                  password="s3cret"):
            pass
        for user, password in [("bridge", "wrong"), ("nobody", "s3cret"), (None, None)]:
            with pytest.raises(aiomqtt.MqttError):
                async with aiomqtt.Client(broker.host, broker.port, username=user,
                                          password=password, timeout=2):
                    pass
