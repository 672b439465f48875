"""The document store interface: CouchDB's model, whatever engine sits behind it.

Three databases, as OpenWhisk has them: ``subjects`` (identities and namespace limits),
``whisks`` (actions, triggers, rules, packages) and ``activations``. Documents are JSON
objects with ``_id`` and ``_rev``; every write must name the revision it replaces, so two
writers racing on one document see a ``Conflict`` instead of losing an update. Other
top-level fields must not start with ``_`` (CouchDB gives such names meaning) or ``pwsk_``
(the CouchDB store indexes on fields of that name); it refuses them with ``ValueError``.

Entity documents carry ``entityType`` and ``namespace`` (``ns`` or ``ns/pkg``) and ``updated``;
activation documents carry ``namespace``, ``activationId``, ``start`` and the ``path``
annotation. Lists come newest first, as OpenWhisk's views give them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

Json = dict[str, Any]

SUBJECTS = "subjects"
WHISKS = "whisks"
ACTIVATIONS = "activations"
DATABASES = (SUBJECTS, WHISKS, ACTIVATIONS)


def next_rev(rev: str | None) -> str:
    """CouchDB-style revision: ``<generation>-<random hex>``."""
    gen = int(rev.split("-", 1)[0]) + 1 if rev else 1
    return f"{gen}-{secrets.token_hex(16)}"


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """Entities of one type under a namespace (``root``) or exactly one path (``ns/pkg``)."""

    entity_type: str
    namespace: str
    exact_path: bool = False
    skip: int = 0
    limit: int = 30


@dataclass(frozen=True, slots=True)
class ActivationQuery:
    """Activations owned by ``namespace``; ``name`` is ``action`` or ``pkg/action``."""

    namespace: str
    name: str | None = None
    since: int | None = None
    upto: int | None = None
    skip: int = 0
    limit: int = 30


def activation_name_key(doc: Json) -> str:
    """The name an activation is filtered by: its ``path`` without the namespace, or its name."""
    for anno in doc.get("annotations") or []:
        if anno.get("key") == "path" and isinstance(anno.get("value"), str):
            _, _, rest = anno["value"].partition("/")
            return rest or str(doc.get("name", ""))
    return str(doc.get("name", ""))


class Store(Protocol):
    """An async document store; see the module docstring for the contract."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def get(self, db: str, doc_id: str) -> Json | None:
        """The document with its ``_rev``, or None."""

    async def put(self, db: str, doc: Json) -> str:
        """Create (no ``_rev``) or replace (matching ``_rev``); returns the new revision.

        Raises ``Conflict`` when the document exists and ``_rev`` is absent or stale.
        """

    async def delete(self, db: str, doc_id: str, rev: str) -> None:
        """Remove a document at ``rev``; ``NotFound`` if absent, ``Conflict`` if stale."""

    async def all_docs(self, db: str) -> list[Json]:
        """Every document of ``db`` with its ``_rev``, in ``_id`` order (for ``subjects``:
        small, read by the admin API and the start-up key migration)."""

    async def list_entities(self, query: EntityQuery) -> list[Json]: ...

    async def count_entities(self, query: EntityQuery) -> int: ...

    async def list_activations(self, query: ActivationQuery) -> list[Json]: ...

    async def count_activations(self, query: ActivationQuery) -> int: ...
