"""Hashed keys in both stores: migration of clear keys, racing controllers, the caches.

Runs the controller's ``Authenticator`` on the SQLite store and on pouchdb-server (no
credentials), as controllers do on start.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from controller import auth as auth_module
from controller.auth import GUEST_KEY, SYSTEM_KEY, Authenticator, hash_key, verify_key
from pwsk.errors import Forbidden, Unauthenticated
from pwsk.store import SUBJECTS, Store, open_store

pytestmark = pytest.mark.anyio

ALICE = "a11ce000-0000-4000-8000-000000000001:" + "A" * 32 + "b" * 32


def basic(api_key: str) -> str:
    return "Basic " + base64.b64encode(api_key.encode()).decode()


@pytest.fixture(params=["sqlite", "couchdb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = open_store(f"sqlite://{tmp_path / 'subjects.db'}")
    else:
        s = open_store(request.getfixturevalue("pouchdb").store_url())
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def put_clear(store: Store, namespace: str, api_key: str) -> None:
    """An identity as versions before hashed keys wrote it."""
    uuid, _, key = api_key.partition(":")
    await store.put(SUBJECTS, {"_id": uuid, "entityType": "identity", "subject": namespace,
                               "namespace": namespace, "uuid": uuid, "key": key})
    await store.put(SUBJECTS, {"_id": f"namespace/{namespace}", "entityType": "namespace",
                               "uuid": uuid})


def test_hash_and_verify() -> None:
    stored = hash_key("secret")
    assert stored.startswith("pbkdf2_sha256$") and "secret" not in stored
    assert stored != hash_key("secret")  # salted
    assert verify_key("secret", stored) and not verify_key("Secret", stored)
    for bad in ("", "x", "pbkdf2_sha256$0$AA==$AA==", "md5$1$AA==$AA==", "a$b$c$d",
                stored.replace("$", "$!", 1)):
        assert not verify_key("secret", bad)


async def test_clear_keys_are_hashed_on_start(store: Store) -> None:
    await put_clear(store, "guest", GUEST_KEY)
    await put_clear(store, "alice", ALICE)
    auth = Authenticator(store)
    await auth.seed()
    dump = orjson.dumps(await store.all_docs(SUBJECTS)).decode()
    for api_key in (GUEST_KEY, SYSTEM_KEY, ALICE):
        uuid, _, secret = api_key.partition(":")
        assert secret not in dump
        doc = await store.get(SUBJECTS, uuid)
        assert doc is not None and "key" not in doc and verify_key(secret, doc["keyHash"])
        identity = await auth.authenticate(basic(api_key))
        assert (identity.uuid, identity.key) == (uuid, secret)
    with pytest.raises(Unauthenticated):
        await auth.authenticate(basic(ALICE[:-1] + "c"))
    assert await auth.migrate() == 0  # nothing left to do


async def test_controllers_starting_together_migrate_once(store: Store) -> None:
    await put_clear(store, "alice", ALICE)
    controllers = [Authenticator(store) for _ in range(3)]
    await asyncio.gather(*(c.seed() for c in controllers))
    doc = await store.get(SUBJECTS, ALICE.partition(":")[0])
    assert doc is not None and "key" not in doc
    for c in controllers:
        assert (await c.authenticate(basic(ALICE))).namespace == "alice"
        assert (await c.authenticate(basic(GUEST_KEY))).namespace == "guest"


async def test_a_revoked_default_key_stays_revoked(store: Store) -> None:
    auth = Authenticator(store)
    await auth.seed()
    await auth.revoke(GUEST_KEY.partition(":")[0])
    with pytest.raises(Unauthenticated):
        await auth.authenticate(basic(GUEST_KEY))
    restarted = Authenticator(store)
    await restarted.seed()
    with pytest.raises(Unauthenticated):
        await restarted.authenticate(basic(GUEST_KEY))
    assert (await restarted.authenticate(basic(SYSTEM_KEY))).namespace == "whisk.system"


async def test_verified_keys_skip_the_slow_hash(store: Store,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    auth = Authenticator(store)
    await auth.seed()
    calls: list[str] = []
    real = auth_module.verify_key

    def counting(key: str, stored: str) -> bool:
        calls.append(key)
        return real(key, stored)

    monkeypatch.setattr(auth_module, "verify_key", counting)
    for _ in range(5):
        await auth.authenticate(basic(GUEST_KEY))
    assert len(calls) == 1
    for _ in range(3):  # a refused key is remembered too, for a short while
        with pytest.raises(Unauthenticated):
            await auth.authenticate(basic(GUEST_KEY + "x"))
    assert len(calls) == 2
    # A change elsewhere (here: a peer's invalidation) is seen at the next request.
    other = Authenticator(store)
    await other.revoke(GUEST_KEY.partition(":")[0])
    auth.forget(GUEST_KEY.partition(":")[0])
    with pytest.raises(Unauthenticated):
        await auth.authenticate(basic(GUEST_KEY))


async def test_admin_is_a_key_of_whisk_system(store: Store) -> None:
    auth = Authenticator(store)
    await auth.seed()
    assert (await auth.authenticate_admin(basic(SYSTEM_KEY))).namespace == "whisk.system"
    with pytest.raises(Forbidden):
        await auth.authenticate_admin(basic(GUEST_KEY))
    # Web actions' keys of whisk.system are not administrators' keys.
    web = await auth.by_namespace("whisk.system")
    assert web is not None and web.key
    assert (await auth.authenticate(basic(web.api_key))).namespace == "whisk.system"
    with pytest.raises(Forbidden):
        await auth.authenticate_admin(basic(web.api_key))


async def test_all_docs_pages_through_every_document(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pwsk.store import couchdb

    monkeypatch.setattr(couchdb, "ALL_DOCS_PAGE", 3)  # several pages on the CouchDB store
    ids = [f"doc{i}" for i in range(8)] + ["_under", "~tilde", "namespace/x"]
    for doc_id in ids:
        await store.put(SUBJECTS, {"_id": doc_id, "n": doc_id})
    docs = await store.all_docs(SUBJECTS)
    assert sorted(d["_id"] for d in docs) == sorted(ids)
    assert all(d["n"] == d["_id"] and d["_rev"] for d in docs)
    assert await store.all_docs("whisks") == []
