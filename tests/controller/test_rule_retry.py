"""A trigger's rule activation refused with 503 (no invoker usable for a moment, as when their
health flaps under load) is tried again until an invoker is back, not dropped."""

from __future__ import annotations

import asyncio
import json

from controller.core import Controller
from controller.routes.triggers import fire_rules
from invoker.service import Invoker
from pwsk import tid
from pwsk.activation import Activation
from pwsk.activation import Response as ActResponse
from pwsk.registry import InvokerInfo
from pwsk.registry.local import LocalRegistry
from pwsk.store import ACTIVATIONS
from tests.controller.test_sharding import _action, _until, run_cluster


def test_a_rule_waits_out_a_moment_without_usable_invokers() -> None:
    async def check(ctl: Controller, invokers: list[Invoker], reg: LocalRegistry) -> None:
        guest, _ = await _action(ctl, "ruled")
        for i in range(len(invokers)):
            await reg.deregister_invoker(i)
        await _until(lambda: all(s == "down" for s in ctl.balancer.invoker_states().values()))
        fire = Activation(namespace="guest", name="t", subject=guest.subject,
                          activation_id=tid.activation_id(), start=0, end=0,
                          response=ActResponse.success({}), version="0.0.1")
        rules = {"guest/r": {"status": "active", "action": {"path": "guest", "name": "ruled"}}}
        firing = asyncio.create_task(fire_rules(ctl, guest, fire, rules, {"n": 1}))
        await asyncio.sleep(1.0)  # refused meanwhile: no invoker is up
        assert not firing.done()
        await reg.register_invoker(InvokerInfo(0, "inv0", 2048), ttl_s=60)
        await asyncio.wait_for(firing, 30)
        line = json.loads(fire.logs[0])
        assert line["success"] is True, line
        for _ in range(300):  # and its action ran: the invoker stored its record
            if await ctl.store.get(ACTIVATIONS, f"guest/{line['activationId']}") is not None:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"no record of the rule's activation {line}")

    run_cluster(check)
