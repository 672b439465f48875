"""Registry behaviour, written once and run on the local registry and on Consul."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from pwsk.registry import InvokerInfo, Registry
from tests.registry.conftest import RegistryFactory

pytestmark = pytest.mark.anyio
TTL_S = 2.0


async def test_ids_are_stable_and_distinct(new_registry: RegistryFactory) -> None:
    first = new_registry()
    await first.start()
    a = await first.claim_invoker_id("host-a")
    b = await first.claim_invoker_id("host-b")
    assert a != b
    assert await first.claim_invoker_id("host-a") == a
    # Another process of the same deployment (or this one restarted) gets the same answers.
    again = new_registry()
    await again.start()
    assert await again.claim_invoker_id("host-b") == b
    assert await again.claim_invoker_id("host-a") == a


async def test_concurrent_claims_never_share_an_id(new_registry: RegistryFactory) -> None:
    registries = [new_registry() for _ in range(4)]
    for registry in registries:
        await registry.start()
    names = [f"invoker-host-{i}" for i in range(12)]
    claims = [registries[i % 4].claim_invoker_id(name) for i, name in enumerate(names)]
    ids = await asyncio.gather(*claims)
    assert sorted(ids) == list(range(12))  # unique, and none skipped
    # The same name claimed from everywhere at once is one id.
    same = await asyncio.gather(*(r.claim_invoker_id("one-name") for r in registries * 2))
    assert len(set(same)) == 1
    assert same[0] == 12


async def test_registered_invoker_is_listed_live(registry: Registry) -> None:
    info = InvokerInfo(instance=3, unique_name="host-3", user_memory_mb=2048)
    await registry.register_invoker(info, ttl_s=10)
    assert await registry.invokers() == [info]
    await registry.deregister_invoker(3)
    assert await registry.invokers() == []


async def test_missed_heartbeats_turn_live_off_within_3_s(registry: Registry) -> None:
    await registry.register_invoker(InvokerInfo(0, "host-0", 1024), ttl_s=TTL_S)
    await registry.heartbeat(0)
    last_beat = time.monotonic()
    assert [i.live for i in await registry.invokers()] == [True]
    while (await registry.invokers())[0].live:
        assert time.monotonic() - last_beat < 3.0, "still live 3 s after the last heartbeat"
        await asyncio.sleep(0.05)
    assert time.monotonic() - last_beat >= TTL_S * 0.9  # not before the TTL
    await registry.heartbeat(0)  # back to life
    assert [i.live for i in await registry.invokers()] == [True]


async def test_heartbeats_keep_an_invoker_live(registry: Registry) -> None:
    await registry.register_invoker(InvokerInfo(1, "host-1", 1024), ttl_s=1.0)
    for _ in range(8):
        await asyncio.sleep(0.25)
        await registry.heartbeat(1)
        assert [i.live for i in await registry.invokers()] == [True]


async def test_watch_sees_register_and_deregister(registry: Registry) -> None:
    snapshots: asyncio.Queue[list[InvokerInfo]] = asyncio.Queue()

    async def watch() -> None:
        async for invokers in registry.watch():
            await snapshots.put(invokers)

    async def until(check: Callable[[list[InvokerInfo]], bool]) -> None:
        async with asyncio.timeout(5):
            while not check(await snapshots.get()):
                pass

    watcher = asyncio.create_task(watch())
    try:
        await until(lambda s: s == [])
        await registry.register_invoker(InvokerInfo(5, "host-5", 512), ttl_s=10)
        await until(lambda s: [i.instance for i in s] == [5])
        await registry.register_invoker(InvokerInfo(6, "host-6", 512), ttl_s=10)
        await until(lambda s: [i.instance for i in s] == [5, 6])
        await registry.deregister_invoker(5)
        await until(lambda s: [i.instance for i in s] == [6])
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
