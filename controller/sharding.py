"""OpenWhisk's ``ShardingContainerPoolBalancer`` and invoker supervision (spec §6.1).

Placement: ``hash = |javaHash(namespace) ^ javaHash(action)|``; the home invoker is
``hash % n``; probing walks ``home, home + step, ...`` with a step from the pairwise coprime
numbers of ``n``, and takes the first healthy invoker with enough free memory in this
controller's share of it (``userMemory / clusterSize``). If none has room, a random healthy
invoker is used anyway (overload); if none is healthy, 503.

Health: invokers ping on ``health`` every second and are watched through the registry.
States are OpenWhisk's: ``up``; ``unhealthy`` after more than 3 system errors in the last 10
completions; ``unresponsive`` after more than 3 forced (timed-out) completions; ``down``
without a ping for 10 s, when the registry says the invoker is dead, or when it reports
itself disabled. An unhealthy or unresponsive invoker gets a test activation every
``TEST_INTERVAL_S``; a success brings it back up.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pwsk import log, tid
from pwsk.bus import Bus, topics
from pwsk.errors import ServiceUnavailable
from pwsk.messages import ActivationMessage, Identity, MessageError, PingMessage
from pwsk.registry import InvokerInfo, Registry

from .balancer import Balancer, Flight

logger = log.get("pwsk.controller.sharding")

PING_TIMEOUT_S = 10.0
BUFFER = 10
MAX_BAD = 3
TEST_INTERVAL_S = 10.0
TEST_ACTION = "invokerHealthTestAction"


def java_hash(text: str) -> int:
    """Java's ``String.hashCode`` (UTF-16 code units, int32 overflow)."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def coprime_steps(n: int) -> list[int]:
    """Numbers 1..n coprime with n and pairwise coprime with each other."""
    steps: list[int] = []
    for cur in range(1, n + 1):
        if math.gcd(cur, n) == 1 and all(math.gcd(cur, s) == 1 for s in steps):
            steps.append(cur)
    return steps or [1]


@dataclass(slots=True)
class InvokerState:
    instance: int
    capacity_mb: int
    used_mb: int = 0
    status: str = "unhealthy"  # new invokers prove themselves first, as in OpenWhisk
    live: bool = True
    enabled: bool = True
    last_ping: float = 0.0
    ring: deque[str] = field(default_factory=lambda: deque(maxlen=BUFFER))
    last_test: float = 0.0

    @property
    def usable(self) -> bool:
        return self.status == "up"

    def reevaluate(self, now: float) -> None:
        if not self.live or not self.enabled or now - self.last_ping > PING_TIMEOUT_S:
            self.status = "down"
            return
        if sum(r == "system" for r in self.ring) > MAX_BAD:
            self.status = "unhealthy"
        elif sum(r == "timeout" for r in self.ring) > MAX_BAD:
            self.status = "unresponsive"
        elif self.status == "down":
            # Back from the dead: prove health with a test activation first.
            self.status = "unhealthy" if self.ring else "up"


class ShardingBalancer(Balancer):
    def __init__(self, bus: Bus, registry: Registry, controller_id: int = 0,
                 cluster_size: int = 1, test_identity: Identity | None = None) -> None:
        super().__init__(bus, controller_id)
        self.registry = registry
        self.cluster_size = max(1, cluster_size)
        self.invokers: dict[int, InvokerState] = {}
        self.test_identity = test_identity
        self.test_revision = ""

    async def start(self) -> None:
        await super().start()
        group = f"health{self.controller_id}"
        self._health = self.bus.subscribe(topics.HEALTH, group=group)
        self._tasks += [asyncio.create_task(self._consume_pings()),
                        asyncio.create_task(self._watch_registry()),
                        asyncio.create_task(self._supervise())]

    async def stop(self) -> None:
        await super().stop()
        await self._health.close()

    # --- state ---------------------------------------------------------------------------

    def _state(self, instance: int, memory_mb: int) -> InvokerState:
        state = self.invokers.get(instance)
        share = max(memory_mb // self.cluster_size, 128)
        if state is None:
            state = self.invokers[instance] = InvokerState(instance, share)
        state.capacity_mb = share
        return state

    async def _consume_pings(self) -> None:
        async for raw in self._health:
            try:
                ping = PingMessage.from_bytes(raw)
            except MessageError as exc:
                logger.error("dropping undecodable ping", error=str(exc))
                continue
            state = self._state(ping.instance, ping.user_memory_mb)
            state.last_ping = time.monotonic()
            state.enabled = ping.enabled
            if state.status == "down" or (state.status == "unhealthy" and not state.ring):
                state.status = "up" if not state.ring else "unhealthy"
            state.reevaluate(time.monotonic())

    async def _watch_registry(self) -> None:
        async for infos in self.registry.watch():
            self._apply(infos)

    def _apply(self, infos: list[InvokerInfo]) -> None:
        seen = set()
        for info in infos:
            seen.add(info.instance)
            state = self._state(info.instance, info.user_memory_mb)
            state.live = info.live
            state.reevaluate(time.monotonic())
        for instance, state in self.invokers.items():
            if instance not in seen:
                state.live = False
                state.status = "down"

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for state in self.invokers.values():
                state.reevaluate(now)
                if (state.status in ("unhealthy", "unresponsive") and state.ring
                        and now - state.last_test >= TEST_INTERVAL_S):
                    state.last_test = now
                    await self._send_test(state.instance)

    async def _send_test(self, instance: int) -> None:
        """A tiny activation straight to one invoker; its success marks the invoker up."""
        if self.test_identity is None:
            return
        ident = self.test_identity
        msg = ActivationMessage(
            transid=tid.new(), start=int(time.time() * 1000), action_path=ident.namespace,
            action_name=f"{TEST_ACTION}{self.controller_id}", action_version="0.0.1",
            revision=self.test_revision, user=ident, activation_id=tid.activation_id(),
            controller=self.controller_id, blocking=False, content={},
        )
        try:
            await self.bus.publish(topics.invoker(instance), msg.to_bytes())
        except Exception as exc:
            logger.warning("health test not sent", invoker=instance, error=repr(exc))

    def outcome(self, invoker: int, system_error: bool, forced: bool) -> None:
        state = self.invokers.get(invoker)
        if state is None:
            return
        state.ring.append("timeout" if forced else "system" if system_error else "ok")
        if not system_error and not forced and state.status in ("unhealthy", "unresponsive"):
            state.ring.clear()
            state.status = "up"
        state.reevaluate(time.monotonic())

    # --- placement -----------------------------------------------------------------------

    def choose(self, msg: ActivationMessage, memory_mb: int) -> int:
        ordered = [self.invokers[i] for i in sorted(self.invokers)]
        healthy = [s for s in ordered if s.usable]
        if not healthy:
            raise ServiceUnavailable()
        n = len(ordered)
        fqn = f"{msg.action_path}/{msg.action_name}"
        hashed = abs(java_hash(msg.user.namespace) ^ java_hash(fqn))
        steps = coprime_steps(n)
        home, step = hashed % n, steps[hashed % len(steps)]
        for i in range(n):
            state = ordered[(home + i * step) % n]
            if state.usable and state.capacity_mb - state.used_mb >= memory_mb:
                state.used_mb += memory_mb
                return state.instance
        state = random.choice(healthy)
        logger.warning("system is overloaded", invoker=state.instance)
        state.used_mb += memory_mb
        return state.instance

    def release(self, flight: Flight) -> None:
        state = self.invokers.get(flight.invoker)
        if state is not None:
            state.used_mb = max(0, state.used_mb - flight.memory_mb)

    def invoker_states(self) -> dict[str, str]:
        return {f"invoker{i}": self.invokers[i].status for i in sorted(self.invokers)}

    def health(self) -> dict[str, Any]:
        report = super().health()
        states = list(self.invoker_states().values())
        report["invokers"] = {s: states.count(s) for s in
                              ("up", "unhealthy", "unresponsive", "down")}
        registry = getattr(self.registry, "health", None)
        report["registry"] = registry() if registry is not None else {"status": "up"}
        if not report["invokers"]["up"] or report["registry"]["status"] != "up":
            report["status"] = "degraded"
        return report
