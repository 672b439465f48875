"""Small helpers the API tests share."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from typing import Any

import httpx

NS = "/api/v1/namespaces/_"


def put_action(api: httpx.Client, name: str, code: str, kind: str = "python:3.11",
               **extra: Any) -> dict[str, Any]:
    body = {"exec": {"kind": kind, "code": code}, **extra}
    r = api.put(f"{NS}/actions/{name}", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def invoke(api: httpx.Client, name: str, payload: dict[str, Any] | None = None,
           **params: str) -> httpx.Response:
    query = {"blocking": "true", **params}
    return api.post(f"{NS}/actions/{name}", params=query, json=payload or {})


def zip_b64(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, content in files.items():
            info = zipfile.ZipInfo(path)
            if modes and path in modes:
                info.external_attr = modes[path] << 16
            zf.writestr(info, content)
    return base64.b64encode(buf.getvalue()).decode()


def wait_activation(api: httpx.Client, activation_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = api.get(f"{NS}/activations/{activation_id}")
        if r.status_code == 200:
            return r.json()  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"activation {activation_id} never appeared")


def annotation(record: dict[str, Any], key: str) -> Any:
    for a in record.get("annotations", []):
        if a["key"] == key:
            return a["value"]
    return None


ECHO = "def main(args):\n    return args\n"
