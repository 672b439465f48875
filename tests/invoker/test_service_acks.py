"""The invoker's acks: a blocking activation's completion is held to ride with the next
result ack to its controller, and none is ever dropped (not even when the invoker stops)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from controller.core import Controller
from invoker import service
from invoker.containers.process import ProcessFactory
from invoker.service import Invoker
from pwsk.bus.memory import MemoryBus
from pwsk.registry import InvokerInfo
from pwsk.registry.local import LocalRegistry
from pwsk.settings import Settings
from pwsk.store.sqlite import SqliteStore
from tests.controller.test_sharding import _action, _invoke, _until


def test_held_completions_ride_with_the_next_result_and_go_out_at_stop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "COMPLETION_DELAY_S", 60.0)  # only company sends one

    async def main() -> None:
        opts: dict[str, Any] = {"prewarm": "", "balancer": "sharding", "registry": "local://"}
        store, bus, registry = SqliteStore(None), MemoryBus(), LocalRegistry()
        await store.start()
        ctl = Controller(Settings(**opts), store, bus, registry)
        await ctl.start()
        inv = Invoker(Settings(**{**opts, "invoker_id": 0}), store, bus,
                      ProcessFactory("http://127.0.0.1:1"))
        await inv.start()
        await registry.register_invoker(InvokerInfo(0, "inv0", 2048), ttl_s=60)
        stored: list[str] = []
        real = ctl.balancer.stored

        def spy(activation_id: str) -> None:
            stored.append(activation_id)
            real(activation_id)

        monkeypatch.setattr(ctl.balancer, "stored", spy)
        stopped = False
        try:
            await _until(lambda: list(ctl.balancer.invoker_states().values()) == ["up"])
            guest, resolved = await _action(ctl, "held")
            ids = [(await _invoke(ctl, guest, resolved)).activation_id for _ in range(3)]
            await asyncio.sleep(0.5)  # every record stored: the completions wait for company
            assert stored == ids[:len(stored)] and len(stored) < 3, (stored, ids)
            # The next result ack takes the held completions along.
            ids.append((await _invoke(ctl, guest, resolved)).activation_id)
            await _until(lambda: stored == ids[:3])
            await inv.stop()
            stopped = True
            await _until(lambda: stored == ids)  # sent on the way out
        finally:
            if not stopped:
                await inv.stop()
            await ctl.stop()
            await store.stop()

    asyncio.run(main())
