"""The first ``num`` (default 1) of ``lines``."""

from __future__ import annotations

from typing import Any


def main(params: dict[str, Any]) -> dict[str, Any]:
    lines = params.get("lines") or []
    num = params.get("num") or 1
    if not isinstance(lines, list):
        return {"error": "lines must be an array"}
    if isinstance(num, bool) or not isinstance(num, int) or num < 0:
        return {"error": "num must be a non-negative integer"}
    return {"lines": lines[:num], "num": num}
