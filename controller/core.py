"""The controller's parts wired together; the app factory hands one to every route."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import orjson

from pwsk import log
from pwsk.bus import Bus, topics
from pwsk.docstore import DocStore
from pwsk.entities import Action, Exec
from pwsk.errors import Conflict
from pwsk.names import FQN
from pwsk.registry import Registry, open_registry
from pwsk.settings import Settings
from pwsk.store import Store

from .auth import Authenticator
from .balancer import Balancer, LeanBalancer
from .entities import EntityStore
from .invoke import Activator
from .sharding import TEST_ACTION, ShardingBalancer
from .throttle import Throttles

logger = log.get("pwsk.controller")


@dataclass
class Controller:
    settings: Settings
    store: Store
    bus: Bus
    auth: Authenticator = field(init=False)
    entities: EntityStore = field(init=False)
    balancer: Balancer = field(init=False)
    registry: Registry | None = None
    docstore: DocStore | None = None
    activator: Activator = field(init=False)
    throttles: Throttles = field(init=False)

    def __post_init__(self) -> None:
        self._unsent: dict[str, bytes] = {}  # invalidations the bus refused, by key
        self._resender: asyncio.Task[None] | None = None
        self.auth = Authenticator.from_settings(self.store, self.settings)
        self.entities = EntityStore(self.store)
        mode = self.settings.balancer
        if mode == "auto":
            mode = "lean" if self.settings.registry.startswith("local://") else "sharding"
        if mode == "lean":
            self.registry = None
            self.balancer = LeanBalancer(self.bus, self.settings.controller_id,
                                         self.settings.invoker_id)
        else:
            self.registry = self.registry or open_registry(self.settings.registry)
            self.balancer = ShardingBalancer(self.bus, self.registry,
                                             self.settings.controller_id,
                                             self.settings.cluster_size)
        self.activator = Activator(self.settings, self.store, self.entities.caching(),
                                   self.balancer)
        self.entities.on_write = self._invalidate
        self.auth.on_write = self._invalidate
        self.throttles = Throttles(self.settings)

    async def _invalidate(self, doc_id: str) -> None:
        """Tell the other controllers to drop ``doc_id`` from their caches."""
        msg = orjson.dumps({"key": doc_id, "instanceId": self._instance})
        try:
            await self.bus.publish(topics.CACHE_INVALIDATION, msg)
        except Exception as exc:  # the write stands; its invalidation goes once the bus is back
            logger.warning("cache invalidation delayed", key=doc_id, error=repr(exc))
            self._unsent[doc_id] = msg
            if self._resender is None or self._resender.done():
                self._resender = asyncio.create_task(self._resend())

    async def _resend(self) -> None:
        """Send the invalidations a bus outage held back (else peers keep stale entries)."""
        delay = 0.5
        while self._unsent:
            await asyncio.sleep(delay)
            doc_id, msg = next(iter(self._unsent.items()))
            try:
                await self.bus.publish(topics.CACHE_INVALIDATION, msg)
            except Exception:
                delay = min(delay * 2, 2.0)
                continue
            if self._unsent.get(doc_id) == msg:
                del self._unsent[doc_id]
            delay = 0.0

    async def _listen_invalidations(self) -> None:
        async for raw in self._invalidations:
            try:
                msg = orjson.loads(raw)
                if msg.get("instanceId") != self._instance:
                    self.entities.forget(str(msg["key"]))
                    self.auth.forget(str(msg["key"]))
            except (orjson.JSONDecodeError, KeyError, AttributeError):
                logger.warning("bad cache invalidation message")

    async def start(self) -> None:
        self._instance = f"controller{self.settings.controller_id}"
        self._invalidations = self.bus.subscribe(topics.CACHE_INVALIDATION,
                                                 group=f"cacheInvalidation{self._instance}")
        self._listener = asyncio.create_task(self._listen_invalidations())
        on_recovery = getattr(self.bus, "on_recovery", None)
        if on_recovery is not None:  # peers' invalidations may have been lost meanwhile
            on_recovery(self.entities.forget_all)
        await self.auth.seed()
        if self.registry is not None:
            await self.registry.start()
            await self._install_test_action()
        await self.balancer.start()

    async def stop(self) -> None:
        if self._resender is not None:
            self._resender.cancel()
        self._listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listener
        await self._invalidations.close()
        await self.activator.stop()
        await self.balancer.stop()
        if self.registry is not None:
            await self.registry.stop()

    async def _install_test_action(self) -> None:
        """The action the balancer sends to an unhealthy invoker to see it recover."""
        assert isinstance(self.balancer, ShardingBalancer)
        system = await self.auth.by_namespace("whisk.system")
        fqn = FQN("whisk.system", f"{TEST_ACTION}{self.settings.controller_id}")
        action = await self.entities.get_optional(fqn, Action)
        if action is None:
            action = Action(fqn.namespace, fqn.name, exec=Exec(
                "python:3.11", code="def main(args):\n    return args\n"))
            try:
                action = await self.entities.put(action)
            except Conflict:
                action = await self.entities.get(fqn, Action)
        self.balancer.test_identity = system
        self.balancer.test_revision = action.rev or ""
