"""``set-threshold`` (web action): set the maximum for one tank and sensor.

``POST .../set-threshold.http {"tank": "mash", "sensor": "temperature", "max": 66.5}``
(``.http`` so that bad input comes back as a real 400 with ``{"error": ...}``).
"""

from __future__ import annotations

import math
from typing import Any

try:
    from .common import SENSORS, TANKS, Db, DbError, error, thresholds
except ImportError:  # deployed: common.py sits next to __main__.py
    from common import SENSORS, TANKS, Db, DbError, error, thresholds  # type: ignore[no-redef]

MAX_RACES = 10


def main(args: dict[str, Any]) -> dict[str, Any]:
    tank, sensor, value = args.get("tank"), args.get("sensor"), args.get("max")
    if tank not in TANKS or sensor not in SENSORS:
        return error(f"unknown tank or sensor: {tank!r} {sensor!r}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return error(f"max must be a number, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return error(f"max must be a number, got {value!r}")
    db = Db.from_args(args)
    key = f"{tank}:{sensor}"
    try:
        for _ in range(MAX_RACES):
            doc = db.get("thresholds") or {"_id": "thresholds", "max": {}}
            doc["max"][key] = float(value)
            if db.put(doc) is not None:
                return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                        "body": {"ok": True, "key": key, "max": float(value),
                                 "thresholds": thresholds(db, args)}}
    except DbError as exc:
        return error(str(exc), 503)
    return error("thresholds kept changing; try again", 409)
