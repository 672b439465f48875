"""What only the Kafka bus has: topic settings, sockets, and a broker that goes away."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from pwsk.bus import kafka, open_bus, topics
from pwsk.bus.kafka import (
    HOUR_MS,
    MINUTE_MS,
    KafkaBus,
    KafkaSettings,
    _Partition,
    retention_ms,
)
from pwsk.errors import ServiceUnavailable
from tests.bus import engines
from tests.servers import free_port

pytestmark = pytest.mark.anyio


def test_url_settings() -> None:
    settings = KafkaSettings.from_url("kafka://a:1,b?prefix=x_&timeout=0.5&partitions=3")
    assert settings.servers == (("a", 1), ("b", 9092))
    assert settings.bootstrap == "a:1,b:9092"
    assert (settings.prefix, settings.timeout_s, settings.partitions) == ("x_", 0.5, 3)
    assert isinstance(open_bus("kafka://127.0.0.1:9092"), KafkaBus)
    with pytest.raises(ValueError):
        KafkaSettings.from_url("kafka:///")


def test_retention_follows_openwhisk() -> None:
    assert retention_ms(topics.invoker(3)) == 48 * HOUR_MS
    assert retention_ms(topics.completed(0)) == HOUR_MS
    assert retention_ms(topics.HEALTH) == HOUR_MS
    assert retention_ms(topics.EVENTS) == HOUR_MS
    assert retention_ms(topics.CACHE_INVALIDATION) == 5 * MINUTE_MS
    assert retention_ms("scheduler0") == 24 * HOUR_MS


def test_commits_stop_at_the_first_unacknowledged_offset() -> None:
    part = _Partition()
    part.pending.extend([5, 6, 7])
    part.ack(6)
    assert part.ready == -1  # 5 is still in progress: committing 7 would lose it
    part.ack(5)
    assert part.ready == 7
    part.ack(7)
    assert (part.ready, list(part.pending), part.acked) == (8, [], set())


async def test_no_broker_fails_start_fast() -> None:
    bus = KafkaBus(f"kafka://127.0.0.1:{free_port()}?timeout=1")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        await bus.start()
    assert time.monotonic() - started < 3
    with pytest.raises(ServiceUnavailable):
        await bus.publish("x", b"not started")


@pytest.mark.kafka
async def test_topics_are_created_with_their_retention(kafka_url: str) -> None:
    bus = KafkaBus(f"{kafka_url}?prefix=t{secrets.token_hex(4)}_")
    await bus.start()
    admin = AIOKafkaAdminClient(bootstrap_servers=bus.settings.bootstrap)
    await admin.start()
    try:
        for name in (topics.invoker(0), topics.CACHE_INVALIDATION):
            await bus.publish(name, b"x")
            (response,) = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, bus.topic(name))])
            config = {entry[0]: entry[1] for entry in response.resources[0][4]}
            assert config["retention.ms"] == str(retention_ms(name))
    finally:
        await admin.close()
        await bus.stop()


@pytest.mark.kafka
async def test_connections_have_tcp_nodelay(kafka_url: str) -> None:
    # asyncio sets TCP_NODELAY on every TCP transport; make sure aiokafka's are such.
    bus = KafkaBus(f"{kafka_url}?prefix=t{secrets.token_hex(4)}_")
    await bus.start()
    try:
        await bus.publish("nodelay", b"x")
        conns = list(bus._producer.client._conns.values())
        assert conns
        for conn in conns:
            sock = conn._writer.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        await bus.stop()


@pytest.mark.kafka
async def test_a_slow_publish_to_a_reachable_broker_is_no_outage(kafka_url: str) -> None:
    # A send that times out on a busy machine fails its own request with a 503; while the
    # broker still accepts connections the next publish goes through (no burst of 503s).
    bus = KafkaBus(f"{kafka_url}?prefix=t{secrets.token_hex(4)}_")
    await bus.start()
    try:
        await bus.publish("slow", b"warm")
        real = bus._producer.send_and_wait

        async def slow(*args: Any, **kwargs: Any) -> Any:
            raise TimeoutError("the broker took too long")

        bus._producer.send_and_wait = slow
        with pytest.raises(ServiceUnavailable):
            await bus.publish("slow", b"x")
        bus._producer.send_and_wait = real
        assert bus.healthy and bus.health() == {"status": "up"}
        await bus.publish("slow", b"y")
    finally:
        await bus.stop()


@pytest.mark.kafka
async def test_acknowledgements_share_offset_commits(kafka_url: str) -> None:
    # Acks in quick succession ride on one commit (not one request each), and without a
    # close() the broker still ends up with every acknowledged offset committed.
    bus = KafkaBus(f"{kafka_url}?prefix=t{secrets.token_hex(4)}_")
    await bus.start()
    n = 100
    try:
        for i in range(n):
            await bus.publish("batched", b"m%d" % i)
        sub = bus.subscribe_with_ack("batched", "g")
        commits: list[dict[Any, int]] = []

        def count(consumer: Any) -> None:  # the real commit, counted
            real = consumer.commit

            async def counting(offsets: dict[Any, int]) -> None:
                commits.append(dict(offsets))
                await real(offsets)

            consumer.commit = counting

        seen = 0
        began = time.monotonic()
        async for delivery in sub:
            if seen == 0:
                count(sub._consumer)
            await delivery.ack()
            await asyncio.sleep(0.001)  # some work between messages: commits could go out
            seen += 1
            if seen == n:
                break
        tp = TopicPartition(bus.topic("batched"), 0)
        deadline = time.monotonic() + 30
        while await sub._consumer.committed(tp) != n:
            assert time.monotonic() < deadline, commits
            await asyncio.sleep(0.05)
        took = time.monotonic() - began
        # At most one commit per interval (one per ack would be ~n), offsets never go back.
        assert 1 <= len(commits) <= took / kafka.COMMIT_INTERVAL_S + 2, (len(commits), took)
        assert len(commits) < n // 2
        assert [c[tp] for c in commits] == sorted(c[tp] for c in commits)
        await sub.close()
    finally:
        await bus.stop()


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A broker of this test's own (the shared one stays up for everyone else)."""
    env = {"PWSK_RUN": str(tmp_path / "run"), "PWSK_KAFKA_PORT": str(free_port()),
           "PWSK_KAFKA_CONTROLLER_PORT": str(free_port())}
    engines.url("kafka")  # installed and known to start
    yield env
    engines.services("down", "kafka", env=env)


def services(command: str, env: dict[str, str]) -> None:
    result = engines.services(command, "kafka", env=env)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.kafka
@pytest.mark.slow
async def test_broker_down_fails_publish_fast_and_recovers(own_kafka: dict[str, str]) -> None:
    await asyncio.to_thread(services, "up", own_kafka)
    bus = KafkaBus(f"kafka://127.0.0.1:{own_kafka['PWSK_KAFKA_PORT']}?timeout=2")
    await bus.start()
    received: asyncio.Queue[bytes] = asyncio.Queue()
    sub = bus.subscribe_with_ack("work", "g")

    async def consume() -> None:
        async for delivery in sub:
            await received.put(delivery.value)
            await delivery.ack()

    consumer = asyncio.create_task(consume())
    try:
        await bus.publish("work", b"before")
        assert await asyncio.wait_for(received.get(), 15) == b"before"

        assert bus.health() == {"status": "up"}
        await asyncio.to_thread(services, "down", own_kafka)
        deadline = time.monotonic() + 5  # the watch notices unaided: it connects every second
        while bus.healthy:
            assert time.monotonic() < deadline, "the watch did not notice the broker going"
            await asyncio.sleep(0.1)
        assert bus.health()["status"] == "down"
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            await bus.publish("work", b"lost")
        assert time.monotonic() - started < 0.1  # known down: no waiting at all

        await asyncio.to_thread(services, "up", own_kafka)
        deadline = time.monotonic() + 20
        while True:
            try:
                await bus.publish("work", b"after")
                break
            except ServiceUnavailable:
                assert time.monotonic() < deadline, "the bus did not reconnect"
                await asyncio.sleep(0.2)
        assert bus.health() == {"status": "up"}
        # The same subscription picks up again by itself.
        assert await asyncio.wait_for(received.get(), 30) == b"after"
    finally:
        await sub.close()
        await consumer
        await bus.stop()
