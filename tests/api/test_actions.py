"""Action CRUD: create, overwrite merge, code=false, lists, delete, validation."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import ECHO, NS, annotation, put_action


def test_create_get_delete(api: httpx.Client, name: str) -> None:
    created = put_action(api, name, ECHO, parameters=[{"key": "a", "value": 1}])
    assert created["name"] == name and created["namespace"] == "guest"
    assert created["version"] == "0.0.1"
    assert created["exec"] == {"kind": "python:3.11", "code": ECHO, "binary": False}
    assert created["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}
    assert annotation(created, "exec") == "python:3.11"
    assert annotation(created, "provide-api-key") is False
    got = api.get(f"{NS}/actions/{name}").json()
    assert got["exec"]["code"] == ECHO and got["parameters"] == [{"key": "a", "value": 1}]
    assert "code" not in api.get(f"{NS}/actions/{name}?code=false").json()["exec"]
    deleted = api.delete(f"{NS}/actions/{name}")
    assert deleted.status_code == 200 and deleted.json()["name"] == name
    assert api.get(f"{NS}/actions/{name}").status_code == 404
    assert api.delete(f"{NS}/actions/{name}").status_code == 404


def test_create_twice_needs_overwrite(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO)
    r = api.put(f"{NS}/actions/{name}", json={"exec": {"kind": "python:3.11", "code": ECHO}})
    assert r.status_code == 409
    assert r.json()["error"] == "resource already exists"


def test_overwrite_merges_and_bumps_version(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO, parameters=[{"key": "a", "value": 1}],
               annotations=[{"key": "x", "value": "1"}], limits={"timeout": 1000})
    r = api.put(f"{NS}/actions/{name}?overwrite=true",
                json={"annotations": [{"key": "y", "value": 2}], "limits": {"memory": 128}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == "0.0.2"
    assert body["exec"]["code"] == ECHO
    assert body["parameters"] == [{"key": "a", "value": 1}]
    assert annotation(body, "x") == "1" and annotation(body, "y") == 2
    assert body["limits"]["timeout"] == 1000 and body["limits"]["memory"] == 128
    r = api.put(f"{NS}/actions/{name}?overwrite=true", json={"delAnnotations": ["x"]})
    assert annotation(r.json(), "x") is None and r.json()["version"] == "0.0.3"


def test_list_newest_first_with_limit_skip_count(api: httpx.Client, name: str) -> None:
    for i in range(3):
        put_action(api, f"{name}-{i}", ECHO)
    listed = api.get(f"{NS}/actions", params={"limit": 200}).json()
    mine = [a["name"] for a in listed if a["name"].startswith(name)]
    assert mine == [f"{name}-2", f"{name}-1", f"{name}-0"]
    assert "code" not in listed[0]["exec"] and "parameters" not in listed[0]
    assert api.get(f"{NS}/actions", params={"limit": 1}).json()[0]["name"] == f"{name}-2"
    count = api.get(f"{NS}/actions", params={"count": "true"}).json()["actions"]
    assert count >= 3
    r = api.get(f"{NS}/actions", params={"limit": 201})
    assert r.status_code == 400
    assert r.json()["error"] == "The value '201' is not in the range of 0 to 200 for actions."


@pytest.mark.parametrize("body,fragment", [
    ({"exec": {"kind": "cobol:1", "code": "x"}},
     "The specified runtime 'cobol:1' is not supported"),
    ({"exec": {"kind": "python:3.11"}}, "exec.code is required"),
    ({"exec": "nope"}, "exec must be an object"),
    ({}, "exec is required"),
    ({"exec": {"kind": "python:3.11", "code": ECHO}, "limits": {"memory": 1024}},
     "memory size 1024 MB exceeds allowed threshold of 512 MB"),
    ({"exec": {"kind": "python:3.11", "code": ECHO}, "limits": {"timeout": 600000}},
     "duration 600000 milliseconds exceeds allowed threshold of 300000 milliseconds"),
    ({"exec": {"kind": "python:3.11", "code": ECHO}, "limits": {"timeout": "x"}},
     "timeout must be an integer"),
    ({"exec": {"kind": "python:3.11", "code": ECHO}, "parameters": {"a": 1}},
     "parameters must be an array"),
    ({"exec": {"kind": "python:3.11", "code": 5}}, "exec.code must be a string"),
])
def test_bad_action_bodies_are_400(api: httpx.Client, name: str, body: dict[str, object],
                                   fragment: str) -> None:
    r = api.put(f"{NS}/actions/{name}", json=body)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]
    assert api.get(f"{NS}/actions/{name}").status_code == 404


def test_default_kind_resolves(api: httpx.Client, name: str) -> None:
    body = put_action(api, name, "function main(a) { return a }", kind="nodejs:default")
    assert body["exec"]["kind"] == "nodejs:20"


def test_malformed_json_is_400(api: httpx.Client, name: str) -> None:
    r = api.put(f"{NS}/actions/{name}", content=b"{not json",
                headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"].startswith("The request content was malformed")
    r = api.put(f"{NS}/actions/{name}", content=b"[1,2]")
    assert r.status_code == 400


@pytest.mark.parametrize("bad", ["a%2Fb%2Fc%2Fd", "-lead", "trail%20", "x" * 300])
def test_invalid_names_are_rejected(api: httpx.Client, bad: str) -> None:
    r = api.put(f"{NS}/actions/{bad}", json={"exec": {"kind": "python:3.11", "code": ECHO}})
    assert r.status_code in (400, 404), r.text
    assert set(r.json()) == {"error", "code"}


def test_code_over_limit_is_413(api: httpx.Client, name: str) -> None:
    big = "#" * (48 * 1024 * 1024 + 10)
    r = api.put(f"{NS}/actions/{name}", json={"exec": {"kind": "python:3.11", "code": big}})
    assert r.status_code == 413


def test_parameters_over_limit_are_413(api: httpx.Client, name: str) -> None:
    params = [{"key": "p", "value": "x" * (1024 * 1024 + 1)}]
    r = api.put(f"{NS}/actions/{name}",
                json={"exec": {"kind": "python:3.11", "code": ECHO}, "parameters": params})
    assert r.status_code == 413
    assert "larger than allowed" in r.json()["error"]


def test_body_over_http_limit_is_413(api: httpx.Client, name: str) -> None:
    r = api.put(f"{NS}/actions/{name}", content=b"x" * (50 * 1024 * 1024 + 1))
    assert r.status_code == 413


def test_wrong_collection_is_409(api: httpx.Client, name: str) -> None:
    assert api.put(f"{NS}/triggers/{name}", json={}).status_code == 200
    r = api.get(f"{NS}/actions/{name}")
    assert r.status_code == 409
    assert r.json()["error"] == "Resource by this name exists but is not in this collection."


def test_zip_action_is_binary(api: httpx.Client, name: str) -> None:
    from tests.api.helpers import zip_b64

    code = zip_b64({"__main__.py": "def main(a):\n    return {'zip': True}\n"})
    body = put_action(api, name, code)
    assert body["exec"]["binary"] is True
