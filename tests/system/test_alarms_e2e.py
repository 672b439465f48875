"""The alarms feed end to end on a real ``pwsk standalone``, driven over plain REST the way
``wsk trigger create --feed`` drives it: a trigger with a ``feed`` annotation, then the feed
action invoked blocking with a lifecycle event."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import GUEST, SYSTEM, Server, start_server

NS = "/api/v1/namespaces/_"
SYSTEM_NS = "/api/v1/namespaces/whisk.system"
ECHO = "def main(args):\n    return args\n"


def feed(api: httpx.Client, event: str, trigger: str, action: str = "alarm",
         auth_key: str = GUEST, namespace: str = "guest", **params: Any) -> httpx.Response:
    body = {"lifecycleEvent": event, "triggerName": f"/{namespace}/{trigger}",
            "authKey": auth_key, **params}
    return api.post(f"{SYSTEM_NS}/actions/alarms/{action}", params={"blocking": "true"},
                    json=body)


def result(r: httpx.Response) -> Any:
    return r.json()["response"]["result"]


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s")


def count(api: httpx.Client, name: str) -> int:
    r = api.get(f"{NS}/activations", params={"name": name, "count": "true"})
    return int(r.json()["activations"])


def wire(api: httpx.Client, name: str, feed_name: str = "/whisk.system/alarms/alarm") -> None:
    """Trigger ``name`` (feed annotation, as the CLI sets it) → rule → echo action."""
    assert api.put(f"{NS}/actions/{name}-echo", json={
        "exec": {"kind": "python:3.11", "code": ECHO}}).status_code == 200
    assert api.put(f"{NS}/triggers/{name}", json={
        "annotations": [{"key": "feed", "value": feed_name}]}).status_code == 200
    assert api.put(f"{NS}/rules/{name}-rule", json={
        "trigger": f"/_/{name}", "action": f"/_/{name}-echo"}).status_code == 200


def test_a_seconds_cron_fires_the_trigger_until_the_feed_is_deleted(api: httpx.Client,
                                                                    name: str) -> None:
    wire(api, name)
    r = feed(api, "CREATE", name, cron="* * * * * *", trigger_payload={"from": name})
    assert r.status_code == 200, r.text
    assert result(r) == {"status": "success"}

    # the rule's action runs with the alarm's payload
    wait_for(lambda: count(api, f"{name}-echo") >= 2)
    first = api.get(f"{NS}/activations", params={"name": f"{name}-echo", "docs": "true"}).json()
    assert first[0]["response"]["result"]["from"] == name
    assert count(api, name) >= 2  # the trigger activations

    state = result(feed(api, "READ", name))
    assert state["config"] == {"name": name, "namespace": "guest", "cron": "* * * * * *",
                               "maxTriggers": -1, "payload": {"from": name}}
    assert state["status"]["active"] is True and state["status"]["triggersFired"] >= 2

    r = feed(api, "DELETE", name)
    assert r.status_code == 200 and result(r) == {"status": "success"}
    time.sleep(1.5)  # a fire already in flight may still land
    settled = count(api, name)
    time.sleep(2.5)
    assert count(api, name) == settled
    assert feed(api, "READ", name).status_code == 502
    assert api.delete(f"{NS}/triggers/{name}").status_code == 200


def test_a_bad_schedule_fails_the_feed_with_the_reason(api: httpx.Client, name: str) -> None:
    wire(api, name)
    r = feed(api, "CREATE", name, cron="* * * 13 *")
    assert r.status_code == 502
    assert "month value 13 is out of range 1-12" in result(r)["error"]
    r = feed(api, "CREATE", name, action="once", date="2001-01-01T00:00:00Z")
    assert r.status_code == 502
    assert result(r)["error"] == "date parameter '2001-01-01T00:00:00Z' must be in the future"
    assert feed(api, "READ", name).status_code == 502  # nothing was scheduled


def test_no_alarm_for_another_namespace_trigger(api: httpx.Client, server: Server,
                                                name: str) -> None:
    with server.client(SYSTEM) as system:
        assert system.put(f"{SYSTEM_NS}/triggers/{name}", json={}).status_code == 200
        try:
            # guest invokes the shared feed with its own key for whisk.system's trigger
            r = feed(api, "CREATE", name, namespace="whisk.system", cron="* * * * *")
            assert r.status_code == 502
            assert result(r)["error"] == "Trigger authentication request failed."
            # a made-up key for it is refused too
            r = feed(api, "CREATE", name, namespace="whisk.system", cron="* * * * *",
                     auth_key=SYSTEM.split(":")[0] + ":wrong")
            assert r.status_code == 502
            assert result(r)["error"] == "Trigger authentication request failed."
            assert feed(system, "READ", name, namespace="whisk.system",
                        auth_key=SYSTEM).status_code == 502  # no alarm exists
        finally:
            system.delete(f"{SYSTEM_NS}/triggers/{name}")


def test_callers_cannot_redirect_the_feed_to_another_provider(api: httpx.Client,
                                                              name: str) -> None:
    wire(api, name)
    r = feed(api, "CREATE", name, cron="* * * * *", package_endpoint="http://evil.example")
    assert r.status_code == 400
    assert "not allowed" in r.json()["error"]


def test_interval_and_once_feeds_pause_and_update(api: httpx.Client, name: str) -> None:
    wire(api, name, "/whisk.system/alarms/interval")
    r = feed(api, "CREATE", name, action="interval", minutes=10, trigger_payload="hi")
    assert r.status_code == 200, r.text
    state = result(feed(api, "READ", name, action="interval"))
    assert state["config"]["minutes"] == 10 and state["config"]["payload"] == {"payload": "hi"}
    paused = result(feed(api, "PAUSE", name, action="interval"))
    assert paused["active"] is False
    unpaused = result(feed(api, "UNPAUSE", name, action="interval"))
    assert unpaused["active"] is True and "nextFire" in unpaused
    updated = result(feed(api, "UPDATE", name, action="interval", minutes=20))
    assert updated["active"] is True
    assert result(feed(api, "READ", name, action="interval"))["config"]["minutes"] == 20
    assert feed(api, "DELETE", name, action="interval").status_code == 200

    once = f"{name}-once"
    wire(api, once, "/whisk.system/alarms/once")
    r = feed(api, "CREATE", once, action="once", date="2099-01-01T00:00:00Z",
             deleteAfterFire="true")
    assert r.status_code == 200, r.text
    assert result(feed(api, "READ", once, action="once"))["config"] == {
        "name": once, "namespace": "guest", "date": "2099-01-01T00:00:00.000Z",
        "deleteAfterFire": "true", "payload": {}}
    assert feed(api, "DELETE", once, action="once").status_code == 200


def test_the_provider_endpoint_wants_the_trigger_owner_key(api: httpx.Client) -> None:
    endpoint = next(p["value"] for p in api.get(f"{SYSTEM_NS}/packages/alarms").json()
                    ["parameters"] if p["key"] == "package_endpoint")
    # Loopback in standalone; the host's Docker bridge address in the distributed stack.
    assert endpoint.startswith(("http://127.0.0.1:", "http://172."))
    assert httpx.get(f"{endpoint}/health").json()["status"] == "up"
    body = {"lifecycleEvent": "CREATE", "triggerName": "/guest/x", "cron": "* * * * *"}
    assert httpx.post(f"{endpoint}/alarms", json=body).status_code == 401
    r = httpx.post(f"{endpoint}/alarms", json={**body, "triggerName": "/whisk.system/x"},
                   auth=tuple(GUEST.split(":", 1)))  # type: ignore[arg-type]
    assert r.status_code == 403


@pytest.mark.slow
def test_packages_and_alarms_survive_a_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    try:
        with first.client() as api:
            wire(api, "kept")
            assert feed(api, "CREATE", "kept", cron="* * * * * *").status_code == 200
            wait_for(lambda: count(api, "kept") >= 1)
            before = {name: api.get(f"{SYSTEM_NS}/{path}").json() for name, path in (
                ("utils", "packages/utils"), ("echo", "actions/utils/echo"),
                ("alarms", "packages/alarms"), ("alarm", "actions/alarms/alarm"))}
    finally:
        assert first.stop() == 0, first.log()
    second = start_server(tmp_path)
    try:
        with second.client() as api:
            for name, path in (("utils", "packages/utils"), ("echo", "actions/utils/echo"),
                               ("alarms", "packages/alarms"), ("alarm", "actions/alarms/alarm")):
                now = api.get(f"{SYSTEM_NS}/{path}").json()
                if name == "alarms" and now["parameters"] != before[name]["parameters"]:
                    # the provider's old port was taken: a real change, one version up
                    assert now["version"] == "0.0.2"
                    continue
                # unchanged code: no new version, not even a write
                assert (now["version"], now["updated"]) == (
                    before[name]["version"], before[name]["updated"]), name
            fired = count(api, "kept")
            wait_for(lambda: count(api, "kept") > fired)
            assert result(feed(api, "READ", "kept"))["status"]["active"] is True
            assert feed(api, "DELETE", "kept").status_code == 200
    finally:
        assert second.stop() == 0, second.log()
    assert "Traceback" not in second.log()
