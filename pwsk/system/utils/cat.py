"""Joins ``lines`` into one ``payload`` string, one line each (Unix ``cat``)."""

from __future__ import annotations

import json
from typing import Any


def main(params: dict[str, Any]) -> dict[str, Any]:
    lines = params.get("lines") or []
    if not isinstance(lines, list):
        return {"error": "lines must be an array"}
    text = [line if isinstance(line, str) else "" if line is None else json.dumps(line)
            for line in lines]
    return {"lines": lines, "payload": "\n".join(text)}
