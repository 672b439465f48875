"""Bus behaviour, written once and run on the memory bus and on Kafka (``conftest.bus``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest

from pwsk.bus import Bus, Delivery

pytestmark = pytest.mark.anyio
T = TypeVar("T")
WAIT_S = 15.0  # generous: a Kafka group's first join takes a moment


async def take(it: AsyncIterator[T], n: int) -> list[T]:
    async with asyncio.timeout(WAIT_S):
        return [await anext(it) for _ in range(n)]


def values(deliveries: list[Delivery]) -> list[bytes]:
    return [d.value for d in deliveries]


def msgs(n: int, tag: str = "m") -> list[bytes]:
    return [f"{tag}{i}".encode() for i in range(n)]


async def test_subscribe_then_publish_in_order(bus: Bus) -> None:
    sub = bus.subscribe("work", "g")
    it = aiter(sub)
    receiving = asyncio.ensure_future(take(it, 5))
    for m in msgs(5):
        await bus.publish("work", m)
    assert await receiving == msgs(5)
    await sub.close()


async def test_backlog_published_before_subscribing(bus: Bus) -> None:
    for m in msgs(3):
        await bus.publish("early", m)
    sub = bus.subscribe("early", "g")
    assert await take(aiter(sub), 3) == msgs(3)
    await sub.close()


async def test_two_groups_each_see_every_message(bus: Bus) -> None:
    one, two = bus.subscribe("fan", "one"), bus.subscribe("fan", "two")
    for m in msgs(4):
        await bus.publish("fan", m)
    got = await asyncio.gather(take(aiter(one), 4), take(aiter(two), 4))
    assert got == [msgs(4), msgs(4)]
    await one.close()
    await two.close()


async def test_consumers_of_one_group_share_its_messages(bus: Bus) -> None:
    n = 20
    subs = [bus.subscribe_with_ack("shared", "g") for _ in range(2)]
    seen: list[list[bytes]] = [[], []]
    all_seen = asyncio.Event()

    async def consume(i: int) -> None:
        async for delivery in subs[i]:
            seen[i].append(delivery.value)
            await delivery.ack()
            if set(seen[0]) | set(seen[1]) == set(msgs(n)):
                all_seen.set()

    tasks = [asyncio.create_task(consume(i)) for i in range(2)]
    for m in msgs(n):
        await bus.publish("shared", m)
    await asyncio.wait_for(all_seen.wait(), WAIT_S)
    for sub in subs:
        await sub.close()
    await asyncio.gather(*tasks)
    # Each message went to one consumer, not to both (a rebalance while a message is in
    # hand may hand it out twice: delivery is at least once, but never all of them twice).
    assert len(seen[0]) + len(seen[1]) < 2 * n


async def test_unacknowledged_messages_go_to_the_group_again(bus: Bus) -> None:
    for m in msgs(4):
        await bus.publish("acks", m)
    first = bus.subscribe_with_ack("acks", "g")
    it = aiter(first)
    m0, _m1, m2, _m3 = await take(it, 4)
    await m0.ack()
    await m2.ack()  # out of order: m1 is still in progress, so m1 must come back
    await first.close()
    second = bus.subscribe_with_ack("acks", "g")
    again = await take(aiter(second), 1)
    assert values(again) == [b"m1"]
    # m0 was acknowledged: it never comes back (m2, m3 may, as Kafka commits up to m1).
    for delivery in again:
        await delivery.ack()
    await second.close()


async def test_acknowledged_messages_stay_acknowledged(bus: Bus) -> None:
    for m in msgs(3):
        await bus.publish("done", m)
    first = bus.subscribe_with_ack("done", "g")
    for delivery in await take(aiter(first), 3):
        await delivery.ack()
    await first.close()
    await bus.publish("done", b"next")
    second = bus.subscribe_with_ack("done", "g")
    assert values(await take(aiter(second), 1)) == [b"next"]
    await second.close()


async def test_plain_subscribe_acknowledges_when_the_next_is_asked_for(bus: Bus) -> None:
    for m in msgs(3):
        await bus.publish("plain", m)
    first = bus.subscribe("plain", "g")
    it = aiter(first)
    assert await take(it, 2) == msgs(2)  # m0 is handled (m1 was asked for); m1 is not
    await first.close()
    second = bus.subscribe("plain", "g")
    assert (await take(aiter(second), 1)) == [b"m1"]
    await second.close()


async def test_ack_is_idempotent(bus: Bus) -> None:
    await bus.publish("twice", b"x")
    sub = bus.subscribe_with_ack("twice", "g")
    (delivery,) = await take(aiter(sub), 1)
    await delivery.ack()
    await delivery.ack()
    await sub.close()


async def test_close_ends_iteration(bus: Bus) -> None:
    sub = bus.subscribe("quiet", "g")
    consumer = asyncio.ensure_future(take(aiter(sub), 1))
    await asyncio.sleep(0.2)
    await sub.close()
    with pytest.raises(StopAsyncIteration):
        await consumer
