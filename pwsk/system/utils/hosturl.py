"""The URL that invokes an action or fires a trigger of the caller's namespace.

``path`` is ``action`` or ``package/action``; ``web: true`` gives the web action URL (with
``ext``, default ``.json``), ``trigger: true`` a trigger's.
"""

from __future__ import annotations

import os
from typing import Any

EXTENSIONS = (".json", ".text", ".html", ".http")


def main(params: dict[str, Any]) -> dict[str, Any]:
    host = os.environ.get("__OW_API_HOST", "").rstrip("/")
    namespace = os.environ.get("__OW_NAMESPACE", "")
    web = params.get("web") is True
    trigger = params.get("trigger") is True
    path = str(params.get("path") or "")
    ext = params.get("ext") or ".json"
    if web and trigger:
        return {"error": "triggers are not allowed for web actions."}
    if web and ext not in EXTENSIONS:
        return {"error": f"extension for web action must be one of {list(EXTENSIONS)}."}
    if trigger and "/" in path:
        return {"error": "triggers are not allowed in packages."}
    if web:
        base = f"{host}/api/v1/web/{namespace}"
        if path and "/" not in path:
            path = f"default/{path}"
    else:
        base = f"{host}/api/v1/namespaces/{namespace}/{'triggers' if trigger else 'actions'}"
    if not path:
        return {"url": base}
    return {"url": f"{base}/{path}{ext if web else ''}"}
