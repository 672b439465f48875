"""The admin API for namespace limits (``/admin/namespaces/{ns}/limits``), on both deployments.

A limit set through one controller must hold on every controller: each one is asked, as the
namespace's own key, for the limits it applies (``GET /api/v1/namespaces/_/limits``) until it
answers the new value, within ``PROPAGATION_S``. The rate throttles count per controller
(fixed calendar minutes), so the invokes that check a rate go to one controller directly.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.api.helpers import NS, put_action
from tests.keys.conftest import as_key, controller_urls, create
from tests.servers import GUEST, Server

# The bus brings the change to the other controllers within milliseconds; without it they
# would only notice when their cached identity expires (10 s), after this bound.
PROPAGATION_S = 5.0


def limits_url(ns: str) -> str:
    return f"/admin/namespaces/{ns}/limits"


def wait_applied(server: Server, api_key: str, field: str, expected: Any) -> list[Any]:
    """Each controller's value of ``field`` for the key's namespace, once all show
    ``expected`` or ``PROPAGATION_S`` passed."""
    deadline = time.monotonic() + PROPAGATION_S
    while True:
        seen = []
        for url in controller_urls(server):
            with as_key(url, api_key) as client:
                r = client.get(f"{NS}/limits")
                assert r.status_code == 200, r.text
                seen.append(r.json()[field])
        if set(seen) == {expected} or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def fresh_minute(margin_s: float = 10.0) -> None:
    """Wait for the next calendar minute when fewer than ``margin_s`` seconds are left of
    this one: a rate check must not straddle the throttle's window."""
    left = 60 - time.time() % 60
    if left < margin_s:
        time.sleep(left + 0.5)


def test_a_set_rate_is_enforced_everywhere_and_delete_restores_defaults(
        server: Server, admin: httpx.Client, subject: str) -> None:
    key = create(admin, subject)["key"]
    with as_key(server.url, key) as user:
        put_action(user, "noop", "def main(a):\n    return a\n")
    r = admin.put(limits_url(subject), json={"invocationsPerMinute": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["limits"] == {"invocationsPerMinute": 2}
    assert body["effective"]["invocationsPerMinute"] == 2
    assert "invocationsPerMinute" not in body["defaults"]
    assert wait_applied(server, key, "invocationsPerMinute", 2) == \
        [2] * len(controller_urls(server))

    fresh_minute()
    one = controller_urls(server)[-1]  # a controller itself on the distributed stack
    with as_key(one, key) as user:
        codes = [user.post(f"{NS}/actions/noop").status_code for _ in range(3)]
        assert codes == [202, 202, 429], codes
        refused = user.post(f"{NS}/actions/noop")
        assert refused.status_code == 429 and "error" in refused.json()

    r = admin.delete(limits_url(subject))
    assert r.status_code == 200, r.text
    assert r.json()["limits"] == {} and "invocationsPerMinute" in r.json()["defaults"]
    default = admin.get(limits_url(subject)).json()["effective"]["invocationsPerMinute"]
    assert default > 4
    assert wait_applied(server, key, "invocationsPerMinute", default) == \
        [default] * len(controller_urls(server))
    with as_key(one, key) as user:
        assert user.post(f"{NS}/actions/noop").status_code == 202
    assert admin.delete(limits_url(subject)).status_code == 404


def test_concurrency_and_fire_limits_are_enforced(server: Server, admin: httpx.Client,
                                                  subject: str) -> None:
    key = create(admin, subject)["key"]
    with as_key(server.url, key) as user:
        put_action(user, "noop", "def main(a):\n    return a\n")
        assert user.put(f"{NS}/triggers/tick", json={}).status_code == 200
        rule = {"trigger": f"/{subject}/tick", "action": f"/{subject}/noop"}
        r = user.put(f"{NS}/rules/on-tick", json=rule)
        assert r.status_code == 200, r.text  # a trigger without an active rule is not fired
    r = admin.put(limits_url(subject), json={"concurrentInvocations": 0, "firesPerMinute": 1})
    assert r.status_code == 200, r.text
    assert wait_applied(server, key, "firesPerMinute", 1) == [1] * len(controller_urls(server))
    one = controller_urls(server)[-1]
    fresh_minute()
    with as_key(one, key) as user:
        r = user.post(f"{NS}/actions/noop")
        assert r.status_code == 429 and "concurrent" in r.json()["error"].lower(), r.text
        first = user.post(f"{NS}/triggers/tick")
        assert first.status_code == 202, first.text
        assert user.post(f"{NS}/triggers/tick").status_code == 429


def test_get_without_limits_shows_the_defaults_marked(admin: httpx.Client,
                                                      subject: str) -> None:
    r = admin.get(limits_url(subject))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["namespace"] == subject and body["limits"] == {}
    assert body["defaults"] == sorted(body["effective"])
    assert set(body["effective"]) == {"invocationsPerMinute", "firesPerMinute",
                                      "concurrentInvocations", "storeActivations"}
    assert admin.delete(limits_url(subject)).status_code == 404


def test_put_merges_and_null_removes_a_field(admin: httpx.Client, subject: str) -> None:
    assert admin.put(limits_url(subject), json={"invocationsPerMinute": 7}).status_code == 200
    r = admin.put(limits_url(subject), json={"firesPerMinute": 3, "storeActivations": False})
    assert r.json()["limits"] == {"invocationsPerMinute": 7, "firesPerMinute": 3,
                                  "storeActivations": False}
    r = admin.put(limits_url(subject), json={"invocationsPerMinute": None})
    assert r.status_code == 200
    assert admin.get(limits_url(subject)).json()["limits"] == {"firesPerMinute": 3,
                                                              "storeActivations": False}
    assert admin.delete(limits_url(subject)).status_code == 200


@pytest.mark.parametrize("body", [
    {"invocationsPerMinute": -1},
    {"invocationsPerMinute": "2"},
    {"invocationsPerMinute": 1.5},
    {"invocationsPerMinute": True},
    {"concurrentInvocations": 10**9},
    {"firesPerMinute": 10**12},
    {"storeActivations": "no"},
    {"memory": 256},
    {},
    [1, 2],
    "x",
])
def test_bad_limits_are_a_400_and_change_nothing(admin: httpx.Client, subject: str,
                                                 body: Any) -> None:
    r = admin.put(limits_url(subject), json=body)
    assert r.status_code == 400, r.text
    assert set(r.json()) >= {"error", "code"}
    assert admin.get(limits_url(subject)).json()["limits"] == {}


def test_bad_namespace_and_bad_json_are_a_400(admin: httpx.Client) -> None:
    for bad in ("-dash", "star*", "x" * 300):
        r = admin.put(limits_url(bad), json={"invocationsPerMinute": 1})
        assert r.status_code == 400 and "code" in r.json(), (bad, r.text)
        assert admin.get(limits_url(bad)).status_code == 400
    r = admin.put(limits_url("fine"), content=b"{not json",
                  headers={"content-type": "application/json"})
    assert r.status_code == 400 and "code" in r.json()


def test_only_administrators(server: Server, subject: str) -> None:
    with server.client(GUEST) as guest:
        for method in ("GET", "PUT", "DELETE"):
            r = guest.request(method, limits_url("guest"), json={"invocationsPerMinute": 1})
            assert r.status_code == 403, (method, r.text)
        assert guest.get(f"{NS}/limits").json()["invocationsPerMinute"] > 1
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        assert anonymous.get(limits_url(subject)).status_code == 401


def test_store_activations_false_keeps_records_out_of_the_store(
        server: Server, admin: httpx.Client, subject: str) -> None:
    key = create(admin, subject)["key"]
    with as_key(server.url, key) as user:
        put_action(user, "echo", "def main(a):\n    return a\n")
        assert admin.put(limits_url(subject), json={"storeActivations": False}).status_code == 200
        assert wait_applied(server, key, "storeActivations", False) == \
            [False] * len(controller_urls(server))
        hidden = user.post(f"{NS}/actions/echo", params={"blocking": "true"}, json={"n": 1})
        assert hidden.status_code == 200 and hidden.json()["response"]["result"] == {"n": 1}
        assert admin.delete(limits_url(subject)).status_code == 200
        assert wait_applied(server, key, "storeActivations", True) == \
            [True] * len(controller_urls(server))
        shown = user.post(f"{NS}/actions/echo", params={"blocking": "true"}, json={"n": 2})
        assert shown.status_code == 200, shown.text
        deadline = time.monotonic() + 30
        while True:
            listed = user.get(f"{NS}/activations", params={"name": "echo"}).json()
            ids = {a["activationId"] for a in listed}
            if shown.json()["activationId"] in ids or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert ids == {shown.json()["activationId"]}, (hidden.json()["activationId"], ids)
