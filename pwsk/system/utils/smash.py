"""Nests every parameter under the one named by ``$fieldName``."""

from __future__ import annotations

from typing import Any


def main(params: dict[str, Any]) -> dict[str, Any]:
    field = params.get("$fieldName")
    if not isinstance(field, str) or not field:
        return {"error": "$fieldName must name the property to nest the input under"}
    return {field: {k: v for k, v in params.items() if k != "$fieldName"}}
