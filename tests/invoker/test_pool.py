"""The container pool with real proxy processes: reuse, stem cells, pause, eviction, FIFO."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from invoker import pool as pool_module
from invoker.containers.process import ProcessFactory
from invoker.pool import ContainerPool
from invoker.runner import Job
from pwsk.activation import Activation, Status
from pwsk.entities import Action, Exec
from pwsk.limits import ActionLimits
from pwsk.messages import ActivationMessage, Identity
from pwsk.settings import Settings

USER = Identity("guest", "guest", "u", "k")
SLOW = ("import os, time\ndef main(a):\n    time.sleep(a.get('s', 0))\n"
        "    return {'pid': os.getpid()}\n")


def job(name: str, code: str = SLOW, payload: dict[str, Any] | None = None,
        namespace: str = "guest", memory: int = 256) -> Job:
    action = Action("guest", name, exec=Exec("python:3.11", code=code),
                    limits=ActionLimits(memory=memory, timeout=10_000))
    msg = ActivationMessage(
        transid="t" * 32, start=int(time.time() * 1000), action_path="guest", action_name=name,
        action_version="0.0.1", revision="1-a", user=Identity(namespace, namespace, "u", "k"),
        activation_id="a" * 32, controller=0, blocking=True, content=payload or {},
    )
    return Job(msg, action)


def with_pool(test: Callable[[ContainerPool], Awaitable[None]], **settings: Any) -> None:
    opts: dict[str, Any] = {"prewarm": "", "pause_grace_s": 60.0, "idle_timeout_s": 600.0,
                            **settings}

    async def main() -> None:
        pool = ContainerPool(ProcessFactory("http://127.0.0.1:1"), Settings(**opts))
        await pool.start()
        try:
            await test(pool)
        finally:
            await pool.stop()

    asyncio.run(main())


def init_time(act: Activation) -> Any:
    return act.annotation("initTime")


def test_warm_reuse_per_namespace_and_revision() -> None:
    async def check(pool: ContainerPool) -> None:
        first = await pool.run(job("a"), "1-a")
        second = await pool.run(job("a"), "1-a")
        assert init_time(first) is not None and init_time(second) is None
        assert first.response.result == second.response.result  # same process
        other_ns = await pool.run(job("a", namespace="other"), "1-a")
        assert init_time(other_ns) is not None
        assert other_ns.response.result != first.response.result
        new_rev = await pool.run(job("a"), "2-b")
        assert init_time(new_rev) is not None
        assert len(pool.slots) == 3

    with_pool(check)


def test_prewarmed_stem_cell_is_used_and_replaced() -> None:
    async def check(pool: ContainerPool) -> None:
        await _until(lambda: pool.stats()["prewarm"] == 1)
        stem = next(s for s in pool.slots if s.key is None)
        act = await pool.run(job("p"), "1-a")
        assert act.response.status == Status.SUCCESS
        assert init_time(act) is not None  # a stem cell is not initialised yet
        assert stem.key is not None  # the stem cell became the warm container
        await _until(lambda: pool.stats()["prewarm"] == 1)  # and was replaced

    with_pool(check, prewarm="python:3.11=1")


def test_idle_containers_are_paused_then_removed() -> None:
    async def check(pool: ContainerPool) -> None:
        await pool.run(job("z"), "1-a")
        slot = pool.slots[0]
        assert slot.runner is not None
        pid = slot.runner.container._proc.pid  # type: ignore[attr-defined]
        await asyncio.sleep(0.3)
        await pool.reap()
        assert slot.paused
        assert _proc_state(pid) == "T"  # stopped
        act = await pool.run(job("z"), "1-a")  # resumes the paused container
        assert act.response.status == Status.SUCCESS and init_time(act) is None
        assert not slot.paused and _proc_state(pid) != "T"
        await asyncio.sleep(1.1)
        await pool.reap()
        assert pool.slots == []

    with_pool(check, pause_grace_s=0.2, idle_timeout_s=1.0)


def test_lru_eviction_under_memory_budget() -> None:
    async def check(pool: ContainerPool) -> None:
        await pool.run(job("a"), "1-a")
        await pool.run(job("b"), "1-a")
        await pool.run(job("a"), "1-a")  # a is now the most recently used
        act = await pool.run(job("c"), "1-a")
        assert act.response.status == Status.SUCCESS
        keys = sorted(s.key[1] for s in pool.slots if s.key)
        assert keys == ["guest/a", "guest/c"]

    with_pool(check, user_memory_mb=512)


def test_fifo_buffer_when_full() -> None:
    async def check(pool: ContainerPool) -> None:
        slow = asyncio.create_task(pool.run(job("s", payload={"s": 0.6}), "1-a"))
        await asyncio.sleep(0.1)
        queued = asyncio.create_task(pool.run(job("q"), "1-a"))
        await asyncio.sleep(0.1)
        assert pool.stats()["queued"] == 1
        first, second = await asyncio.gather(slow, queued)
        assert first.response.status == Status.SUCCESS
        assert second.response.status == Status.SUCCESS
        assert second.start >= first.end
        assert second.annotation("waitTime") >= 400

    with_pool(check, user_memory_mb=256)


def test_action_bigger_than_pool_fails_cleanly() -> None:
    async def check(pool: ContainerPool) -> None:
        act = await pool.run(job("big", memory=512), "1-a")
        assert act.response.status == Status.WHISK_ERROR

    with_pool(check, user_memory_mb=256)


def test_developer_error_destroys_container() -> None:
    async def check(pool: ContainerPool) -> None:
        act = await pool.run(job("bad", code="def main(a):\n    return 1\n"), "1-a")
        assert act.response.status == Status.DEVELOPER_ERROR
        await asyncio.sleep(0)
        assert pool.slots == []

    with_pool(check)


def _proc_state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


async def _until(cond: Callable[[], bool], limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


def test_stem_cells_follow_a_burst_of_cold_starts() -> None:
    async def check(pool: ContainerPool) -> None:
        await pool.run(job("alone", memory=128), "1-a")
        await asyncio.sleep(0.2)
        assert pool.stats()["prewarm"] == 0  # a lone cold start is no burst
        acts = await asyncio.gather(*(pool.run(job(f"b{i}", payload={"s": 0.3}, memory=128),
                                               "1-a") for i in range(6)))
        assert all(init_time(a) is not None for a in acts)
        # Six started together, but stem cells take at most a quarter of the 2048 MB budget.
        await _until(lambda: pool.stats()["prewarm"] == 4)
        stems = [s for s in pool.slots if s.key is None]
        assert {(s.kind, s.memory_mb) for s in stems} == {("python:3.11", 128)}
        act = await pool.run(job("next", memory=128), "1-a")
        assert act.response.status == Status.SUCCESS
        assert any(s.key and s.key[1] == "guest/next" for s in stems)  # no new container
        await _until(lambda: pool.stats()["prewarm"] == 4)  # the demand still holds
        saved, pool_module.DEMAND_TTL_S = pool_module.DEMAND_TTL_S, 0.0
        try:
            await pool.reap()  # the demand is over: the spare stem cells go
        finally:
            pool_module.DEMAND_TTL_S = saved
        assert pool.stats()["prewarm"] == 0

    with_pool(check)


def test_a_backlog_is_served_in_order_and_cancelled_jobs_leave_it() -> None:
    async def check(pool: ContainerPool) -> None:
        await pool.run(job("a"), "1-a")  # warm
        starts: list[int] = []

        async def one(i: int) -> Activation:
            act = await pool.run(job("a", payload={"i": i}), "1-a")
            starts.append(i)
            return act

        tasks = [asyncio.create_task(one(i)) for i in range(300)]
        other = asyncio.create_task(pool.run(job("b"), "1-a"))  # behind the backlog
        await asyncio.sleep(0)
        gone = tasks[100:200]
        for task in gone:
            task.cancel()
        done = await asyncio.gather(*tasks, other, return_exceptions=True)
        ran = [a for a in done if isinstance(a, Activation)]
        assert all(a.response.status == Status.SUCCESS for a in ran)
        assert {i for i in range(300) if isinstance(done[i], Activation)} >= (
            set(range(100)) | set(range(200, 300)))
        # One container at a time: the line is first come, first served, a cancelled job
        # gives its place up, and ``b`` gets the memory once ``a``'s line is done.
        assert starts == sorted(starts)
        assert isinstance(done[-1], Activation)
        assert pool.stats()["queued"] == 0
        assert pool._pending == {} and pool._wanted == {}

    with_pool(check, user_memory_mb=256)
