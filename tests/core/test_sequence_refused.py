"""A sequence whose component the platform refuses to start (no usable invoker) still records
its own activation, with the refusal: its id was already given out (by an invoke, or in a
trigger's rule log line), so a caller looking it up must find it, never a 404."""

from __future__ import annotations

import asyncio
from pathlib import Path

from controller.balancer import Balancer
from controller.entities import EntityStore
from controller.invoke import Activator
from pwsk.activation import Activation, Status
from pwsk.bus import open_bus
from pwsk.entities import Action
from pwsk.errors import Messages, ServiceUnavailable
from pwsk.messages import ActivationMessage, Identity
from pwsk.names import FQN
from pwsk.settings import Settings
from pwsk.store import ACTIVATIONS, open_store


class NoInvoker(Balancer):
    """Every invoker unusable (down, or missed its heartbeats under load)."""

    def choose(self, msg: ActivationMessage, memory_mb: int) -> int:
        raise ServiceUnavailable()


def test_a_refused_component_still_records_the_sequence(tmp_path: Path) -> None:
    async def run() -> None:
        store = open_store(f"sqlite://{tmp_path / 'pwsk.db'}")
        bus = open_bus("memory://")
        await store.start()
        await bus.start()
        entities = EntityStore(store)
        who = Identity("guest", "guest", "u", "k")
        await entities.put(Action.from_put(FQN("guest", "step"), {
            "exec": {"kind": "python:3.11", "code": "def main(a):\n    return a\n"}}, None))
        seq = await entities.put(Action.from_put(FQN("guest", "seq"), {
            "exec": {"kind": "sequence", "components": ["/guest/step"]}}, None))
        activator = Activator(Settings(), store, entities, NoInvoker(bus))
        resolved = await activator.resolve(who, FQN("guest", seq.name))
        outcome = await activator.invoke(who, resolved, {"x": 1}, blocking=False, wait_ms=0)
        for _ in range(100):  # recorded in the background
            doc = await store.get(ACTIVATIONS, f"guest/{outcome.activation_id}")
            if doc is not None:
                break
            await asyncio.sleep(0.05)
        assert doc is not None, "the sequence's activation was never recorded"
        act = Activation.from_doc(doc)
        assert act.response.status == Status.WHISK_ERROR
        assert act.response.result == {"error": Messages.OVERLOADED}
        await bus.stop()
        await store.stop()

    asyncio.run(run())
