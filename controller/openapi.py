"""What the OpenAPI document (``/api-docs``) says about bodies and query parameters.

The routes read their JSON bodies and query strings by hand (to give OpenWhisk's exact
errors instead of FastAPI's), so the schema FastAPI derives would show none of them. Each
route declares here what it accepts; ``tests/api/test_openapi.py`` checks the document
against requests the server really takes.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

_KV = {"type": "object", "required": ["key"],
       "properties": {"key": {"type": "string"}, "value": {},
                      "init": {"type": "boolean", "description": "pass to /init as env"},
                      "secret": {"type": "boolean",
                                 "description": "shown redacted, masked in activations"}}}
_KV_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/KeyValue"}}
_COMMON = {
    "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
    "publish": {"type": "boolean"},
    "annotations": _KV_LIST,
    "parameters": _KV_LIST,
}

SCHEMAS: dict[str, Json] = {
    "KeyValue": _KV,
    "Exec": {"type": "object", "required": ["kind"], "properties": {
        "kind": {"type": "string", "example": "python:3.11",
                 "description": "a runtime kind, family:default, blackbox or sequence"},
        "code": {"type": "string", "description": "source text, or a base64 zip"},
        "main": {"type": "string"},
        "image": {"type": "string", "description": "blackbox image"},
        "components": {"type": "array", "items": {"type": "string"},
                       "description": "sequence components, fully qualified"},
    }},
    "Limits": {"type": "object", "properties": {
        "timeout": {"type": "integer", "minimum": 100, "maximum": 300000},
        "memory": {"type": "integer", "minimum": 128, "maximum": 512},
        "logs": {"type": "integer", "minimum": 0, "maximum": 10},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 1},
    }},
    "ActionPut": {"type": "object", "properties": {
        **_COMMON, "exec": {"$ref": "#/components/schemas/Exec"},
        "limits": {"$ref": "#/components/schemas/Limits"},
        "delAnnotations": {"type": "array", "items": {"type": "string"}}}},
    "TriggerPut": {"type": "object", "properties": dict(_COMMON)},
    "RulePut": {"type": "object", "required": ["trigger", "action"], "properties": {
        **{k: v for k, v in _COMMON.items() if k != "parameters"},
        "trigger": {"type": "string", "example": "/_/mytrigger"},
        "action": {"type": "string", "example": "/_/myaction"}}},
    "RuleState": {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string", "enum": ["active", "inactive"]}}},
    "PackagePut": {"type": "object", "properties": {
        **_COMMON, "binding": {"type": "object", "properties": {
            "namespace": {"type": "string"}, "name": {"type": "string"}}}}},
    "Payload": {"type": "object", "additionalProperties": True},
    "Error": {"type": "object", "properties": {"error": {"type": "string"},
                                               "code": {"type": "string"}}},
}


def _query(name: str, kind: str, description: str, **extra: Any) -> Json:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": kind, **extra}}


OVERWRITE = _query("overwrite", "boolean", "replace (merge into) an existing entity")
LIST = [
    _query("limit", "integer", "page size; 0 means 200", minimum=0, maximum=200, default=30),
    _query("skip", "integer", "entries to skip", minimum=0, default=0),
    _query("count", "boolean", "return only {collection: N}"),
]
INVOKE = [
    _query("blocking", "boolean", "wait for the result"),
    _query("result", "boolean", "return only the result (implies blocking)"),
    _query("timeout", "integer", "blocking wait in ms", minimum=1, maximum=60000),
]
ACTIVATION_LIST = [
    *LIST,
    _query("docs", "boolean", "full records"),
    _query("name", "string", "action or pkg/action"),
    _query("since", "integer", "epoch ms, inclusive", minimum=0),
    _query("upto", "integer", "epoch ms, inclusive", minimum=0),
]


def body(schema: str) -> Json:
    return {"requestBody": {"required": False, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


def params(*items: Json) -> Json:
    return {"parameters": list(items)}


def extra(schema: str | None = None, *query: Json) -> Json:
    out: Json = {}
    if schema:
        out.update(body(schema))
    if query:
        out.update(params(*query))
    return out


def install(openapi: Json) -> Json:
    """Add the shared component schemas to a generated document."""
    openapi.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    return openapi
