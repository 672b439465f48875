"""The OpenAPI document describes what the server really accepts."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import ECHO, NS, put_action
from tests.servers import Server


def _doc(server: Server) -> dict[str, Any]:
    r = httpx.get(server.url + "/api-docs")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _query_names(op: dict[str, Any]) -> set[str]:
    return {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}


def test_every_resource_is_documented(server: Server) -> None:
    paths = _doc(server)["paths"]
    for collection in ("actions", "triggers", "rules", "packages", "activations"):
        assert f"/api/v1/namespaces/{{ns}}/{collection}" in paths
    item = paths["/api/v1/namespaces/{ns}/actions/{rest}"]
    assert set(item) == {"get", "put", "post", "delete"}
    assert {"get", "post", "options"} <= set(paths["/api/v1/web/{path}"])
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_documented_query_parameters(server: Server) -> None:
    paths = _doc(server)["paths"]
    invoke = paths["/api/v1/namespaces/{ns}/actions/{rest}"]["post"]
    assert _query_names(invoke) == {"blocking", "result", "timeout"}
    put = paths["/api/v1/namespaces/{ns}/actions/{rest}"]["put"]
    assert _query_names(put) == {"overwrite"}
    acts = paths["/api/v1/namespaces/{ns}/activations"]["get"]
    assert _query_names(acts) == {"limit", "skip", "count", "docs", "name", "since", "upto"}


def test_documented_bodies_are_accepted(server: Server, api: httpx.Client, name: str) -> None:
    doc = _doc(server)
    schemas = doc["components"]["schemas"]
    put = doc["paths"]["/api/v1/namespaces/{ns}/actions/{rest}"]["put"]
    ref = put["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ActionPut"
    action_fields = set(schemas["ActionPut"]["properties"])
    body = {"exec": {"kind": "python:3.11", "code": ECHO}, "limits": {"timeout": 1000},
            "parameters": [{"key": "a", "value": 1, "init": True}], "publish": False,
            "annotations": [{"key": "x", "value": 1}], "version": "1.0.0"}
    assert set(body) <= action_fields
    assert api.put(f"{NS}/actions/{name}", json=body).status_code == 200
    assert set(schemas["RuleState"]["properties"]["status"]["enum"]) == {"active", "inactive"}
    put_action(api, f"{name}-2", ECHO)
    limits = schemas["Limits"]["properties"]
    over = {"memory": limits["memory"]["maximum"] + 1}
    r = api.put(f"{NS}/actions/{name}-2?overwrite=true", json={"limits": over})
    assert r.status_code == 400
