"""The brewery demo's load on Docker: bursts served warm, no cold-start churn.

The demo fires about 30 activations of three actions every 2 s (ten readings, each stored,
checked and published). With more demand per burst than the memory budget holds, a pool that
cold-starts (and evicts) whenever no warm container is free at that instant churns: each
burst destroys the previous burst's containers. A behaviour test, not a benchmark: it counts
container creations and bounds the queueing generously.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from invoker.containers.base import ContainerSpec
from invoker.pool import ContainerPool
from pwsk.activation import Activation, Status
from tests.invoker.test_pool import job

from .helpers import docker_pool

pytestmark = pytest.mark.docker

WORK = "import time\ndef main(a):\n    time.sleep(0.05)\n    return {'n': a['n']}\n"
ACTIONS = ("save", "check", "publish")
READINGS = 10  # per burst and action
BURSTS = 4
PERIOD_S = 2.0
MEMORY_MB = 128
BUDGET_MB = 2048  # 16 containers of 128 MB: less than a burst's 30 activations


async def _bursts(pool: ContainerPool) -> list[Activation]:
    done: list[Activation] = []
    for burst in range(BURSTS):
        started = asyncio.get_running_loop().time()
        runs = [pool.run(job(name, code=WORK, payload={"n": burst * 100 + i},
                             memory=MEMORY_MB), "1-a")
                for i in range(READINGS) for name in ACTIONS]
        done += await asyncio.gather(*runs)
        await asyncio.sleep(max(0.0, PERIOD_S - (asyncio.get_running_loop().time() - started)))
    return done


def test_bursts_are_served_warm_without_churn() -> None:
    created: list[ContainerSpec] = []

    async def main() -> list[Activation]:
        async with docker_pool(user_memory_mb=BUDGET_MB, prewarm="python:3.11=1") as pool:
            create = pool.factory.create

            async def counting(spec: ContainerSpec) -> Any:
                created.append(spec)
                return await create(spec)

            pool.factory.create = counting  # type: ignore[method-assign]
            return await _bursts(pool)

    acts = asyncio.run(main())
    assert [a.response.status for a in acts] == [Status.SUCCESS] * len(acts)
    waits = [a.annotation("waitTime") for a in acts]
    cold = sum(a.annotation("initTime") is not None for a in acts)
    capacity = BUDGET_MB // MEMORY_MB
    per_burst = len(ACTIONS) * READINGS
    print(f"\nburst: {len(acts)} activations, {len(created)} containers created, "
          f"{cold} cold, max waitTime {max(waits)} ms; per burst (max wait, cold):",
          [(max(waits[i:i + per_burst]),
            sum(a.annotation("initTime") is not None for a in acts[i:i + per_burst]))
           for i in range(0, len(acts), per_burst)])
    # Once the first burst has filled the pool, the others are served by warm containers:
    # creations stay near the pool's capacity instead of growing with every burst.
    assert len(created) <= capacity + 8, f"{len(created)} containers for {len(acts)} runs"
    assert cold <= capacity + 4
    assert max(waits) < 15_000  # the churn this guards against queued runs for 16 s
