"""``save-measurement``: store one sensor reading (idempotent per tank, sensor, time).

A busy or unreachable store (429, 5xx, no connection, a timeout) is tried again a few times:
the document id is the reading's, so a retried write that had in fact been stored answers a
conflict, which is the same reading, stored once."""

from __future__ import annotations

import time
from typing import Any

try:
    from .common import Db, DbError, ReadingError, parse_reading
except ImportError:  # deployed: common.py sits next to __main__.py
    from common import Db, DbError, ReadingError, parse_reading  # type: ignore[no-redef]

ATTEMPTS = 4
PAUSE_S = 0.5  # doubled after each attempt


def main(args: dict[str, Any]) -> dict[str, Any]:
    try:
        reading = parse_reading(args)
    except ReadingError as exc:
        return {"error": str(exc)}
    db = Db.from_args(args)
    doc = {"_id": reading.doc_id, "type": "reading", "key": reading.key, **reading.to_json()}
    for attempt in range(ATTEMPTS):
        try:
            rev = db.put(doc)
            break
        except DbError as exc:
            if (exc.status != 429 and exc.status < 500) or attempt == ATTEMPTS - 1:
                return {"error": str(exc)}
        except OSError as exc:  # unreachable, reset, timed out
            if attempt == ATTEMPTS - 1:
                return {"error": f"the database is unreachable: {exc}"}
        time.sleep(PAUSE_S * 2 ** attempt)
    # A conflict means this exact reading is already stored (a redelivered message).
    return {"stored": reading.doc_id, "duplicate": rev is None, **reading.to_json()}
