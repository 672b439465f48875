"""The controller's parts wired together; the app factory hands one to every route."""

from __future__ import annotations

from dataclasses import dataclass, field

from pwsk.bus import Bus
from pwsk.settings import Settings
from pwsk.store import Store

from .auth import Authenticator
from .balancer import LeanBalancer
from .entities import EntityStore
from .invoke import Activator
from .throttle import Throttles


@dataclass
class Controller:
    settings: Settings
    store: Store
    bus: Bus
    auth: Authenticator = field(init=False)
    entities: EntityStore = field(init=False)
    balancer: LeanBalancer = field(init=False)
    activator: Activator = field(init=False)
    throttles: Throttles = field(init=False)

    def __post_init__(self) -> None:
        self.auth = Authenticator(self.store)
        self.entities = EntityStore(self.store)
        self.balancer = LeanBalancer(self.bus, self.settings.controller_id,
                                     self.settings.invoker_id)
        self.activator = Activator(self.settings, self.store, self.entities, self.balancer)
        self.throttles = Throttles(self.settings)

    async def start(self) -> None:
        await self.auth.seed()
        await self.balancer.start()

    async def stop(self) -> None:
        await self.activator.stop()
        await self.balancer.stop()
