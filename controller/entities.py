"""Typed access to the whisks database, with an entity cache and entitlement checks.

Reads on the invoke path come from a cache (``caching()``); CRUD reads go to the store, so a
client always reads its own writes whichever controller it reaches. Every write updates or
drops the cached copy and calls ``on_write`` (the controller tells its peers over the bus,
spec §6.2 ``cacheInvalidation``), so caches across controllers converge within milliseconds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pwsk.entities import Action, Entity, Package, entity_from_doc
from pwsk.errors import Conflict, Forbidden, Messages, NotFound
from pwsk.messages import Identity
from pwsk.names import FQN
from pwsk.store import WHISKS, Store

E = TypeVar("E", bound=Entity)
CACHE_SIZE = 4096


class EntityStore:
    def __init__(self, store: Store, cache: OrderedDict[str, Entity] | None = None,
                 use_cache: bool = False) -> None:
        self.store = store
        self._cache: OrderedDict[str, Entity] = OrderedDict() if cache is None else cache
        self._use_cache = use_cache
        self.on_write: Callable[[str], Awaitable[None]] | None = None

    def caching(self) -> EntityStore:
        """A view of the same store that reads through the shared cache (invoke path)."""
        view = EntityStore(self.store, self._cache, use_cache=True)
        view.on_write = self._notify
        return view

    async def _notify(self, doc_id: str) -> None:
        if self.on_write is not None:
            await self.on_write(doc_id)

    async def find(self, doc_id: str) -> Entity | None:
        hit = self._cache.get(doc_id) if self._use_cache else None
        if hit is not None:
            self._cache.move_to_end(doc_id)
            return hit
        doc = await self.store.get(WHISKS, doc_id)
        if doc is None or doc.get("entityType") not in ("action", "trigger", "rule", "package"):
            return None
        entity = entity_from_doc(doc)
        self._remember(entity)
        return entity

    def _remember(self, entity: Entity) -> None:
        self._cache[entity.doc_id] = entity
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget(self, doc_id: str) -> None:
        self._cache.pop(doc_id, None)

    def forget_all(self) -> None:
        """Drop every cached entity (invalidations may have been missed)."""
        self._cache.clear()

    async def get(self, fqn: FQN, cls: type[E]) -> E:
        """The entity, 404 when absent, 409 when the name belongs to another collection."""
        found = await self.get_optional(fqn, cls)
        if found is None:
            raise NotFound()
        return found

    async def get_optional(self, fqn: FQN, cls: type[E]) -> E | None:
        entity = await self.find(fqn.doc_id)
        if entity is None:
            return None
        if not isinstance(entity, cls):
            raise Conflict(Messages.WRONG_COLLECTION)
        return entity

    async def put(self, entity: E) -> E:
        doc = entity.to_doc()
        try:
            rev = await self.store.put(WHISKS, doc)
        except Conflict:
            self.forget(entity.doc_id)
            raise
        entity.rev = rev
        self._remember(entity)
        await self._notify(entity.doc_id)
        return entity

    async def delete(self, entity: Entity) -> None:
        self.forget(entity.doc_id)
        if entity.rev is None:
            raise NotFound()
        await self.store.delete(WHISKS, entity.doc_id, entity.rev)
        await self._notify(entity.doc_id)


def check_namespace(identity: Identity, namespace: str) -> None:
    """Write access: only to the caller's own namespace."""
    if namespace != identity.namespace:
        raise Forbidden()


async def readable_package(entities: EntityStore, identity: Identity, fqn: FQN) -> Package:
    """A package the caller may read: its own, or a published one elsewhere."""
    pkg = await entities.get_optional(fqn, Package)
    if fqn.namespace != identity.namespace and (pkg is None or not pkg.publish):
        raise Forbidden()
    if pkg is None:
        raise NotFound()
    return pkg


async def readable_action(entities: EntityStore, identity: Identity, fqn: FQN) -> Action:
    """An action the caller may read or run, following package entitlement (not bindings)."""
    if fqn.namespace != identity.namespace:
        if fqn.package is None:
            raise Forbidden()
        await readable_package(entities, identity, FQN(fqn.namespace, fqn.package))
    return await entities.get(fqn, Action)
