"""Fan-out across gateways: each gateway's relay has its own consumer group, so every hub
sees every event, whichever gateway took the publish. Run on the in-process bus and on
Kafka (what the distributed stack uses)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from gateway.realtime import Hub, Relay
from pwsk.bus import Bus
from pwsk.bus.kafka import KafkaBus
from pwsk.bus.memory import MemoryBus
from tests.bus import engines

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[list[Bus]]:
    """Two gateways' buses: one shared in-process bus, or two Kafka clients (as two
    gateway processes have) on one broker, with topics and groups of this test's own."""
    if request.param == "memory":
        shared = MemoryBus()
        made: list[Bus] = [shared, shared]
        started: list[Bus] = [shared]
    else:
        prefix = f"t{secrets.token_hex(4)}_"
        made = [KafkaBus(f"{engines.url('kafka')}?prefix={prefix}") for _ in range(2)]
        started = made
    for bus in started:
        await bus.start()
    try:
        yield made
    finally:
        for bus in started:
            await bus.stop()


async def test_every_gateway_sees_every_event_in_one_order(buses: list[Bus]) -> None:
    hubs = [Hub(epoch=f"gw{i}") for i in range(2)]
    relays = [Relay(hub, bus, f"realtime-gw{i}") for i, (hub, bus) in
              enumerate(zip(hubs, buses, strict=True))]
    subscribers = [hub.subscribe("guest", "brewery").subscriber for hub in hubs]
    elsewhere = [hub.subscribe("other", "brewery").subscriber for hub in hubs]
    for relay in relays:
        await relay.start()
    try:
        for i in range(10):
            await relays[i % 2].publish("guest", "brewery", f'{{"i":{i}}}')
        await relays[0].publish("other", "brewery", '{"i":"elsewhere"}')
        seen = []
        for subscriber in subscribers:
            got = []
            for _ in range(10):
                event = await subscriber.next(30)  # a Kafka group takes a moment to join
                assert event is not None
                got.append(event.data)
            seen.append(got)
        assert sorted(seen[0]) == sorted(f'{{"i":{i}}}' for i in range(10))
        assert seen[0] == seen[1]  # the bus's order, the same on every gateway
        # Each gateway numbers the events itself, in the order its relay saw them.
        assert [hub.find("guest", "brewery").last_seq for hub in hubs] == [10, 10]  # type: ignore[union-attr]
        for subscriber in elsewhere:
            event = await subscriber.next(30)
            assert event is not None and event.data == '{"i":"elsewhere"}'
        assert all(s.pending == 0 for s in subscribers)  # and nothing of it on guest's
    finally:
        for relay in relays:
            await relay.stop()
