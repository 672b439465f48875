"""The admin API for keys (issue #10.3), on both deployments (``server`` fixture).

On the distributed stack every request below is also sent to each controller directly, so a
key that works, or stops working, does so on every controller, not just the one that
handled the admin call.
"""

from __future__ import annotations

import time

import httpx

from tests.api.helpers import NS, put_action
from tests.keys.conftest import as_key, controller_urls, create
from tests.servers import GUEST, Server

# The bus brings a revocation to the other controllers within milliseconds; without it they
# would only notice when their cached copy expires (10 s), after this bound.
PROPAGATION_S = 5.0


def status_everywhere(server: Server, api_key: str) -> list[int]:
    codes = []
    for url in controller_urls(server):
        with as_key(url, api_key) as client:
            codes.append(client.get("/api/v1/namespaces").status_code)
    return codes


def wait_for(server: Server, api_key: str, expected: int) -> list[int]:
    deadline = time.monotonic() + PROPAGATION_S
    while True:
        codes = status_everywhere(server, api_key)
        if set(codes) == {expected} or time.monotonic() > deadline:
            return codes
        time.sleep(0.05)


def test_a_created_key_works_at_once_everywhere(server: Server, admin: httpx.Client,
                                                subject: str) -> None:
    created = create(admin, subject)
    assert created["subject"] == created["namespace"] == subject
    uuid, _, secret = created["key"].partition(":")
    assert uuid == created["uuid"] and len(secret) == 64 and secret.isalnum()
    for url in controller_urls(server):
        with as_key(url, created["key"]) as client:
            r = client.get("/api/v1/namespaces")
            assert (r.status_code, r.json()) == (200, [subject])
    # It is a namespace of its own: the guest's entities are out of reach.
    with as_key(server.url, created["key"]) as client:
        assert client.get("/api/v1/namespaces/guest/actions").status_code == 403
        put = client.put(f"{NS}/actions/mine", json={"exec": {"kind": "python:3.11",
                                                             "code": "def main(a): return a"}})
        assert put.status_code == 200 and put.json()["namespace"] == subject


def test_a_revoked_key_gets_401_on_every_controller(server: Server, admin: httpx.Client,
                                                    subject: str) -> None:
    created = create(admin, subject)
    other = create(admin, subject)  # a second key of the namespace keeps working
    # Every controller has the key verified and cached before the revocation.
    assert set(status_everywhere(server, created["key"])) == {200}
    r = admin.delete(f"/admin/keys/{created['uuid']}")
    assert r.status_code == 200, r.text
    assert r.json()["uuid"] == created["uuid"] and r.json()["revoked"] > 0
    assert wait_for(server, created["key"], 401) == [401] * len(controller_urls(server))
    assert set(status_everywhere(server, other["key"])) == {200}
    assert admin.delete(f"/admin/keys/{created['uuid']}").status_code == 404
    listed = admin.get("/admin/keys", params={"subject": subject}).json()
    assert [k["uuid"] for k in listed] == [other["uuid"]]


def test_listing_never_shows_secrets(server: Server, admin: httpx.Client, subject: str) -> None:
    created = create(admin, subject)
    secret = created["key"].partition(":")[2]
    answers = [admin.get("/admin/keys"), admin.get("/admin/keys", params={"all": "true"}),
               admin.get("/admin/keys", params={"namespace": subject}),
               admin.get(f"/admin/keys/{created['uuid']}")]
    for r in answers:
        assert r.status_code == 200, r.text
        assert secret not in r.text and "keyHash" not in r.text and '"key"' not in r.text
    mine = answers[2].json()
    assert [(k["uuid"], k["subject"], k["namespace"], k["blocked"]) for k in mine] == [
        (created["uuid"], subject, subject, False)]
    everyone = {k["namespace"] for k in answers[0].json()}
    assert {"guest", "whisk.system", subject} <= everyone


def test_keys_of_one_namespace_for_several_subjects(admin: httpx.Client, server: Server,
                                                    subject: str) -> None:
    space = f"{subject}-space"
    a = create(admin, f"{subject}a", space)
    b = create(admin, f"{subject}b", space)
    for created in (a, b):
        with as_key(server.url, created["key"]) as client:
            assert client.get("/api/v1/namespaces").json() == [space]
    listed = admin.get("/admin/keys", params={"namespace": space}).json()
    assert sorted(k["subject"] for k in listed) == [f"{subject}a", f"{subject}b"]
    r = admin.delete(f"/admin/subjects/{subject}a", params={"namespace": space})
    assert r.status_code == 200 and r.json()["revoked"] == [a["uuid"]]
    assert wait_for(server, a["key"], 401)[0] == 401
    assert set(status_everywhere(server, b["key"])) == {200}


def test_block_and_unblock_a_subject(server: Server, admin: httpx.Client, subject: str) -> None:
    first = create(admin, subject)
    second = create(admin, subject, f"{subject}-other")
    assert set(status_everywhere(server, first["key"])) == {200}
    r = admin.post(f"/admin/subjects/{subject}/block")
    assert r.status_code == 200 and r.json() == {"subject": subject, "blocked": True,
                                                 "changed": 2}
    for created in (first, second):
        assert set(wait_for(server, created["key"], 401)) == {401}
    # A key created for a blocked subject is blocked too.
    third = create(admin, subject)
    assert third["blocked"] is True
    assert set(status_everywhere(server, third["key"])) == {401}
    assert all(k["blocked"] for k in admin.get("/admin/keys",
                                                params={"subject": subject}).json())
    assert admin.post(f"/admin/subjects/{subject}/unblock").json()["changed"] == 3
    for created in (first, second, third):
        assert set(wait_for(server, created["key"], 200)) == {200}


def test_only_administrators(server: Server, admin: httpx.Client, subject: str) -> None:
    user = create(admin, subject)
    for auth in (GUEST, user["key"]):
        with as_key(server.url, auth) as client:
            assert client.get("/admin/keys").status_code == 403
            assert client.post("/admin/keys", json={"subject": "x"}).status_code == 403
            assert client.delete(f"/admin/keys/{user['uuid']}").status_code == 403
    anonymous = httpx.get(f"{server.url}/admin/keys", timeout=30)
    assert anonymous.status_code == 401 and "error" in anonymous.json()
    wrong = httpx.get(f"{server.url}/admin/keys", auth=(user["uuid"], "x" * 64), timeout=30)
    assert wrong.status_code == 401
    # An administrator's key made through the API is an administrator's.
    other_admin = create(admin, f"{subject}-ops", "whisk.system")
    with as_key(server.url, other_admin["key"]) as client:
        assert client.get("/admin/keys").status_code == 200
        assert client.delete(f"/admin/keys/{other_admin['uuid']}").status_code == 409
    assert admin.delete(f"/admin/keys/{other_admin['uuid']}").status_code == 200


def test_bad_requests_are_4xx_with_a_message(admin: httpx.Client) -> None:
    cases = [
        admin.post("/admin/keys", json={}),
        admin.post("/admin/keys", json={"subject": 3}),
        admin.post("/admin/keys", json={"subject": "ok", "namespace": "/bad"}),
        admin.post("/admin/keys", json={"subject": "ok", "extra": 1}),
        admin.post("/admin/keys", content=b"[1]"),
        admin.post("/admin/keys", content=b"{"),
        admin.get("/admin/keys", params={"all": "maybe"}),
        admin.get("/admin/keys", params={"namespace": "/x"}),
    ]
    for r in cases:
        assert r.status_code == 400, (r.request.url, r.text)
        assert r.json()["error"] and r.json()["code"]
    assert admin.get("/admin/keys/no-such-uuid").status_code == 404
    assert admin.delete("/admin/keys/no-such-uuid").status_code == 404
    assert admin.post("/admin/subjects/nobody-here/block").status_code == 404
    assert admin.delete("/admin/subjects/nobody-here").status_code == 404
    assert admin.post("/admin/subjects/whisk.system/block").status_code == 409


def test_web_actions_get_a_working_key_of_their_owner(server: Server, admin: httpx.Client,
                                                       subject: str) -> None:
    """The owner's secret is not stored, so an anonymous web request's action gets a key of
    its own for the owner's namespace (``provide-api-key``), listed with ``all=true``."""
    created = create(admin, subject)
    code = '''
import base64, json, os, urllib.request
def main(args):
    key = os.environ["__OW_API_KEY"]
    req = urllib.request.Request(os.environ["__OW_API_HOST"] + "/api/v1/namespaces",
        headers={"Authorization": "Basic " + base64.b64encode(key.encode()).decode()})
    with urllib.request.urlopen(req) as r:
        return {"namespaces": json.load(r), "uuid": key.split(":")[0]}
'''
    with as_key(server.url, created["key"]) as client:
        put_action(client, "whoami", code, annotations=[
            {"key": "web-export", "value": True}, {"key": "provide-api-key", "value": True}])
    r = httpx.get(f"{server.url}/api/v1/web/{subject}/default/whoami.json", timeout=90)
    assert r.status_code == 200, r.text
    assert r.json()["namespaces"] == [subject]
    web_uuid = r.json()["uuid"]
    assert web_uuid != created["uuid"]
    assert [k["uuid"] for k in admin.get("/admin/keys",
                                         params={"namespace": subject}).json()] == [
        created["uuid"]]
    everything = admin.get("/admin/keys", params={"namespace": subject, "all": "true"}).json()
    web = [k for k in everything if k["uuid"] == web_uuid]
    assert web and web[0]["expires"] > time.time() * 1000
    # Blocking the subject closes its web actions too.
    assert admin.post(f"/admin/subjects/{subject}/block").status_code == 200
    deadline = time.monotonic() + PROPAGATION_S
    while True:
        blocked = httpx.get(f"{server.url}/api/v1/web/{subject}/default/whoami.json",
                            timeout=90)
        if blocked.status_code == 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert blocked.status_code == 404
