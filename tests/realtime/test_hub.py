"""The hub on its own: ids, the ring, replay, bounded subscribers, the bus relay."""

from __future__ import annotations

import asyncio

import pytest

from gateway.realtime import (
    Dropped,
    Hub,
    MessageError,
    RealtimeMessage,
    RealtimeSettings,
    check_channel,
    encode_json,
)
from pwsk.errors import BadRequest, PayloadTooLarge, ServiceUnavailable

pytestmark = pytest.mark.anyio


def hub(**limits: int) -> Hub:
    return Hub(RealtimeSettings(**limits), epoch="e1")


async def take(hub: Hub, subscriber: object, n: int) -> list[str]:
    out = []
    for _ in range(n):
        event = await subscriber.next(1)  # type: ignore[attr-defined]
        assert event is not None
        out.append(event.data)
    return out


async def test_ids_grow_per_channel_and_name_the_epoch() -> None:
    h = hub()
    a1 = h.deliver("ns", "a", "1", 0)
    a2 = h.deliver("ns", "a", "2", 0)
    b1 = h.deliver("ns", "b", "3", 0)
    other = h.deliver("other", "a", "4", 0)
    assert (a1.seq, a2.seq, b1.seq, other.seq) == (1, 2, 1, 1)
    assert h.event_id(a2.seq) == "e1-2"
    assert h.parse_id("e1-2") == 2
    assert h.parse_id("e2-2") is None and h.parse_id("garbage") is None
    assert h.parse_id(None) is None and h.parse_id("e1-x") is None


async def test_live_events_reach_subscribers_of_that_channel_only() -> None:
    h = hub()
    mine = h.subscribe("ns", "a").subscriber
    theirs = h.subscribe("other", "a").subscriber
    h.deliver("ns", "a", '{"v":1}', 0)
    h.deliver("ns", "a", '{"v":2}', 0)
    assert await take(h, mine, 2) == ['{"v":1}', '{"v":2}']
    assert await theirs.next(0.05) is None  # a heartbeat's worth of nothing


async def test_replay_is_exact_and_ordered() -> None:
    h = hub()
    for i in range(1, 6):
        h.deliver("ns", "a", str(i), 0)  # seq i carries data "i"
    sub = h.subscribe("ns", "a", "e1-3")
    h.deliver("ns", "a", "6", 0)
    assert await take(h, sub.subscriber, 3) == ["4", "5", "6"]
    assert h.subscribe("ns", "a", "e1-6").replayed == 0  # up to date


async def test_replay_says_when_it_cannot_be_exact() -> None:
    h = hub(ring_events=3)
    for i in range(1, 8):
        h.deliver("ns", "a", str(i), 0)
    gap = h.subscribe("ns", "a", "e1-2")  # 3 and 4 have left the ring
    assert (gap.reset, gap.replayed) == ("gap", 3)
    assert await take(h, gap.subscriber, 3) == ["5", "6", "7"]
    edge = h.subscribe("ns", "a", "e1-4")  # 5 is the oldest held: nothing missed
    assert (edge.reset, edge.replayed) == (None, 3)
    foreign = h.subscribe("ns", "a", "zz-4")
    assert (foreign.reset, foreign.replayed) == ("unknown", 3)
    future = h.subscribe("ns", "a", "e1-99")
    assert future.reset == "unknown"
    fresh = h.subscribe("ns", "a")
    assert (fresh.reset, fresh.replayed, fresh.last_id) == (None, 0, "e1-7")


async def test_ring_is_bounded_by_bytes_too() -> None:
    h = hub(ring_bytes=10)
    for _ in range(5):
        h.deliver("ns", "a", "x" * 4, 0)
    channel = h.channel("ns", "a")
    assert [e.seq for e in channel.ring] == [4, 5] and channel.ring_size == 8
    h.deliver("ns", "a", "y" * 50, 0)  # alone over budget: still kept
    assert [e.seq for e in channel.ring] == [6]


async def test_slow_subscriber_is_dropped_and_never_blocks_publishing() -> None:
    h = hub(queue_events=4)
    slow = h.subscribe("ns", "a").subscriber
    fast = h.subscribe("ns", "a").subscriber
    got: list[str] = []

    async def read_fast() -> None:
        while len(got) < 100:
            event = await fast.next(1)
            assert event is not None
            got.append(event.data)

    reader = asyncio.create_task(read_fast())
    for i in range(100):
        h.deliver("ns", "a", str(i), 0)  # synchronous: cannot wait for anybody
        await asyncio.sleep(0)
    await asyncio.wait_for(reader, 2)
    assert got == [str(i) for i in range(100)]
    assert slow.dropped and h.dropped == 1
    with pytest.raises(Dropped):
        await slow.next(1)
    assert h.subscribers == 1 and h.channel("ns", "a").subscribers == {fast}


async def test_replay_does_not_count_against_the_live_budget() -> None:
    h = hub(queue_events=2)
    for i in range(10):
        h.deliver("ns", "a", str(i), 0)
    sub = h.subscribe("ns", "a", "e1-0")
    assert sub.replayed == 10
    h.deliver("ns", "a", "10", 0)
    h.deliver("ns", "a", "11", 0)
    assert not sub.subscriber.dropped
    h.deliver("ns", "a", "12", 0)
    assert sub.subscriber.dropped


async def test_limits_on_subscribers_and_channels() -> None:
    h = hub(max_subscribers=2, max_channels=3)
    a = h.subscribe("ns", "a").subscriber
    h.subscribe("ns", "b")
    with pytest.raises(ServiceUnavailable):
        h.subscribe("ns", "c")
    h.unsubscribe(a)
    h.unsubscribe(a)  # twice is fine
    assert h.subscribers == 1
    for name in "cdefg":
        h.deliver("ns", name, "1", 0)
    names = {c.name for c in h.channels()}
    assert len(names) == 3 and "b" in names  # the read channel is never forgotten


async def test_close_ends_every_stream_and_refuses_new_ones() -> None:
    h = hub()
    sub = h.subscribe("ns", "a").subscriber
    waiting = asyncio.create_task(sub.next(5))
    await asyncio.sleep(0)
    h.close()
    with pytest.raises(Dropped):
        await waiting
    with pytest.raises(ServiceUnavailable):
        h.subscribe("ns", "a")
    assert h.subscribers == 0


def test_input_checks() -> None:
    assert check_channel("brewery") == "brewery"
    for bad in ("", "-x", "a/b", "a b", "x" * 65):
        with pytest.raises(BadRequest):
            check_channel(bad)
    assert encode_json(b'{ "a" : [1, 2] }', 100) == '{"a":[1,2]}'
    assert encode_json(b'"line\\nbreak"', 100) == '"line\\nbreak"'  # one line on the wire
    with pytest.raises(PayloadTooLarge):
        encode_json(b"[" + b"1," * 100 + b"1]", 100)
    with pytest.raises(BadRequest):
        encode_json(b"{nope", 100)


def test_bus_message_round_trip_and_rejects() -> None:
    msg = RealtimeMessage("ns", "a", '{"x":1}', 123, "tid")
    assert RealtimeMessage.from_bytes(msg.to_bytes()) == msg
    for raw in (b"nope", b"[]", b'{"v":2}', b'{"v":1,"namespace":"n"}'):
        with pytest.raises(MessageError):
            RealtimeMessage.from_bytes(raw)
