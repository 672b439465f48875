"""The alarms provider: fires users' triggers on a schedule (openwhisk-package-alarms).

**Design.** OpenWhisk's alarms package is three parts: feed actions users invoke, a store of
alarm documents, and a provider service that keeps every alarm's timer and fires the trigger
with its owner's key. pwsk keeps the three and the way they talk:

* The feed actions (``feeds/alarm.py``, in the shared package ``/whisk.system/alarms``) run
  in an ordinary runtime process and forward the lifecycle event to the provider's own small
  HTTP endpoint (``endpoint.py``, on loopback, its address bound into the package as the
  ``package_endpoint`` parameter, as the upstream feed once had it). Nothing is added to the
  controller's API, and the action needs no privileged key.
* The provider trusts nobody: every event carries the caller's ``authKey`` (basic auth), and
  before it touches an alarm the provider GETs the trigger through the REST API with that
  key. Only the trigger's owner gets a 200, so a key can schedule, read, change or delete
  alarms for its own namespace's triggers only (DELETE also accepts a 404: the owner may have
  deleted the trigger first).
* Alarm documents live in the whisks database as ``{_id: "alarm:<ns>/<trigger>",
  entityType: "alarm", namespace: "whisk.system/alarms", ...}``. ``:`` cannot occur in an
  entity name, so no entity id collides with them, and entity lists and lookups filter on
  the entity type, so they never surface through the API. The provider loads them at start:
  alarms survive restarts (fires missed while pwsk was down are skipped, not replayed).

The alternatives were worse: storing the configuration in entities the feed action PUTs
through the API needs either the whisk.system key inside the action or entities in the
user's namespace that the provider would have to poll for across all namespaces, and a route
on the controller would add a non-OpenWhisk path to its API.

**Firing.** One task sleeps until the earliest due alarm (or until an event changes the
schedule), then POSTs ``trigger_payload`` to ``/api/v1/namespaces/{ns}/triggers/{name}`` with
the stored key. Timeouts, 429 and 5xx are retried a few times; any other 4xx (the trigger was
deleted, the key revoked) disables the alarm with a reason, as upstream does. ``once``
alarms, ``maxTriggers`` and ``stopDate`` disable (or delete) the alarm after the last fire.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote

import httpx

from pwsk import log
from pwsk.errors import BadRequest, Conflict, NotFound, PwskError, ServiceUnavailable
from pwsk.names import parse_fqn
from pwsk.store import WHISKS, EntityQuery, Json, Store

from . import schedule
from .schedule import AlarmConfig, InvalidAlarm, iso

logger = log.get("pwsk.system.alarms")

ENTITY_TYPE = "alarm"
DOC_PATH = "whisk.system/alarms"
EVENTS = ("CREATE", "READ", "UPDATE", "DELETE", "PAUSE", "UNPAUSE")
RETRY_ATTEMPTS = 3
RETRY_DELAY_S = 1.0
MAX_CONCURRENT_FIRES = 32
# Re-read the wall clock at least this often, so a clock step never delays fires for long.
MAX_SLEEP_S = 30.0
_PAGE = 500


class TriggerAuthFailed(PwskError):
    """The key does not own the trigger; ``status`` is what the controller answered."""

    def __init__(self, status: int) -> None:
        super().__init__("Trigger authentication request failed.")
        self.status = status


def doc_id(namespace: str, name: str) -> str:
    return f"alarm:{namespace}/{name}"


@dataclass(slots=True)
class Alarm:
    namespace: str
    name: str
    auth_key: str
    config: AlarmConfig
    active: bool = True
    date_changed: int = 0
    reason: Json | None = None
    fired: int = 0  # successful fires, plus the ones in flight
    last_fired: int | None = None
    rev: str | None = None
    next_due: int | None = None  # epoch ms; runtime only

    @property
    def trigger(self) -> str:
        return f"/{self.namespace}/{self.name}"

    @property
    def doc_id(self) -> str:
        return doc_id(self.namespace, self.name)

    @property
    def exhausted(self) -> bool:
        limit = self.config.max_triggers
        return limit != -1 and self.fired >= limit

    def status(self) -> Json:
        out: Json = {"active": self.active, "dateChanged": self.date_changed,
                     "dateChangedISO": iso(self.date_changed), "triggersFired": self.fired}
        if self.reason:
            out["reason"] = self.reason
        if self.next_due is not None:
            out["nextFire"] = iso(self.next_due)
        return out

    def to_doc(self) -> Json:
        doc: Json = {
            "_id": self.doc_id, "entityType": ENTITY_TYPE, "namespace": DOC_PATH,
            "name": f"{self.namespace}/{self.name}", "updated": self.date_changed,
            "trigger": {"namespace": self.namespace, "name": self.name},
            "authKey": self.auth_key, "config": self.config.to_json(),
            "status": {"active": self.active, "dateChanged": self.date_changed,
                       "reason": self.reason},
            "fired": self.fired, "lastFired": self.last_fired,
        }
        if self.rev:
            doc["_rev"] = self.rev
        return doc

    @classmethod
    def from_doc(cls, doc: Json) -> Alarm:
        status = doc.get("status") or {}
        return cls(doc["trigger"]["namespace"], doc["trigger"]["name"], doc["authKey"],
                   AlarmConfig.from_json(doc["config"]), active=bool(status.get("active")),
                   date_changed=int(status.get("dateChanged") or 0),
                   reason=status.get("reason"), fired=int(doc.get("fired") or 0),
                   last_fired=doc.get("lastFired"), rev=doc.get("_rev"))


class AlarmsProvider:
    """Keeps every alarm's next fire time and fires it; ``handle`` takes lifecycle events.

    ``clock`` (epoch seconds) and ``transport`` (to the controller) are for tests, which also
    pass ``autorun=False`` to ``start`` and drive the schedule with ``tick`` and ``drain``.
    """

    def __init__(self, store: Store, api_host: str, *,
                 clock: Callable[[], float] = time.time,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.store = store
        self.api_host = api_host
        self._clock = clock
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._alarms: dict[str, Alarm] = {}
        self._wake = asyncio.Event()
        self._write = asyncio.Lock()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_FIRES)
        self._loop: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def now(self) -> int:
        return int(self._clock() * 1000)

    def alarms(self) -> list[Alarm]:
        return list(self._alarms.values())

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, *, autorun: bool = True) -> None:
        """Load the stored alarms and (``autorun``) start firing them."""
        if self._client is not None:
            return
        self._client = httpx.AsyncClient(base_url=self.api_host, transport=self._transport,
                                         timeout=30)
        await self._load()
        if autorun:
            self._loop = asyncio.create_task(self._run(), name="pwsk-alarms")

    async def stop(self) -> None:
        """Stop the timer and cancel fires in flight (a lost fire is one a crash loses)."""
        tasks = [t for t in (self._loop, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def drain(self) -> None:
        """Wait for the fires in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _load(self) -> None:
        now, skip = self.now(), 0
        while True:
            docs = await self.store.list_entities(
                EntityQuery(ENTITY_TYPE, DOC_PATH, exact_path=True, skip=skip, limit=_PAGE))
            for doc in docs:
                try:
                    alarm = Alarm.from_doc(doc)
                except (KeyError, TypeError, ValueError) as exc:
                    logger.error("unreadable alarm document", id=doc.get("_id"), error=repr(exc))
                    continue
                self._alarms[alarm.doc_id] = alarm
                self._plan(alarm, now)
                if alarm.active and alarm.next_due is None:
                    self._disable(alarm, now, "Automatically disabled: its last scheduled fire "
                                              "passed while the provider was down")
                    async with self._write:
                        await self._save(alarm)
            if len(docs) < _PAGE:
                break
            skip += _PAGE
        logger.info("alarms loaded", count=len(self._alarms))

    # --- lifecycle events from the feed actions ------------------------------------------

    async def handle(self, event: Any, trigger_name: Any, auth_key: str, params: Json) -> Json:
        """Apply one feed lifecycle event; raises ``PwskError``s meant for the caller."""
        event = str(event or "CREATE").upper()
        if event not in EVENTS:
            raise BadRequest(f"unsupported lifecycleEvent '{event}'")
        namespace, name = await self._owned(trigger_name, auth_key, event == "DELETE")
        key, now = doc_id(namespace, name), self.now()
        async with self._write:
            if event == "CREATE":
                config = _valid(lambda: schedule.create(str(params.get("type", "cron")),
                                                        params, now))
                alarm = Alarm(namespace, name, auth_key, config, date_changed=now)
                old = self._alarms.get(key)
                alarm.rev = old.rev if old else None
                self._alarms[key] = alarm
                self._plan(alarm, now)
                await self._save(alarm)
                self._wake.set()
                return {"status": "success"}
            if event == "DELETE":
                gone = self._alarms.pop(key, None)
                if gone is not None and gone.rev is not None:
                    with contextlib.suppress(NotFound):
                        await self.store.delete(WHISKS, key, gone.rev)
                return {"status": "success"}
            alarm = self._alarms.get(key) or _missing(namespace, name)
            if event == "READ":
                return {"config": {"name": name, "namespace": namespace,
                                   **alarm.config.describe()}, "status": alarm.status()}
            if event == "UPDATE":
                alarm.config = _valid(lambda: schedule.update(alarm.config, params, now))
                alarm.auth_key, alarm.fired = auth_key, 0
                alarm.active, alarm.reason = True, None
            elif event == "PAUSE":
                alarm.active = False
                alarm.reason = {"kind": "USER", "message": "Paused by the trigger's owner"}
            else:  # UNPAUSE
                alarm.active, alarm.reason = True, None
            alarm.date_changed = now
            self._plan(alarm, now)
            if alarm.active and alarm.next_due is None:
                self._disable(alarm, now, "Automatically disabled: no scheduled fire is left")
            await self._save(alarm)
            self._wake.set()
            return {"status": "success", **alarm.status()}

    async def _owned(self, trigger_name: Any, auth_key: str,
                     allow_missing: bool) -> tuple[str, str]:
        """(namespace, name) of the trigger, after the key proved it owns it."""
        if not isinstance(trigger_name, str) or not trigger_name.strip():
            raise BadRequest("no trigger name parameter was provided")
        fqn = parse_fqn(trigger_name)
        if fqn.package is not None:
            raise BadRequest(f"the trigger name '{trigger_name}' is not valid")
        uuid, _, key = auth_key.partition(":")
        namespace = fqn.namespace
        try:
            if namespace == "_":
                r = await self._http.get("/api/v1/namespaces", auth=(uuid, key))
                if r.status_code != 200:
                    raise TriggerAuthFailed(r.status_code)
                namespace = str(r.json()[0])
            r = await self._http.get(f"/api/v1/namespaces/{quote(namespace, safe='')}/triggers/"
                                     f"{quote(fqn.name, safe='')}", auth=(uuid, key))
        except httpx.HTTPError as exc:
            logger.warning("trigger check failed", trigger=trigger_name, error=repr(exc))
            raise ServiceUnavailable("Trigger authentication request failed.") from None
        if r.status_code == 200:
            found = r.json()
            return str(found["namespace"]), str(found["name"])
        if r.status_code == 404 and allow_missing:
            return namespace, fqn.name
        raise TriggerAuthFailed(r.status_code if 400 <= r.status_code < 500 else 502)

    # --- the schedule --------------------------------------------------------------------

    def tick(self, now: int) -> int | None:
        """Start every fire due at ``now``; returns when the next one is due (ms) or None."""
        upcoming: int | None = None
        for alarm in list(self._alarms.values()):
            due = alarm.next_due
            if due is not None and due <= now:
                alarm.fired += 1  # counted now so maxTriggers holds; given back on failure
                self._plan(alarm, max(due, now))  # fires missed while busy are skipped
                self._spawn(self._fire(alarm, due))
            if alarm.next_due is not None and (upcoming is None or alarm.next_due < upcoming):
                upcoming = alarm.next_due
        return upcoming

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                upcoming = self.tick(self.now())
            except Exception:
                logger.exception("alarm schedule failed")
                upcoming = self.now() + 1000
            delay = MAX_SLEEP_S if upcoming is None else \
                min(MAX_SLEEP_S, max(0.0, (upcoming - self.now()) / 1000))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _plan(self, alarm: Alarm, after: int) -> None:
        alarm.next_due = None
        if alarm.active and not alarm.exhausted:
            alarm.next_due = alarm.config.next_fire(after)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire(self, alarm: Alarm, due: int) -> None:
        try:
            async with self._slots:
                status = await self._post(alarm)
            delete_trigger = False
            async with self._write:
                if self._alarms.get(alarm.doc_id) is not alarm:
                    return  # deleted or replaced while the fire was in flight
                now = self.now()
                if status is not None and status < 400:
                    alarm.last_fired = due
                else:
                    alarm.fired -= 1
                    if status is not None and not _retryable(status):
                        self._disable(alarm, now, f"Automatically disabled after receiving a "
                                      f"{status} status code when firing the trigger", status)
                    else:
                        logger.warning("alarm fire failed", trigger=alarm.trigger, status=status)
                        if alarm.active and alarm.next_due is None:
                            self._plan(alarm, max(due, now))
                if alarm.active and alarm.next_due is None:
                    if alarm.config.kind == "once" and alarm.config.delete_after_fire != "false":
                        delete_trigger = True
                        self._alarms.pop(alarm.doc_id, None)
                        if alarm.rev is not None:
                            with contextlib.suppress(NotFound):
                                await self.store.delete(WHISKS, alarm.doc_id, alarm.rev)
                    else:
                        self._disable(alarm, now, _finished(alarm))
                if not delete_trigger:
                    await self._save(alarm)
            if delete_trigger:
                await self._delete_trigger(alarm)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("alarm fire failed", trigger=alarm.trigger)

    async def _post(self, alarm: Alarm) -> int | None:
        """Fire the trigger, retrying what may pass; the last HTTP status (None: no answer)."""
        uuid, _, key = alarm.auth_key.partition(":")
        url = (f"/api/v1/namespaces/{quote(alarm.namespace, safe='')}/triggers/"
               f"{quote(alarm.name, safe='')}")
        status: int | None = None
        for attempt in range(RETRY_ATTEMPTS + 1):
            if attempt:
                await asyncio.sleep(RETRY_DELAY_S)
            try:
                r = await self._http.post(url, json=alarm.config.payload, auth=(uuid, key))
            except httpx.HTTPError as exc:
                status = None
                logger.info("alarm fire not delivered", trigger=alarm.trigger, error=repr(exc))
                continue
            status = r.status_code
            if status < 400 or not _retryable(status):
                break
        return status

    async def _delete_trigger(self, alarm: Alarm) -> None:
        """``deleteAfterFire``: delete the trigger (``rules``: and its rules) as its owner."""
        uuid, _, key = alarm.auth_key.partition(":")
        base = f"/api/v1/namespaces/{quote(alarm.namespace, safe='')}"
        trigger = f"{base}/triggers/{quote(alarm.name, safe='')}"
        try:
            if alarm.config.delete_after_fire == "rules":
                r = await self._http.get(trigger, auth=(uuid, key))
                rules = (r.json().get("rules") or {}) if r.status_code == 200 else {}
                for rule_id in rules:
                    rule_ns, _, rule = str(rule_id).partition("/")
                    await self._http.delete(f"/api/v1/namespaces/{quote(rule_ns, safe='')}/"
                                            f"rules/{quote(rule, safe='')}", auth=(uuid, key))
            await self._http.delete(trigger, auth=(uuid, key))
        except httpx.HTTPError as exc:
            logger.warning("could not delete the trigger after its fire", trigger=alarm.trigger,
                           error=repr(exc))

    # --- helpers -------------------------------------------------------------------------

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise ServiceUnavailable("the alarms provider is not running")
        return self._client

    def _disable(self, alarm: Alarm, now: int, message: str, status: int | None = None) -> None:
        alarm.active, alarm.next_due, alarm.date_changed = False, None, now
        alarm.reason = {"kind": "AUTO", "message": message}
        if status is not None:
            alarm.reason["statusCode"] = status
        logger.info("alarm disabled", trigger=alarm.trigger, reason=message)

    async def _save(self, alarm: Alarm) -> None:
        """Store the alarm (the caller holds ``_write``); a stale revision is re-read once."""
        try:
            alarm.rev = await self.store.put(WHISKS, alarm.to_doc())
        except Conflict:
            current = await self.store.get(WHISKS, alarm.doc_id)
            alarm.rev = current["_rev"] if current else None
            alarm.rev = await self.store.put(WHISKS, alarm.to_doc())


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _finished(alarm: Alarm) -> str:
    if alarm.config.kind == "once":
        return "Automatically disabled after firing once"
    if alarm.exhausted:
        return "Automatically disabled after reaching max triggers"
    return f"Automatically disabled after firing last scheduled {alarm.config.kind} trigger"


def _valid(build: Callable[[], AlarmConfig]) -> AlarmConfig:
    try:
        return build()
    except InvalidAlarm as exc:
        raise BadRequest(str(exc)) from None


def _missing(namespace: str, name: str) -> NoReturn:
    raise NotFound(f"could not find the alarm for trigger /{namespace}/{name}")
