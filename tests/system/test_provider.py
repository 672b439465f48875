"""The alarms provider on a fake clock and a scripted controller: who may schedule what,
when triggers fire, how fires fail, what survives a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pwsk.errors import BadRequest, NotFound
from pwsk.store import WHISKS, EntityQuery
from pwsk.store.sqlite import SqliteStore
from pwsk.system import alarms
from pwsk.system.alarms import AlarmsProvider, TriggerAuthFailed
from pwsk.system.endpoint import create_app
from tests.system.fake_controller import ALICE, BOB, FakeController

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()
EVERY_MINUTE = {"type": "cron", "cron": "* * * * *"}


@dataclass
class Env:
    store: SqliteStore
    ctl: FakeController
    provider: AlarmsProvider
    now: list[float]

    async def advance(self, seconds: float) -> None:
        """Move the clock and run whatever fell due, to completion."""
        self.now[0] += seconds
        self.provider.tick(self.provider.now())
        await self.provider.drain()

    async def create(self, name: str = "t", key: str = ALICE, **params: Any) -> None:
        self.ctl.add_trigger(self.ctl.keys[key], name)
        result = await self.provider.handle("CREATE", f"/{self.ctl.keys[key]}/{name}", key,
                                            {**EVERY_MINUTE, **params})
        assert result == {"status": "success"}

    async def read(self, name: str = "t") -> dict[str, Any]:
        return await self.provider.handle("READ", f"/alice/{name}", ALICE, {})

    def provider_on(self, store: SqliteStore) -> AlarmsProvider:
        return AlarmsProvider(store, "http://controller", clock=lambda: self.now[0],
                              transport=self.ctl.transport())


def run(test: Callable[[Env], Awaitable[None]], path: Path | None = None) -> None:
    async def main() -> None:
        store = SqliteStore(path)
        await store.start()
        ctl, now = FakeController(), [START]
        provider = AlarmsProvider(store, "http://controller", clock=lambda: now[0],
                                  transport=ctl.transport())
        await provider.start(autorun=False)
        try:
            await test(Env(store, ctl, provider, now))
        finally:
            await provider.stop()
            await store.stop()

    asyncio.run(main())


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alarms, "RETRY_DELAY_S", 0.0)


def test_an_alarm_fires_its_trigger_on_schedule_with_the_payload() -> None:
    async def check(env: Env) -> None:
        await env.create(trigger_payload={"x": 1})
        await env.advance(59)
        assert env.ctl.fires == []
        await env.advance(1)
        assert env.ctl.fires == [("alice", "t", {"x": 1})]
        await env.advance(60)
        assert len(env.ctl.fires) == 2
        state = await env.read()
        assert state["config"] == {"name": "t", "namespace": "alice", "cron": "* * * * *",
                                   "maxTriggers": -1, "payload": {"x": 1}}
        assert state["status"]["active"] is True
        assert state["status"]["triggersFired"] == 2
        assert state["status"]["nextFire"] == "2024-05-01T12:03:00.000Z"

    run(check)


def test_a_key_reaches_only_its_own_namespace_triggers() -> None:
    async def check(env: Env) -> None:
        env.ctl.add_trigger("bob", "t")
        env.ctl.add_trigger("alice", "t")
        handle = env.provider.handle
        with pytest.raises(TriggerAuthFailed) as err:
            await handle("CREATE", "/bob/t", ALICE, EVERY_MINUTE)
        assert err.value.status == 403
        assert err.value.message == "Trigger authentication request failed."
        with pytest.raises(TriggerAuthFailed) as err:
            await handle("CREATE", "/alice/t", "nobody:wrong", EVERY_MINUTE)
        assert err.value.status == 401
        with pytest.raises(TriggerAuthFailed) as err:
            await handle("CREATE", "/alice/missing", ALICE, EVERY_MINUTE)
        assert err.value.status == 404
        await handle("CREATE", "/bob/t", BOB, EVERY_MINUTE)
        # alice can neither read nor delete bob's alarm
        for event in ("READ", "DELETE", "PAUSE", "UPDATE"):
            with pytest.raises(TriggerAuthFailed):
                await handle(event, "/bob/t", ALICE, {"cron": "0 * * * *"})
        assert [a.trigger for a in env.provider.alarms()] == ["/bob/t"]
        # "_" and a bare name mean the key's own namespace
        await handle("CREATE", "t", ALICE, EVERY_MINUTE)
        assert sorted(a.trigger for a in env.provider.alarms()) == ["/alice/t", "/bob/t"]

    run(check)


def test_bad_events_and_parameters_are_400s() -> None:
    async def check(env: Env) -> None:
        env.ctl.add_trigger("alice", "t")
        handle = env.provider.handle
        with pytest.raises(BadRequest, match="cron pattern '61 \\* \\* \\* \\*' is not valid"):
            await handle("CREATE", "/alice/t", ALICE, {"cron": "61 * * * *"})
        with pytest.raises(BadRequest, match="unsupported lifecycleEvent 'SNOOZE'"):
            await handle("snooze", "/alice/t", ALICE, {})
        with pytest.raises(BadRequest, match="no trigger name"):
            await handle("CREATE", None, ALICE, EVERY_MINUTE)
        with pytest.raises(BadRequest, match="not valid"):
            await handle("CREATE", "/alice/pkg/t", ALICE, EVERY_MINUTE)
        with pytest.raises(NotFound, match="could not find the alarm for trigger /alice/t"):
            await handle("READ", "/alice/t", ALICE, {})
        assert env.provider.alarms() == []

    run(check)


def test_delete_removes_the_alarm_even_after_its_trigger() -> None:
    async def check(env: Env) -> None:
        await env.create()
        del env.ctl.triggers[("alice", "t")]  # the owner deleted the trigger first
        assert await env.provider.handle("DELETE", "/alice/t", ALICE, {}) == {"status": "success"}
        assert env.provider.alarms() == []
        assert await env.store.get(WHISKS, "alarm:alice/t") is None
        await env.advance(120)
        assert env.ctl.fires == []

    run(check)


def test_a_trigger_that_is_gone_disables_its_alarm() -> None:
    async def check(env: Env) -> None:
        await env.create()
        env.ctl.fire_status = [404]
        await env.advance(60)
        status = (await env.read())["status"]
        assert status["active"] is False and "nextFire" not in status
        assert status["reason"] == {"kind": "AUTO", "statusCode": 404, "message":
                                    "Automatically disabled after receiving a 404 status code "
                                    "when firing the trigger"}
        doc = await env.store.get(WHISKS, "alarm:alice/t")
        assert doc is not None and doc["status"]["active"] is False
        await env.advance(60)
        assert env.ctl.fires == []

    run(check)


def test_throttled_and_failed_fires_are_retried() -> None:
    async def check(env: Env) -> None:
        await env.create()
        env.ctl.fire_status = [429, 503]
        await env.advance(60)
        assert len(env.ctl.fires) == 1
        assert (await env.read())["status"]["triggersFired"] == 1

    run(check)


def test_a_fire_that_never_lands_is_not_counted_and_the_alarm_goes_on() -> None:
    async def check(env: Env) -> None:
        await env.create(maxTriggers=1)
        env.ctl.fire_status = [500] * (alarms.RETRY_ATTEMPTS + 1)
        await env.advance(60)
        status = (await env.read())["status"]
        assert env.ctl.fires == [] and status["triggersFired"] == 0
        assert status["active"] is True and status["nextFire"] == "2024-05-01T12:02:00.000Z"
        await env.advance(60)
        assert len(env.ctl.fires) == 1

    run(check)


def test_max_triggers_then_disabled() -> None:
    async def check(env: Env) -> None:
        await env.create(maxTriggers=2)
        for _ in range(4):
            await env.advance(60)
        assert len(env.ctl.fires) == 2
        status = (await env.read())["status"]
        assert status["active"] is False
        assert status["reason"]["message"] == "Automatically disabled after reaching max triggers"

    run(check)


def test_stop_date_ends_the_alarm_after_its_last_fire() -> None:
    async def check(env: Env) -> None:
        await env.create(stopDate=int((START + 150) * 1000))
        for _ in range(4):
            await env.advance(60)
        assert len(env.ctl.fires) == 2
        reason = (await env.read())["status"]["reason"]
        assert reason["message"] == \
            "Automatically disabled after firing last scheduled cron trigger"

    run(check)


def test_once_fires_once_then_disables_or_deletes_the_trigger() -> None:
    async def check(env: Env) -> None:
        date = int((START + 10) * 1000)
        await env.create("a", type="once", date=date)
        env.ctl.add_trigger("alice", "b", rules={"alice/r1": {"status": "active"}})
        await env.provider.handle("CREATE", "/alice/b", ALICE,
                                  {"type": "once", "date": date, "deleteAfterFire": "rules"})
        await env.advance(10)
        await env.advance(60)
        assert sorted(f[1] for f in env.ctl.fires) == ["a", "b"]
        assert (await env.read("a"))["status"]["reason"]["message"] == \
            "Automatically disabled after firing once"
        assert env.ctl.deleted == ["rule:alice/r1", "trigger:alice/b"]
        assert [a.name for a in env.provider.alarms()] == ["a"]
        assert await env.store.get(WHISKS, "alarm:alice/b") is None

    run(check)


def test_interval_alarm_every_n_minutes() -> None:
    async def check(env: Env) -> None:
        await env.create(type="interval", minutes=2)
        for _ in range(5):
            await env.advance(60)
        assert len(env.ctl.fires) == 2  # at +2 and +4 minutes

    run(check)


def test_pause_unpause_and_update() -> None:
    async def check(env: Env) -> None:
        await env.create()
        handle = env.provider.handle
        paused = await handle("PAUSE", "/alice/t", ALICE, {})
        assert paused["active"] is False and paused["reason"]["kind"] == "USER"
        await env.advance(60)
        assert env.ctl.fires == []
        assert (await handle("UNPAUSE", "/alice/t", ALICE, {}))["active"] is True
        await env.advance(60)
        assert len(env.ctl.fires) == 1
        updated = await handle("UPDATE", "/alice/t", ALICE, {"cron": "*/5 * * * *"})
        assert updated["nextFire"] == "2024-05-01T12:05:00.000Z"
        assert (await env.read())["config"]["cron"] == "*/5 * * * *"
        with pytest.raises(BadRequest, match="no updatable parameters were specified"):
            await handle("UPDATE", "/alice/t", ALICE, {"minutes": 3})

    run(check)


def test_a_delete_during_a_fire_stays_deleted() -> None:
    async def check(env: Env) -> None:
        await env.create()
        env.now[0] += 60
        env.provider.tick(env.provider.now())  # the fire is in flight...
        await env.provider.handle("DELETE", "/alice/t", ALICE, {})  # ...when this lands
        await env.provider.drain()
        assert env.provider.alarms() == []
        assert await env.store.get(WHISKS, "alarm:alice/t") is None

    run(check)


def test_alarms_survive_a_restart_and_stay_out_of_entity_lists(tmp_path: Path) -> None:
    async def check(env: Env) -> None:
        await env.create("kept", trigger_payload="p")
        await env.create("late", type="once", date=int((START + 30) * 1000))
        await env.advance(60)  # "late" fires here and is disabled
        await env.provider.stop()
        env.now[0] += 3600  # an hour down: those fires are skipped, not replayed
        again = env.provider_on(env.store)
        await again.start(autorun=False)
        try:
            loaded = {a.name: a for a in again.alarms()}
            assert loaded["kept"].active and loaded["kept"].fired == 1
            assert loaded["kept"].next_due == int((START + 3720) * 1000)
            assert not loaded["late"].active
            again.tick(again.now() + 60_000)
            await again.drain()
            assert env.ctl.fires[-1] == ("alice", "kept", {"payload": "p"})
        finally:
            await again.stop()
        for entity_type in ("action", "trigger", "rule", "package"):
            for namespace in ("alice", "whisk.system"):
                query = EntityQuery(entity_type, namespace)
                assert await env.store.count_entities(query) == 0

    run(check, tmp_path / "pwsk.db")


def test_the_endpoint_speaks_json_and_wants_a_key() -> None:
    async def check(env: Env) -> None:
        env.ctl.add_trigger("alice", "t")
        transport = httpx.ASGITransport(app=create_app(env.provider))
        async with httpx.AsyncClient(transport=transport, base_url="http://provider") as client:
            body = {"lifecycleEvent": "CREATE", "triggerName": "/alice/t", **EVERY_MINUTE}
            r = await client.post("/alarms", json=body)
            assert r.status_code == 401 and "requires authentication" in r.json()["error"]
            r = await client.post("/alarms", content=b"{", auth=("a1", "alice-key"))
            assert r.status_code == 400
            r = await client.post("/alarms", json={**body, "triggerName": "/bob/x"},
                                  auth=("a1", "alice-key"))
            assert r.status_code == 403
            assert r.json() == {"error": "Trigger authentication request failed."}
            r = await client.post("/alarms", json=body, auth=("a1", "alice-key"))
            assert r.status_code == 200 and r.json() == {"status": "success"}
            r = await client.post("/alarms", json={**body, "cron": "nope"},
                                  auth=("a1", "alice-key"))
            assert r.status_code == 400 and "cron pattern 'nope' is not valid" in r.json()["error"]
            health = (await client.get("/health")).json()
            assert health == {"status": "up", "alarms": 1, "active": 1}

    run(check)
