"""The current date and time, as JavaScript's ``toISOString`` writes it (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def main(params: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {"date": now.replace("+00:00", "Z")}
