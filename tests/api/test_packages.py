"""Packages, bindings, shared packages and the parameter merge chain."""

from __future__ import annotations

import httpx

from tests.api.helpers import ECHO, NS, invoke, put_action
from tests.servers import SYSTEM, Server


def test_package_crud_and_contents(api: httpx.Client, name: str) -> None:
    r = api.put(f"{NS}/packages/{name}", json={"parameters": [{"key": "p", "value": 1}]})
    assert r.status_code == 200 and r.json()["binding"] == {}
    put_action(api, f"{name}/inner", ECHO)
    got = api.get(f"{NS}/packages/{name}").json()
    assert [a["name"] for a in got["actions"]] == ["inner"]
    listed = api.get(f"{NS}/actions/{name}/").json()
    assert [a["name"] for a in listed] == ["inner"]
    assert listed[0]["namespace"] == f"guest/{name}"
    r = api.delete(f"{NS}/packages/{name}")
    assert r.status_code == 409
    assert r.json()["error"] == ("Package not empty (contains 1 entities). Set force param or "
                                 "delete package contents.")
    assert api.delete(f"{NS}/packages/{name}?force=true").status_code == 200
    assert api.get(f"{NS}/actions/{name}/inner").status_code == 404


def test_default_package_name_is_reserved(api: httpx.Client) -> None:
    r = api.put(f"{NS}/packages/default", json={})
    assert r.status_code == 400
    assert r.json()["error"] == "Package name 'default' is reserved."


def test_action_in_missing_package_is_404(api: httpx.Client, name: str) -> None:
    r = api.put(f"{NS}/actions/{name}/a", json={"exec": {"kind": "python:3.11", "code": ECHO}})
    assert r.status_code == 404


def test_merge_chain_package_binding_action_payload(api: httpx.Client, name: str) -> None:
    api.put(f"{NS}/packages/{name}", json={"parameters": [
        {"key": "a", "value": "pkg"}, {"key": "b", "value": "pkg"},
        {"key": "c", "value": "pkg"}, {"key": "d", "value": "pkg"}]})
    put_action(api, f"{name}/echo", ECHO, parameters=[{"key": "c", "value": "action"},
                                                      {"key": "d", "value": "action"}])
    r = api.put(f"{NS}/packages/{name}-bind", json={
        "binding": {"namespace": "_", "name": name},
        "parameters": [{"key": "b", "value": "binding"}, {"key": "c", "value": "binding"}]})
    assert r.status_code == 200, r.text
    assert r.json()["binding"] == {"namespace": "guest", "name": name}
    result = invoke(api, f"{name}-bind/echo", {"d": "payload"}, result="true").json()
    assert result == {"a": "pkg", "b": "binding", "c": "action", "d": "payload"}
    direct = invoke(api, f"{name}/echo", result="true").json()
    assert direct == {"a": "pkg", "b": "pkg", "c": "action", "d": "action"}
    rec = invoke(api, f"{name}-bind/echo").json()
    assert {"key": "binding", "value": f"guest/{name}-bind"} in rec["annotations"]
    got = api.get(f"{NS}/packages/{name}-bind").json()
    assert [a["name"] for a in got["actions"]] == ["echo"]


def test_binding_rules(api: httpx.Client, name: str) -> None:
    r = api.put(f"{NS}/packages/{name}-b", json={"binding": {"namespace": "_", "name": "none"}})
    assert r.status_code == 400
    assert r.json()["error"] == "Binding references a package that does not exist."
    api.put(f"{NS}/packages/{name}", json={})
    api.put(f"{NS}/packages/{name}-b", json={"binding": {"namespace": "_", "name": name}})
    r = api.put(f"{NS}/packages/{name}-bb", json={"binding": {"namespace": "_",
                                                               "name": f"{name}-b"}})
    assert r.status_code == 400
    assert r.json()["error"] == "Cannot bind to another package binding."
    r = api.put(f"{NS}/actions/{name}-b/x", json={"exec": {"kind": "python:3.11",
                                                              "code": ECHO}})
    assert r.status_code == 400
    assert r.json()["error"] == "Operation not permitted on package binding."
    r = api.put(f"{NS}/packages/{name}?overwrite=true",
                json={"binding": {"namespace": "_", "name": f"{name}-b"}})
    assert r.status_code == 409


def test_shared_package_across_namespaces(server: Server, api: httpx.Client, name: str) -> None:
    with server.client(SYSTEM) as system:
        sys_ns = "/api/v1/namespaces/_"
        assert system.put(f"{sys_ns}/packages/{name}", json={"publish": True}).status_code == 200
        r = system.put(f"{sys_ns}/actions/{name}/hi",
                       json={"exec": {"kind": "python:3.11", "code": ECHO}})
        assert r.status_code == 200
        assert system.put(f"{sys_ns}/packages/{name}-private", json={}).status_code == 200
    shared = f"/api/v1/namespaces/whisk.system/packages/{name}"
    assert api.get(shared).status_code == 200
    assert api.get(f"/api/v1/namespaces/whisk.system/packages/{name}-private").status_code == 403
    listed = [p["name"] for p in api.get("/api/v1/namespaces/whisk.system/packages").json()]
    assert name in listed and f"{name}-private" not in listed
    r = api.post(f"/api/v1/namespaces/whisk.system/actions/{name}/hi?blocking=true&result=true",
                 json={"v": 1})
    assert r.status_code == 200 and r.json() == {"v": 1}
    r = api.put(f"{NS}/packages/{name}-mine",
                json={"binding": {"namespace": "whisk.system", "name": name}})
    assert r.status_code == 200
    assert invoke(api, f"{name}-mine/hi", {"w": 2}, result="true").json() == {"w": 2}
    r = api.put(f"/api/v1/namespaces/whisk.system/actions/{name}/evil",
                json={"exec": {"kind": "python:3.11", "code": ECHO}})
    assert r.status_code == 403
