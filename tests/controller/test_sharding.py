"""The sharding balancer: placement math, and two real invokers behind one controller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from controller.core import Controller
from controller.sharding import coprime_steps, java_hash
from invoker.containers.process import ProcessFactory
from invoker.service import Invoker
from pwsk.bus.memory import MemoryBus
from pwsk.entities import Action, Exec
from pwsk.errors import ServiceUnavailable
from pwsk.names import FQN
from pwsk.registry import InvokerInfo
from pwsk.registry.local import LocalRegistry
from pwsk.settings import Settings
from pwsk.store.sqlite import SqliteStore


def test_java_hash_matches_java() -> None:
    # Values of String.hashCode() computed by a JVM.
    assert java_hash("") == 0
    assert java_hash("hello") == 99162322
    assert java_hash("guest") == 98708952
    assert java_hash("polygenelubricants") == -2147483648


def test_coprime_steps() -> None:
    assert coprime_steps(10) == [1, 3, 7]
    assert coprime_steps(1) == [1]
    assert coprime_steps(2) == [1]
    assert coprime_steps(6) == [1, 5]


def run_cluster(test: Callable[[Controller, list[Invoker], LocalRegistry], Awaitable[None]],
                invokers: int = 2, **settings: Any) -> None:
    async def main() -> None:
        opts = {"prewarm": "", "balancer": "sharding", "registry": "local://", **settings}
        store, bus, registry = SqliteStore(None), MemoryBus(), LocalRegistry()
        await store.start()
        ctl = Controller(Settings(**opts), store, bus, registry)
        await ctl.start()
        started: list[Invoker] = []
        for i in range(invokers):
            inv = Invoker(Settings(**{**opts, "invoker_id": i}), store, bus,
                          ProcessFactory("http://127.0.0.1:1"))
            await inv.start()
            await registry.register_invoker(InvokerInfo(i, f"inv{i}", 2048), ttl_s=60)
            started.append(inv)
        try:
            await _until(lambda: sum(s == "up" for s in ctl.balancer.invoker_states().values())
                         == invokers)
            await test(ctl, started, registry)
        finally:
            for inv in started:
                await inv.stop()
            await ctl.stop()
            await store.stop()

    asyncio.run(main())


async def _action(ctl: Controller, name: str) -> Any:
    guest = await ctl.auth.by_namespace("guest")
    assert guest is not None
    code = "import os\ndef main(a):\n    return {'pid': os.getpid()}\n"
    action = Action("guest", name, exec=Exec("python:3.11", code=code))
    await ctl.entities.put(action)
    return guest, await ctl.activator.resolve(guest, FQN("guest", name))


async def _invoke(ctl: Controller, guest: Any, resolved: Any) -> Any:
    outcome = await ctl.activator.invoke(guest, resolved, {}, blocking=True, wait_ms=30_000)
    assert outcome.activation is not None
    return outcome.activation


def test_same_action_sticks_to_its_home_invoker() -> None:
    async def check(ctl: Controller, invokers: list[Invoker], _: LocalRegistry) -> None:
        guest, resolved = await _action(ctl, "sticky")
        pids = {(await _invoke(ctl, guest, resolved)).response.result["pid"] for _ in range(5)}
        assert len(pids) == 1  # one warm container on the home invoker
        used = [inv for inv in invokers if inv.pool.slots]
        assert len(used) == 1

    run_cluster(check)


def test_dead_invoker_leaves_routing() -> None:
    async def check(ctl: Controller, invokers: list[Invoker], reg: LocalRegistry) -> None:
        guest, resolved = await _action(ctl, "moving")
        await _invoke(ctl, guest, resolved)
        home = next(i for i, inv in enumerate(invokers) if inv.pool.slots)
        await reg.deregister_invoker(home)
        await _until(lambda: ctl.balancer.invoker_states()[f"invoker{home}"] == "down")
        act = await _invoke(ctl, guest, resolved)
        assert act.response.is_success
        other = invokers[1 - home]
        assert other.pool.slots
        await reg.deregister_invoker(1 - home)
        await _until(lambda: all(s == "down" for s in ctl.balancer.invoker_states().values()))
        with pytest.raises(ServiceUnavailable):
            await ctl.activator.invoke(guest, resolved, {}, blocking=True, wait_ms=1000)

    run_cluster(check)


def test_memory_slots_spread_load() -> None:
    async def check(ctl: Controller, invokers: list[Invoker], _: LocalRegistry) -> None:
        guest = await ctl.auth.by_namespace("guest")
        assert guest is not None
        slow = Action("guest", "slow", exec=Exec("python:3.11", code=(
            "import time\ndef main(a):\n    time.sleep(0.5)\n    return {}\n")))
        await ctl.entities.put(slow)
        resolved = await ctl.activator.resolve(guest, FQN("guest", "slow"))
        # Each invoker's share is 512 MB here: two 256 MB runs fill the home invoker.
        outcomes = await asyncio.gather(*(ctl.activator.invoke(
            guest, resolved, {}, blocking=True, wait_ms=30_000) for _ in range(4)))
        assert all(o.activation and o.activation.response.is_success for o in outcomes)
        assert all(inv.pool.slots for inv in invokers)

    run_cluster(check, user_memory_mb=512)


async def _until(cond: Callable[[], bool], limit_s: float = 10) -> None:
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)
