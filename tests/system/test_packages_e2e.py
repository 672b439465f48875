"""The system packages as users find them on a real ``pwsk standalone``: shared, documented,
and their actions invoked through the platform."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.servers import SYSTEM, Server

SYSTEM_NS = "/api/v1/namespaces/whisk.system"


def annotation(entity: dict[str, Any], key: str) -> Any:
    return next((a["value"] for a in entity.get("annotations", []) if a["key"] == key), None)


def call(api: httpx.Client, action: str, payload: dict[str, Any] | None = None) -> Any:
    r = api.post(f"{SYSTEM_NS}/actions/utils/{action}",
                 params={"blocking": "true", "result": "true"}, json=payload or {})
    assert r.status_code == 200, r.text
    return r.json()


def test_both_packages_are_shared_with_every_namespace(api: httpx.Client) -> None:
    listed = {p["name"]: p for p in api.get(f"{SYSTEM_NS}/packages").json()}
    assert {"utils", "alarms"} <= listed.keys()
    assert listed["utils"]["publish"] is True and listed["alarms"]["publish"] is True
    utils = api.get(f"{SYSTEM_NS}/packages/utils").json()
    assert annotation(utils, "description") == "Building blocks that format and assemble data"
    assert {a["name"] for a in utils["actions"]} >= {
        "echo", "cat", "sort", "split", "head", "date", "namespace", "hosturl"}
    assert utils["feeds"] == []
    alarms = api.get(f"{SYSTEM_NS}/packages/alarms").json()
    assert alarms["actions"] == []
    assert {f["name"] for f in alarms["feeds"]} == {"alarm", "interval", "once"}
    assert all(annotation(f, "feed") is True for f in alarms["feeds"])


def test_actions_carry_the_catalog_documentation(api: httpx.Client) -> None:
    sort = api.get(f"{SYSTEM_NS}/actions/utils/sort").json()
    assert sort["exec"]["kind"] == "python:3.11" and "def main" in sort["exec"]["code"]
    assert annotation(sort, "description") == "Sorts an array"
    assert annotation(sort, "parameters")[0]["name"] == "lines"
    assert annotation(sort, "sampleInput") == {"lines": [4, 2, 3]}
    assert annotation(sort, "sampleOutput") == {"lines": [2, 3, 4], "length": 3}
    alarm = api.get(f"{SYSTEM_NS}/actions/alarms/alarm").json()
    assert {p["name"] for p in annotation(alarm, "parameters")} >= {
        "cron", "startDate", "stopDate", "maxTriggers", "trigger_payload"}


@pytest.mark.parametrize("action", ["echo", "cat", "sort", "split", "head", "smash"])
def test_utils_actions_turn_their_sample_input_into_their_sample_output(
        api: httpx.Client, action: str) -> None:
    entity = api.get(f"{SYSTEM_NS}/actions/utils/{action}").json()
    assert call(api, action, annotation(entity, "sampleInput")) == \
        annotation(entity, "sampleOutput")


def test_utils_actions_that_read_their_environment(api: httpx.Client, server: Server) -> None:
    assert call(api, "namespace") == {"namespace": "guest"}
    with server.client(SYSTEM) as system:
        assert call(system, "namespace") == {"namespace": "whisk.system"}
    assert call(api, "hosturl", {"path": "utils/echo", "web": True}) == {
        "url": f"{server.url}/api/v1/web/guest/utils/echo.json"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", call(api, "date")["date"])


def test_utils_compose_into_a_sequence(api: httpx.Client, name: str) -> None:
    body = {"exec": {"kind": "sequence", "components": [
        "/whisk.system/utils/split", "/whisk.system/utils/sort", "/whisk.system/utils/head"]}}
    assert api.put(f"/api/v1/namespaces/_/actions/{name}", json=body).status_code == 200
    r = api.post(f"/api/v1/namespaces/_/actions/{name}",
                 params={"blocking": "true", "result": "true"},
                 json={"payload": "pear\napple\nfig"})
    assert r.status_code == 200, r.text
    assert r.json() == {"lines": ["apple"], "num": 1}


def test_only_whisk_system_may_change_them(api: httpx.Client) -> None:
    r = api.put(f"{SYSTEM_NS}/actions/utils/echo?overwrite=true",
                json={"exec": {"kind": "python:3.11", "code": "def main(a):\n    return {}\n"}})
    assert r.status_code == 403
