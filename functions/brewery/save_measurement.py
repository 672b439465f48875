"""``save-measurement``: store one sensor reading (idempotent per tank, sensor, time)."""

from __future__ import annotations

from typing import Any

try:
    from .common import Db, DbError, ReadingError, parse_reading
except ImportError:  # deployed: common.py sits next to __main__.py
    from common import Db, DbError, ReadingError, parse_reading  # type: ignore[no-redef]


def main(args: dict[str, Any]) -> dict[str, Any]:
    try:
        reading = parse_reading(args)
    except ReadingError as exc:
        return {"error": str(exc)}
    db = Db.from_args(args)
    doc = {"_id": reading.doc_id, "type": "reading", "key": reading.key, **reading.to_json()}
    try:
        rev = db.put(doc)
    except DbError as exc:
        return {"error": str(exc)}
    # A conflict means this exact reading is already stored (a redelivered message).
    return {"stored": reading.doc_id, "duplicate": rev is None, **reading.to_json()}
