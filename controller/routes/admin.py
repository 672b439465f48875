"""The admin API: keys and subjects, as OpenWhisk's ``wskadmin user`` manages them.

Only administrators may call it: a key of the ``whisk.system`` namespace (others get 403).
A key's secret is returned once, when it is created; lists show uuids, never secrets.

- ``POST /admin/keys`` ``{subject, namespace?}``: a new key (the namespace defaults to the
  subject; a namespace may have many keys, of one subject or several).
- ``GET /admin/keys[?namespace=&subject=&all=true]``: the keys (``all``: revoked ones and
  web actions' keys too).
- ``GET /admin/keys/{uuid}``, ``DELETE /admin/keys/{uuid}``: one key; revoke it.
- ``POST /admin/subjects/{subject}/block`` and ``/unblock``: every key of a subject.
- ``DELETE /admin/subjects/{subject}[?namespace=]``: revoke every key of a subject.
- ``GET/PUT/DELETE /admin/namespaces/{ns}/limits``: a namespace's throttles, as
  ``wskadmin limits get|set|delete``. PUT merges the given fields into the namespace's
  ``<ns>/limits`` document (``null`` removes one): ``invocationsPerMinute``,
  ``firesPerMinute`` and ``concurrentInvocations`` are integers 0..``LIMIT_MAX[field]``,
  ``storeActivations`` a boolean; anything else is a 400. GET always answers 200:
  ``limits`` holds what was set (``{}``: none), ``effective`` what the throttles apply,
  ``defaults`` names the fields that fall back to the deployment's settings. DELETE removes
  the document (404 when there is none), so the defaults apply again. A change reaches
  every controller at once over the bus's cache invalidations, and within ``CACHE_TTL_S``
  (10 s) even if that message is lost.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from pwsk.errors import BadRequest, Conflict, NotFound
from pwsk.messages import Identity
from pwsk.names import check_name
from pwsk.settings import Settings
from pwsk.store import SUBJECTS

from ..deps import Ctl, flag, json_object

router = APIRouter(prefix="/admin", tags=["admin"])
Json = dict[str, Any]


async def get_admin(request: Request) -> Identity:
    identity = await request.app.state.controller.auth.authenticate_admin(
        request.headers.get("authorization"))
    request.state.identity = identity
    assert isinstance(identity, Identity)
    return identity


Admin = Annotated[Identity, Depends(get_admin)]


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"The request content was malformed: '{what}' must be a string.")
    return check_name(value, what)


@router.post("/keys", status_code=201, summary="Create a key (its secret is shown only here)")
async def create_key(request: Request, admin: Admin, ctl: Ctl) -> Json:
    body = await json_object(request, limit=4096)
    unknown = sorted(set(body) - {"subject", "namespace"})
    if unknown:
        raise BadRequest(f"The request content was malformed: unknown fields {unknown}.")
    subject = _name(body.get("subject"), "subject")
    namespace = _name(body.get("namespace", subject), "namespace")
    summary, api_key = await ctl.auth.create_key(subject, namespace)
    return {**summary, "key": api_key}


@router.get("/keys", summary="List keys (uuids, never secrets)")
async def list_keys(request: Request, admin: Admin, ctl: Ctl) -> list[Json]:
    q = request.query_params
    namespace = q.get("namespace") or None
    subject = q.get("subject") or None
    return await ctl.auth.keys(
        namespace=check_name(namespace, "namespace") if namespace else None,
        subject=check_name(subject, "subject") if subject else None,
        everything=flag(q.get("all"), "all"))


@router.get("/keys/{uuid}", summary="One key (never its secret)")
async def get_key(uuid: str, admin: Admin, ctl: Ctl) -> Json:
    return await ctl.auth.key(uuid)


@router.delete("/keys/{uuid}", summary="Revoke a key, on every controller")
async def revoke_key(uuid: str, admin: Admin, ctl: Ctl) -> Json:
    if uuid == admin.uuid:
        raise Conflict("The key this request authenticated with cannot revoke itself.")
    return await ctl.auth.revoke(uuid)


async def _block(subject: str, admin: Admin, ctl: Ctl, blocked: bool) -> Json:
    check_name(subject, "subject")
    if blocked and subject == admin.subject:
        raise Conflict("An administrator cannot block its own subject.")
    if not await ctl.auth.keys(subject=subject, everything=True):
        raise NotFound()
    changed = await ctl.auth.set_blocked(subject, blocked)
    return {"subject": subject, "blocked": blocked, "changed": len(changed)}


@router.post("/subjects/{subject}/block", summary="Block every key of a subject")
async def block(subject: str, admin: Admin, ctl: Ctl) -> Json:
    return await _block(subject, admin, ctl, True)


@router.post("/subjects/{subject}/unblock", summary="Unblock every key of a subject")
async def unblock(subject: str, admin: Admin, ctl: Ctl) -> Json:
    return await _block(subject, admin, ctl, False)


@router.delete("/subjects/{subject}", summary="Revoke every key of a subject")
async def delete_subject(request: Request, subject: str, admin: Admin, ctl: Ctl) -> Json:
    check_name(subject, "subject")
    namespace = request.query_params.get("namespace") or None
    if namespace:
        check_name(namespace, "namespace")
    keys = await ctl.auth.keys(subject=subject, namespace=namespace, everything=True)
    live = [k for k in keys if not k.get("revoked")]
    if not live:
        raise NotFound()
    if any(k["uuid"] == admin.uuid for k in live):
        raise Conflict("The key this request authenticated with cannot revoke itself.")
    revoked = [(await ctl.auth.revoke(k["uuid"]))["uuid"] for k in live]
    return {"subject": subject, "revoked": revoked}


# --- namespace limits ------------------------------------------------------------------

# Far above anything a deployment of this size serves, low enough to be a typo's bound.
LIMIT_MAX = {"invocationsPerMinute": 10_000_000, "firesPerMinute": 10_000_000,
             "concurrentInvocations": 1_000_000}
LIMIT_FLAGS = ("storeActivations",)


def _limits_id(ns: str) -> str:
    return f"{check_name(ns, 'namespace')}/limits"


def _check_limits(body: Json) -> Json:
    unknown = sorted(set(body) - set(LIMIT_MAX) - set(LIMIT_FLAGS))
    if unknown:
        raise BadRequest(f"The request content was malformed: unknown fields {unknown}; "
                         f"known: {sorted([*LIMIT_MAX, *LIMIT_FLAGS])}.")
    if not body:
        raise BadRequest("The request content was malformed: no limit given.")
    for name, value in body.items():
        if value is None:
            continue
        if name in LIMIT_FLAGS:
            if not isinstance(value, bool):
                raise BadRequest(f"The request content was malformed: '{name}' must be "
                                 "true or false.")
        elif isinstance(value, bool) or not isinstance(value, int) \
                or not 0 <= value <= LIMIT_MAX[name]:
            raise BadRequest(f"The request content was malformed: '{name}' must be an "
                             f"integer from 0 to {LIMIT_MAX[name]}.")
    return body


def _view(ns: str, doc: Json | None, s: Settings) -> Json:
    defaults: Json = {"invocationsPerMinute": s.invocations_per_minute,
                      "firesPerMinute": s.fires_per_minute,
                      "concurrentInvocations": s.concurrent_invocations,
                      "storeActivations": True}
    stored = {k: v for k, v in (doc or {}).items() if not k.startswith("_")}
    return {"namespace": ns, "limits": stored,
            "effective": {k: stored.get(k, v) for k, v in defaults.items()},
            "defaults": sorted(k for k in defaults if k not in stored)}


@router.get("/namespaces/{ns}/limits", summary="A namespace's limits: set and effective")
async def get_limits(ns: str, admin: Admin, ctl: Ctl) -> Json:
    return _view(ns, await ctl.auth.store.get(SUBJECTS, _limits_id(ns)), ctl.settings)


@router.put("/namespaces/{ns}/limits", summary="Set a namespace's limits (merged)")
async def set_limits(request: Request, ns: str, admin: Admin, ctl: Ctl) -> Json:
    doc_id = _limits_id(ns)
    body = _check_limits(await json_object(request, limit=4096))
    for _ in range(10):
        current = await ctl.auth.store.get(SUBJECTS, doc_id)
        doc = {**(current or {"_id": doc_id}), **body}
        doc = {k: v for k, v in doc.items() if v is not None}
        try:
            await ctl.auth.store.put(SUBJECTS, doc)
        except Conflict:
            continue  # another administrator wrote it meanwhile: merge into theirs
        await ctl.auth.changed(doc_id)
        return _view(ns, doc, ctl.settings)
    raise Conflict()


@router.delete("/namespaces/{ns}/limits", summary="Remove a namespace's limits (defaults)")
async def delete_limits(ns: str, admin: Admin, ctl: Ctl) -> Json:
    doc_id = _limits_id(ns)
    for _ in range(10):
        current = await ctl.auth.store.get(SUBJECTS, doc_id)
        if current is None:
            raise NotFound()
        try:
            await ctl.auth.store.delete(SUBJECTS, doc_id, str(current["_rev"]))
        except (Conflict, NotFound):
            continue
        await ctl.auth.changed(doc_id)
        return _view(ns, None, ctl.settings)
    raise Conflict()
