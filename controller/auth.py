"""Identities: ``uuid:key`` basic auth against the subjects database, hashed and cached.

An identity document holds one key: ``{_id: <uuid>, entityType: "identity", subject,
namespace, uuid, keyHash, created}`` plus ``blocked`` (its subject is blocked), ``revoked``
(when it was revoked: the document stays as a tombstone, so a revoked default key is not
created again on the next start) or ``expires`` (the short-lived keys web actions get, see
``by_namespace``). ``keyHash`` is ``pbkdf2_sha256$<iterations>$<salt>$<digest>``; the secret
itself is never stored, returned by a list or written to a log. Documents written before
keys were hashed (``key`` instead of ``keyHash``) are hashed in place on start.
``{_id: "namespace/<ns>", uuid}`` finds a namespace's owner (web actions); per-namespace
limits live in ``{_id: "<ns>/limits"}``. ``guest`` and ``whisk.system`` are created on start
with the keys of ``PWSK_GUEST_KEY`` and ``PWSK_SYSTEM_KEY``, or OpenWhisk's well-known
development keys when those are unset; with ``PWSK_REFUSE_DEFAULT_KEYS=true`` (a deployment,
see docker-compose.yml) a controller refuses to start without its own keys
(``default_subjects``). Keys of ``whisk.system`` are administrators'.

The hot path stays cheap: a verified key is remembered under an HMAC of ``uuid:key`` with a
per-process random pepper, so a warm request costs one HMAC, not a PBKDF2 run. Documents are
cached ``CACHE_TTL_S``; every change is announced through ``on_write`` (the controller sends
it on the bus's ``cacheInvalidation`` topic) and peers drop their copy (``forget``), so a
revoked or blocked key stops working on every controller at once, and within
``CACHE_TTL_S`` even if the message is lost.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import secrets
import string
import time
import uuid as uuidlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pwsk import log
from pwsk.errors import Conflict, Forbidden, NotFound, Unauthenticated
from pwsk.messages import Identity
from pwsk.settings import Settings
from pwsk.store import SUBJECTS, Json, Store

logger = log.get("pwsk.auth")

GUEST_KEY = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
             "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
SYSTEM_KEY = ("789c46b1-71f6-4ed5-8c54-816aa4f8c502:"
              "abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
DEFAULT_SUBJECTS = {"guest": GUEST_KEY, "whisk.system": SYSTEM_KEY}
WELL_KNOWN_UUIDS = frozenset(k.partition(":")[0] for k in DEFAULT_SUBJECTS.values())
ADMIN_NAMESPACE = "whisk.system"
CACHE_TTL_S = 10.0
REFUSED_TTL_S = 10.0
CACHE_SIZE = 10_000
LIMIT_FIELDS = ("invocationsPerMinute", "concurrentInvocations", "firesPerMinute",
                "allowedKinds", "storeActivations")

HASH_SCHEME = "pbkdf2_sha256"
# ~15 ms on the CI machine: once per key and controller, then the HMAC cache answers.
HASH_ITERATIONS = 50_000
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64  # as OpenWhisk's keys
# Web actions get a key of their own for their owner's namespace (see ``by_namespace``).
WEB_KEY_LIFETIME_MS = 24 * 3600 * 1000
WEB_KEY_RENEW_MS = 3600 * 1000  # renewed this long before expiry: an action may run 5 min


class KeySettingError(ValueError):
    """An initial key in the settings is malformed, missing or a refused well-known one."""


def default_subjects(settings: Settings) -> dict[str, str]:
    """The initial ``{namespace: "uuid:key"}`` from the settings (the well-known keys where
    unset). Raises ``KeySettingError`` (naming the variable, never the key) for a malformed
    key, and with ``refuse_default_keys`` for a missing or well-known one."""
    chosen = {"guest": ("PWSK_GUEST_KEY", settings.guest_key.get_secret_value()),
              "whisk.system": ("PWSK_SYSTEM_KEY", settings.system_key.get_secret_value())}
    out: dict[str, str] = {}
    for namespace, (variable, value) in chosen.items():
        value = value.strip()
        if not value:
            if settings.refuse_default_keys:
                raise KeySettingError(
                    f"{variable} is not set and PWSK_REFUSE_DEFAULT_KEYS is true: give "
                    f"{namespace} a key of its own, uuid:key (e.g. python3 -c 'import uuid,"
                    "secrets; print(uuid.uuid4(), secrets.token_hex(32), sep=\":\")')")
            out[namespace] = DEFAULT_SUBJECTS[namespace]
            continue
        uuid, sep, key = value.partition(":")
        try:
            uuidlib.UUID(uuid)
        except ValueError:
            uuid = ""
        if not sep or not uuid or len(key) < 32 or any(c in ":\n\r\t " for c in key):
            raise KeySettingError(f"{variable} must be uuid:key with a key of at least 32 "
                                  "characters and no colon or blank")
        if uuid in WELL_KNOWN_UUIDS and settings.refuse_default_keys:
            raise KeySettingError(
                f"{variable} is (or has the uuid of) one of OpenWhisk's published development "
                "keys and PWSK_REFUSE_DEFAULT_KEYS is true: choose a secret key")
        out[namespace] = value
    if out["guest"].partition(":")[0] == out["whisk.system"].partition(":")[0]:
        raise KeySettingError("PWSK_GUEST_KEY and PWSK_SYSTEM_KEY must have different uuids")
    return out


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


def hash_key(key: str, iterations: int = HASH_ITERATIONS) -> str:
    """A salted PBKDF2-HMAC-SHA256 of ``key``, as stored in ``keyHash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", key.encode(), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_key(key: str, stored: str) -> bool:
    """Whether ``key`` matches ``stored`` (a ``hash_key`` result), compared in constant time."""
    try:
        scheme, rounds, salt, digest = stored.split("$")
        iterations = int(rounds)
        expected = base64.b64decode(digest)
        salt_bytes = base64.b64decode(salt)
    except (ValueError, binascii.Error):
        return False
    if scheme != HASH_SCHEME or not 1 <= iterations <= 10_000_000:
        return False
    computed = hashlib.pbkdf2_hmac("sha256", key.encode(), salt_bytes, iterations)
    return hmac.compare_digest(computed, expected)


def new_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _now_ms() -> int:
    return int(time.time() * 1000)


def key_summary(doc: Json) -> Json:
    """What the admin API shows of an identity document: never the secret or its hash."""
    out: Json = {"uuid": doc["uuid"], "subject": doc["subject"], "namespace": doc["namespace"],
                 "blocked": bool(doc.get("blocked")), "created": doc.get("created")}
    if doc.get("revoked"):
        out["revoked"] = doc["revoked"]
    if doc.get("expires"):
        out["expires"] = doc["expires"]
    return out


@dataclass(slots=True)
class _Entry:
    """A usable identity document: its identity (without the key) and its key's hash."""

    identity: Identity
    key_hash: str
    admin: bool


def _usable(doc: Json | None) -> bool:
    return bool(doc and doc.get("entityType") == "identity" and doc.get("keyHash")
                and not doc.get("blocked") and not doc.get("revoked")
                and (not doc.get("expires") or int(doc["expires"]) > _now_ms()))


class Authenticator:
    def __init__(self, store: Store, subjects: dict[str, str] | None = None, *,
                 revoke_well_known: bool = False) -> None:
        self.store = store
        # The initial keys seed() creates: default_subjects(settings), or the well-known ones;
        # revoke_well_known: seed() also revokes the well-known keys an earlier start made.
        self.subjects = dict(subjects or DEFAULT_SUBJECTS)
        self.revoke_well_known = revoke_well_known
        self.on_write: Callable[[str], Awaitable[None]] | None = None
        self._docs: dict[str, tuple[float, _Entry | None]] = {}
        self._verified: OrderedDict[bytes, str] = OrderedDict()  # HMAC → the hash it matched
        self._refused: dict[bytes, float] = {}
        self._pepper = secrets.token_bytes(32)
        self._hashing: asyncio.Semaphore | None = None
        self._dummy_hash: str | None = None
        self._web_keys: dict[str, tuple[int, str, str]] = {}  # ns → (expires ms, uuid, key)
        self._web_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> Authenticator:
        """With the initial keys of the settings; raises ``KeySettingError`` (see
        ``default_subjects``)."""
        return cls(store, default_subjects(settings),
                   revoke_well_known=settings.refuse_default_keys)

    # --- start-up ----------------------------------------------------------------------

    async def seed(self) -> None:
        """Create the default subjects if they are missing (idempotent), then hash any key
        stored in the clear by an older version."""
        for namespace, api_key in self.subjects.items():
            uuid, _, key = api_key.partition(":")
            if await self.store.get(SUBJECTS, uuid) is None:
                doc = await self._identity_doc(namespace, namespace, uuid, key)
                # Controllers starting together race here: whoever writes first wins.
                with contextlib.suppress(Conflict):
                    await self.store.put(SUBJECTS, doc)
            await self._ensure_owner(namespace, uuid)
        if self.revoke_well_known:
            for uuid in WELL_KNOWN_UUIDS:
                published = await self.store.get(SUBJECTS, uuid)
                if published is not None and not published.get("revoked"):
                    with contextlib.suppress(NotFound):
                        await self.revoke(uuid)
        await self.migrate()

    async def migrate(self) -> int:
        """Hash every key stored in the clear, drop expired web keys; returns how many
        documents changed. Safe to run on several controllers at once."""
        changed = 0
        for doc in await self.store.all_docs(SUBJECTS):
            if doc.get("entityType") != "identity":
                continue
            if "key" in doc:
                changed += await self._hash_in_place(doc)
            elif doc.get("expires") and int(doc["expires"]) < _now_ms():
                with contextlib.suppress(Conflict, NotFound):
                    await self.store.delete(SUBJECTS, doc["_id"], doc["_rev"])
                    changed += 1
        if changed:
            logger.info("subjects migrated", documents=changed)
        return changed

    async def _hash_in_place(self, doc: Json) -> int:
        doc_id = str(doc["_id"])
        current: Json | None = doc
        for _ in range(5):
            if current is None or "key" not in current:
                return 0  # another controller did it
            updated = {k: v for k, v in current.items() if k != "key"}
            updated["keyHash"] = await asyncio.to_thread(hash_key, str(current["key"]))
            try:
                await self.store.put(SUBJECTS, updated)
            except Conflict:
                current = await self.store.get(SUBJECTS, doc_id)
                continue
            await self._changed(doc_id)
            return 1
        raise Conflict(f"could not hash the key of {doc_id}")

    async def _identity_doc(self, subject: str, namespace: str, uuid: str, key: str,
                            **extra: Any) -> Json:
        return {"_id": uuid, "entityType": "identity", "subject": subject,
                "namespace": namespace, "uuid": uuid,
                "keyHash": await asyncio.to_thread(hash_key, key), "created": _now_ms(),
                **extra}

    async def _ensure_owner(self, namespace: str, uuid: str) -> None:
        if await self.store.get(SUBJECTS, namespace_doc(namespace)) is None:
            with contextlib.suppress(Conflict):
                await self.store.put(SUBJECTS, {"_id": namespace_doc(namespace),
                                                "entityType": "namespace", "uuid": uuid})

    # --- caches ------------------------------------------------------------------------

    def forget(self, doc_id: str) -> None:
        """Drop a cached document (it changed here or on another controller)."""
        self._docs.pop(doc_id, None)
        if doc_id.endswith("/limits"):
            self._docs.clear()  # limits ride on every identity of the namespace
        self._refused.clear()  # an unblocked key must work at once

    async def changed(self, doc_id: str) -> None:
        """A subjects document changed here (the admin API wrote it): forget, tell peers."""
        await self._changed(doc_id)

    async def _changed(self, doc_id: str) -> None:
        self.forget(doc_id)
        if self.on_write is not None:
            await self.on_write(doc_id)

    async def _entry(self, uuid: str) -> _Entry | None:
        now = time.monotonic()
        hit = self._docs.get(uuid)
        if hit and hit[0] > now:
            return hit[1]
        doc = await self.store.get(SUBJECTS, uuid)
        entry = None
        if _usable(doc):
            assert doc is not None
            limits = await self.store.get(SUBJECTS, f"{doc['namespace']}/limits") or {}
            identity = Identity(doc["subject"], doc["namespace"], doc["uuid"], "",
                                {k: limits[k] for k in LIMIT_FIELDS if k in limits})
            entry = _Entry(identity, str(doc["keyHash"]),
                           doc["namespace"] == ADMIN_NAMESPACE and not doc.get("expires"))
        if len(self._docs) > CACHE_SIZE:
            self._docs.clear()
        self._docs[uuid] = (now + CACHE_TTL_S, entry)
        return entry

    async def lookup(self, uuid: str) -> Identity | None:
        """The identity of a usable key, without its secret."""
        if not uuid:
            return None
        entry = await self._entry(uuid)
        return entry.identity if entry else None

    # --- authentication ----------------------------------------------------------------

    async def authenticate(self, header: str | None) -> Identity:
        return (await self._verify(header))[0]

    async def authenticate_admin(self, header: str | None) -> Identity:
        """An administrator's identity (a key of ``whisk.system``); 401, or 403 for others."""
        identity, admin = await self._verify(header)
        if not admin:
            raise Forbidden()
        return identity

    async def _verify(self, header: str | None) -> tuple[Identity, bool]:
        uuid, key = parse_basic(header)
        entry = await self._entry(uuid)
        digest = hmac.new(self._pepper, f"{uuid}:{key}".encode(), hashlib.sha256).digest()
        if entry is not None and self._verified.get(digest) == entry.key_hash:
            return _with_key(entry.identity, key), entry.admin
        refused = self._refused.get(digest)
        if refused is not None and refused > time.monotonic():
            raise Unauthenticated()
        # Hash even when the uuid is unknown, so timing tells nothing about which exist.
        ok = await self._check(key, entry.key_hash if entry else None)
        if not ok or entry is None:
            if len(self._refused) > CACHE_SIZE:
                self._refused.clear()
            self._refused[digest] = time.monotonic() + REFUSED_TTL_S
            logger.debug("key refused", uuid=uuid[:64])  # the uuid only, never the secret
            raise Unauthenticated()
        self._remember(digest, entry.key_hash)
        return _with_key(entry.identity, key), entry.admin

    def _remember(self, digest: bytes, key_hash: str) -> None:
        self._verified[digest] = key_hash
        if len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)

    async def _check(self, key: str, stored: str | None) -> bool:
        if self._hashing is None:
            # Bounds the CPU a flood of wrong keys can take (PBKDF2 runs off the loop).
            self._hashing = asyncio.Semaphore(2)
        async with self._hashing:
            if stored is None:
                if self._dummy_hash is None:
                    self._dummy_hash = await asyncio.to_thread(hash_key, new_key())
                stored = self._dummy_hash
            return await asyncio.to_thread(verify_key, key, stored)

    # --- web actions -------------------------------------------------------------------

    async def by_namespace(self, namespace: str) -> Identity | None:
        """The identity owning ``namespace`` (web actions charge the owner).

        Its key is a web key of this controller's: the owner's own secret is not stored
        anywhere, so the actions of anonymous web requests that ask for a key
        (``provide-api-key``) get one that is valid for ``WEB_KEY_LIFETIME_MS``, hashed in
        the store like any other, blocked with its subject and revoked with its namespace.
        """
        doc = await self.store.get(SUBJECTS, namespace_doc(namespace))
        if doc is None:
            return None
        owner = await self.lookup(str(doc["uuid"]))
        if owner is None:
            return None
        async with self._web_lock:
            expires, uuid, key = self._web_keys.get(namespace, (0, "", ""))
            if expires - _now_ms() < WEB_KEY_RENEW_MS or await self.lookup(uuid) is None:
                uuid, key = str(uuidlib.uuid4()), new_key()
                expires = _now_ms() + WEB_KEY_LIFETIME_MS
                await self.store.put(SUBJECTS, await self._identity_doc(
                    owner.subject, namespace, uuid, key, expires=expires))
                self._web_keys[namespace] = (expires, uuid, key)
                self.forget(uuid)
        return Identity(owner.subject, namespace, uuid, key, owner.limits)

    # --- administration ----------------------------------------------------------------

    async def create_key(self, subject: str, namespace: str) -> tuple[Json, str]:
        """A new key for ``subject`` in ``namespace``: (its summary, its ``uuid:key``)."""
        uuid, key = str(uuidlib.uuid4()), new_key()
        doc = await self._identity_doc(subject, namespace, uuid, key)
        blocked = [d for d in await self.keys(subject=subject) if d["blocked"]]
        if blocked:
            doc["blocked"] = True  # a blocked subject stays blocked
        await self.store.put(SUBJECTS, doc)
        await self._ensure_owner(namespace, uuid)
        await self._changed(uuid)
        logger.info("key created", uuid=uuid, subject=subject, namespace=namespace)
        return key_summary(doc), f"{uuid}:{key}"

    async def keys(self, *, namespace: str | None = None, subject: str | None = None,
                   everything: bool = False) -> list[Json]:
        """Summaries of the keys (revoked and web keys too with ``everything``)."""
        out = []
        for doc in await self.store.all_docs(SUBJECTS):
            if doc.get("entityType") != "identity":
                continue
            if (namespace is not None and doc.get("namespace") != namespace) or \
                    (subject is not None and doc.get("subject") != subject):
                continue
            if not everything and (doc.get("revoked") or doc.get("expires")):
                continue
            out.append(key_summary(doc))
        return sorted(out, key=lambda d: (d["namespace"], d["subject"], d["created"] or 0))

    async def key(self, uuid: str) -> Json:
        doc = await self.store.get(SUBJECTS, uuid)
        if doc is None or doc.get("entityType") != "identity":
            raise NotFound()
        return key_summary(doc)

    async def revoke(self, uuid: str) -> Json:
        """Revoke one key: it fails on every controller from the next request on."""
        doc = await self._update(uuid, lambda d: None if d.get("revoked") else {
            **{k: v for k, v in d.items() if k not in ("keyHash", "key")},
            "revoked": _now_ms()})
        if doc is None:
            raise NotFound()
        logger.info("key revoked", uuid=uuid, subject=doc["subject"],
                    namespace=doc["namespace"])
        owner = await self.store.get(SUBJECTS, namespace_doc(doc["namespace"]))
        if owner is not None and owner.get("uuid") == uuid:
            # Web actions find their namespace through this key: hand it to another one.
            others = [d["uuid"] for d in await self.keys(namespace=doc["namespace"])]
            if others:
                with contextlib.suppress(Conflict):
                    await self.store.put(SUBJECTS, {**owner, "uuid": others[0]})
        return key_summary(doc)

    async def set_blocked(self, subject: str, blocked: bool) -> list[Json]:
        """Block or unblock every key of ``subject``; the keys changed."""
        changed = []
        for summary in await self.keys(subject=subject, everything=True):
            doc = await self._update(summary["uuid"], lambda d: None if bool(
                d.get("blocked")) == blocked else {**d, "blocked": blocked})
            if doc is not None:
                changed.append(key_summary(doc))
        logger.info("subject blocked" if blocked else "subject unblocked", subject=subject,
                    keys=len(changed))
        return changed

    async def _update(self, uuid: str, change: Callable[[Json], Json | None]) -> Json | None:
        """Apply ``change`` to an identity document, retrying on conflicts; None when
        there is no such document or ``change`` says there is nothing to do."""
        for _ in range(10):
            doc = await self.store.get(SUBJECTS, uuid)
            if doc is None or doc.get("entityType") != "identity":
                return None
            updated = change(doc)
            if updated is None:
                return None
            try:
                await self.store.put(SUBJECTS, updated)
            except Conflict:
                continue
            await self._changed(uuid)
            return updated
        raise Conflict()


def _with_key(identity: Identity, key: str) -> Identity:
    return Identity(identity.subject, identity.namespace, identity.uuid, key, identity.limits)


def namespace_doc(namespace: str) -> str:
    """Id of the document that maps a namespace to its owner's uuid."""
    return f"namespace/{namespace}"
