"""Identities: ``uuid:key`` basic auth against the subjects database, cached.

An identity document is ``{_id: <uuid>, entityType: "identity", subject, namespace, uuid,
key}``; ``{_id: "namespace/<ns>", uuid}`` finds a namespace's owner (web actions); per-namespace
limits live in ``{_id: "<ns>/limits"}``. ``guest`` and
``whisk.system`` are created on start with OpenWhisk's well-known development keys.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import time

from pwsk.errors import Conflict, Unauthenticated
from pwsk.messages import Identity
from pwsk.store import SUBJECTS, Store

GUEST_KEY = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
             "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
SYSTEM_KEY = ("789c46b1-71f6-4ed5-8c54-816aa4f8c502:"
              "abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
DEFAULT_SUBJECTS = {"guest": GUEST_KEY, "whisk.system": SYSTEM_KEY}
CACHE_TTL_S = 30.0
LIMIT_FIELDS = ("invocationsPerMinute", "concurrentInvocations", "firesPerMinute",
                "allowedKinds", "storeActivations")


def parse_basic(header: str | None) -> tuple[str, str]:
    if not header:
        raise Unauthenticated(Unauthenticated.missing)
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthenticated()
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated() from None
    uuid, sep, key = decoded.partition(":")
    if not sep or not uuid or not key:
        raise Unauthenticated()
    return uuid, key


class Authenticator:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[float, Identity | None]] = {}

    async def seed(self) -> None:
        """Create the default subjects if they are missing (idempotent)."""
        for namespace, api_key in DEFAULT_SUBJECTS.items():
            uuid, _, key = api_key.partition(":")
            docs = [
                {"_id": uuid, "entityType": "identity", "subject": namespace,
                 "namespace": namespace, "uuid": uuid, "key": key},
                {"_id": namespace_doc(namespace), "entityType": "namespace", "uuid": uuid},
            ]
            for doc in docs:
                if await self.store.get(SUBJECTS, doc["_id"]) is None:
                    # Controllers starting together race here: whoever writes first wins.
                    with contextlib.suppress(Conflict):
                        await self.store.put(SUBJECTS, doc)

    async def lookup(self, uuid: str) -> Identity | None:
        now = time.monotonic()
        hit = self._cache.get(uuid)
        if hit and hit[0] > now:
            return hit[1]
        doc = await self.store.get(SUBJECTS, uuid)
        identity = None
        if doc and doc.get("entityType") == "identity" and not doc.get("blocked"):
            limits = await self.store.get(SUBJECTS, f"{doc['namespace']}/limits") or {}
            identity = Identity(doc["subject"], doc["namespace"], doc["uuid"], doc["key"],
                                {k: limits[k] for k in LIMIT_FIELDS if k in limits})
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[uuid] = (now + CACHE_TTL_S, identity)
        return identity

    async def authenticate(self, header: str | None) -> Identity:
        uuid, key = parse_basic(header)
        identity = await self.lookup(uuid)
        # Compare in constant time even when the uuid is unknown, so timing tells nothing.
        expected = identity.key if identity else "\0" * len(key)
        if not hmac.compare_digest(expected.encode(), key.encode()) or identity is None:
            raise Unauthenticated()
        return identity

    async def by_namespace(self, namespace: str) -> Identity | None:
        """The identity owning ``namespace`` (web actions charge the owner)."""
        doc = await self.store.get(SUBJECTS, namespace_doc(namespace))
        if doc is None:
            return None
        return await self.lookup(str(doc["uuid"]))


def namespace_doc(namespace: str) -> str:
    """Id of the document that maps a namespace to its owner's uuid."""
    return f"namespace/{namespace}"
