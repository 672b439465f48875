"""The controller's parts wired together; the app factory hands one to every route."""

from __future__ import annotations

from dataclasses import dataclass, field

from pwsk.bus import Bus
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
        self.auth = Authenticator(self.store)
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
        self.activator = Activator(self.settings, self.store, self.entities, self.balancer)
        self.throttles = Throttles(self.settings)

    async def start(self) -> None:
        await self.auth.seed()
        if self.registry is not None:
            await self.registry.start()
            await self._install_test_action()
        await self.balancer.start()

    async def stop(self) -> None:
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
