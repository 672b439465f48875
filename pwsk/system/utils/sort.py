"""Sorts ``lines``: numerically when they are all numbers, otherwise as text."""

from __future__ import annotations

from typing import Any


def main(params: dict[str, Any]) -> dict[str, Any]:
    lines = params.get("lines") or []
    if not isinstance(lines, list):
        return {"error": "lines must be an array"}
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in lines)
    ordered = sorted(lines) if numeric else sorted(lines, key=str)
    return {"lines": ordered, "length": len(ordered)}
