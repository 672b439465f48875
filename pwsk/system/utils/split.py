"""Splits ``payload`` into ``lines`` at ``separator`` (default: line breaks)."""

from __future__ import annotations

import re
from typing import Any


def main(params: dict[str, Any]) -> dict[str, Any]:
    payload = params.get("payload", "")
    payload = payload if isinstance(payload, str) else str(payload)
    separator = params.get("separator")
    lines = payload.split(str(separator)) if separator else re.split(r"\r?\n", payload)
    return {"lines": lines, "payload": payload}
