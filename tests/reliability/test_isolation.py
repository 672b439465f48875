"""Tenant isolation: a second namespace with its own key (made through the admin API) can
touch nothing of the first except what the first shares (a published package); activation
records, web actions' authentication, warm containers and realtime channels all stay per
namespace.

Runs on the shared ``server``, so it runs on either deployment.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.reliability.conftest import FIGURES
from tests.servers import Server

TOKEN_ACTION = ("import os, uuid\nTOKEN = uuid.uuid4().hex\n"
                "def main(args):\n    return {'token': TOKEN, 'user': args.get('__ow_user')}\n")


@dataclass
class Tenant:
    namespace: str
    client: httpx.Client

    def url(self, collection: str, name: str = "", ns: str | None = None) -> str:
        path = f"/api/v1/namespaces/{ns or self.namespace}/{collection}"
        return f"{path}/{name}" if name else path


@pytest.fixture(scope="module")
def tenants(server: Server) -> Iterator[tuple[Tenant, Tenant]]:
    """The guest namespace (A) and a namespace of its own (B), each with a client."""
    suffix = secrets.token_hex(3)
    with server.client(server.system_auth) as admin:
        r = admin.post("/admin/keys", json={"subject": f"mallory{suffix}",
                                            "namespace": f"tenantb{suffix}"})
        assert r.status_code == 201, r.text
        key = r.json()["key"]
    with server.client() as a, server.client(key) as b:
        ns_a = a.get("/api/v1/namespaces").json()[0]
        assert b.get("/api/v1/namespaces").json() == [f"tenantb{suffix}"]
        yield Tenant(ns_a, a), Tenant(f"tenantb{suffix}", b)


@pytest.fixture(scope="module")
def estate(tenants: tuple[Tenant, Tenant]) -> dict[str, str]:
    """What A owns: a private action, trigger, rule and package, and a shared package."""
    a, _ = tenants
    n = f"iso{secrets.token_hex(3)}"
    names = {"action": f"{n}-act", "trigger": f"{n}-trg", "rule": f"{n}-rule",
             "private": f"{n}-priv", "shared": f"{n}-pub"}
    code = {"exec": {"kind": "python:3.11", "code": TOKEN_ACTION}}
    for path, body in [
        (a.url("actions", names["action"]), code),
        (a.url("triggers", names["trigger"]), {}),
        (a.url("rules", names["rule"]), {"trigger": f"/_/{names['trigger']}",
                                         "action": f"/_/{names['action']}"}),
        (a.url("packages", names["private"]), {}),
        (a.url("packages", names["shared"]), {"publish": True}),
        (a.url("actions", f"{names['private']}/inner"), code),
        (a.url("actions", f"{names['shared']}/inner"), code),
    ]:
        r = a.client.put(path, json=body)
        assert r.status_code == 200, (path, r.text)
    return names


def _refused(response: httpx.Response) -> None:
    FIGURES["cross-namespace requests refused"] += 1
    assert response.status_code == 403, f"{response.request.method} {response.request.url}: "\
        f"{response.status_code} {response.text[:200]}"
    body = response.json()
    assert body["error"] and body["code"]


def test_b_cannot_read_list_or_delete_what_a_owns(tenants: tuple[Tenant, Tenant],
                                                  estate: dict[str, str]) -> None:
    a, b = tenants
    private = [("actions", estate["action"]), ("triggers", estate["trigger"]),
               ("rules", estate["rule"]), ("packages", estate["private"]),
               ("actions", f"{estate['private']}/inner")]
    for collection, name in private:
        _refused(b.client.get(b.url(collection, name, ns=a.namespace)))
        _refused(b.client.delete(b.url(collection, name, ns=a.namespace)))
        _refused(b.client.put(b.url(collection, name, ns=a.namespace) + "?overwrite=true",
                              json={}))
        assert a.client.get(a.url(collection, name)).status_code == 200  # still there
    for collection in ("actions", "triggers", "rules", "activations"):
        _refused(b.client.get(b.url(collection, ns=a.namespace)))
    # Listing another namespace's packages shows its shared ones only (as OpenWhisk does).
    listed = b.client.get(b.url("packages", ns=a.namespace), params={"limit": 200}).json()
    assert all(p["publish"] for p in listed)
    assert estate["shared"] in {p["name"] for p in listed}
    # ... except the shared package, readable by anyone, and not writable.
    assert b.client.get(b.url("packages", estate["shared"], ns=a.namespace)).status_code == 200
    _refused(b.client.delete(b.url("packages", estate["shared"], ns=a.namespace)))


def test_b_cannot_invoke_fire_or_hook_a_rule_to_what_a_owns(tenants: tuple[Tenant, Tenant],
                                                            estate: dict[str, str]) -> None:
    a, b = tenants
    _refused(b.client.post(b.url("actions", estate["action"], ns=a.namespace)
                           + "?blocking=true", json={}))
    _refused(b.client.post(b.url("actions", f"{estate['private']}/inner", ns=a.namespace)
                           + "?blocking=true", json={}))
    _refused(b.client.post(b.url("triggers", estate["trigger"], ns=a.namespace), json={}))
    _refused(b.client.post(b.url("rules", estate["rule"], ns=a.namespace),
                           json={"status": "inactive"}))
    # A rule of B's own may not take A's trigger, nor A's private action.
    assert b.client.put(b.url("triggers", "own"), json={}).status_code == 200
    for body in ({"trigger": f"/{a.namespace}/{estate['trigger']}", "action": "/_/x"},
                 {"trigger": "/_/own", "action": f"/{a.namespace}/{estate['action']}"}):
        r = b.client.put(b.url("rules", f"r{secrets.token_hex(2)}"), json=body)
        FIGURES["cross-namespace requests refused"] += 1
        assert r.status_code in (400, 403, 404), r.text
    # Binding: A's private package refused, A's shared one allowed.
    _refused(b.client.put(b.url("packages", "bound-priv"), json={
        "binding": {"namespace": a.namespace, "name": estate["private"]}}))
    r = b.client.put(b.url("packages", "bound-pub"), json={
        "binding": {"namespace": a.namespace, "name": estate["shared"]}})
    assert r.status_code == 200, r.text


def _token(tenant: Tenant, path: str) -> dict[str, Any]:
    r = tenant.client.post(f"/api/v1/namespaces/{path}", params={"blocking": "true",
                                                                  "result": "true"}, json={})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def test_shared_actions_run_in_containers_of_the_callers_own(tenants: tuple[Tenant, Tenant],
                                                            estate: dict[str, str]) -> None:
    """Each container loads the code once and draws a token: the same token means the same
    container. A's calls reuse one; B's (directly or through its binding) never get it."""
    a, b = tenants
    shared = f"{a.namespace}/actions/{estate['shared']}/inner"
    a_tokens = {_token(a, shared)["token"] for _ in range(3)}
    b_tokens = {_token(b, shared)["token"] for _ in range(2)}
    b_tokens |= {_token(b, f"{b.namespace}/actions/bound-pub/inner")["token"]}
    a_tokens |= {_token(a, shared)["token"]}
    assert len(a_tokens) <= 2  # warm reuse happens (so the check below can fail)
    assert not a_tokens & b_tokens


def test_activation_records_belong_to_the_namespace_that_invoked(
        tenants: tuple[Tenant, Tenant], estate: dict[str, str]) -> None:
    a, b = tenants
    shared = f"/api/v1/namespaces/{a.namespace}/actions/{estate['shared']}/inner"
    mine = a.client.post(a.url("actions", estate["action"]) + "?blocking=true", json={}).json()
    theirs = b.client.post(shared + "?blocking=true", json={}).json()
    for owner, other, record in ((a, b, mine), (b, a, theirs)):
        aid = record["activationId"]
        assert record["namespace"] == owner.namespace
        assert owner.client.get(owner.url("activations", aid)).status_code == 200
        for suffix in ("", "/logs", "/result"):
            r = other.client.get(other.url("activations", aid) + suffix)
            FIGURES["cross-namespace requests refused"] += 1
            assert r.status_code == 404, r.text
            _refused(other.client.get(owner.url("activations", aid) + suffix))
        listed = other.client.get(other.url("activations"), params={"limit": 200}).json()
        assert aid not in {act["activationId"] for act in listed}


def test_web_actions_honour_require_whisk_auth(server: Server, tenants: tuple[Tenant, Tenant],
                                               estate: dict[str, str]) -> None:
    a, b = tenants
    name = f"{estate['action']}-web"
    for suffix, value in (("any", True), ("secret", "s3cr3t-value")):
        r = a.client.put(a.url("actions", f"{name}-{suffix}"), json={
            "exec": {"kind": "python:3.11", "code": TOKEN_ACTION},
            "annotations": [{"key": "web-export", "value": True},
                            {"key": "require-whisk-auth", "value": value}]})
        assert r.status_code == 200, r.text
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        url = f"/api/v1/web/{a.namespace}/default/{name}"
        FIGURES["cross-namespace requests refused"] += 3
        assert anonymous.get(f"{url}-any.json").status_code == 401
        assert anonymous.get(f"{url}-any.json", auth=("nobody", "wrong")).status_code == 401
        # Any valid key passes, and the action learns whose it was.
        assert b.client.get(f"{url}-any.json").json()["user"] == b.namespace
        assert a.client.get(f"{url}-any.json").json()["user"] == a.namespace
        assert anonymous.get(f"{url}-secret.json").status_code == 401
        assert anonymous.get(f"{url}-secret.json",
                             headers={"X-Require-Whisk-Auth": "guess"}).status_code == 401
        assert anonymous.get(f"{url}-secret.json", headers={
            "X-Require-Whisk-Auth": "s3cr3t-value"}).status_code == 200


def test_realtime_channels_are_per_namespace(server: Server,
                                             tenants: tuple[Tenant, Tenant]) -> None:
    """B publishing on a channel of the same name lands in B's namespace, not in A's."""
    a, b = tenants
    channel = f"iso{secrets.token_hex(3)}"
    seen: list[Any] = []
    ready = threading.Event()

    def read() -> None:
        from tests.realtime.sse import messages

        with httpx.Client(base_url=server.url, timeout=30) as reader, reader.stream(
                "GET", f"/realtime/{a.namespace}/{channel}/events") as stream:
            for message in messages(stream.iter_lines()):
                if message.event == "hello":
                    ready.set()
                elif message.event == "message" and message.data:
                    seen.append(message.json())
                    if message.json().get("last"):
                        return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert ready.wait(30)
    assert b.client.post(f"/realtime/{channel}", json={"from": "b"}).status_code == 202
    assert b.client.post(f"/realtime/{a.namespace}/{channel}",
                         json={"from": "b"}).status_code in (403, 404, 405)
    time.sleep(0.5)  # give a leak the time to show up before A's closing event
    assert a.client.post(f"/realtime/{channel}", json={"from": "a", "last": True}
                         ).status_code == 202
    thread.join(30)
    assert seen == [{"from": "a", "last": True}]
