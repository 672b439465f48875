"""``get-latest`` (web action): the latest value and a history window per sensor.

``GET .../get-latest.json?minutes=60[&tank=mash][&sensor=temperature]`` →
``{"latest": {"mash:temperature": {...}}, "history": {"mash:temperature": [[ts, v], ...]},
"thresholds": {...}, "now": <ms>}``
"""

from __future__ import annotations

import time
from typing import Any

try:
    from .common import SENSORS, TANKS, Db, DbError, error, thresholds
except ImportError:  # deployed: common.py sits next to __main__.py
    from common import SENSORS, TANKS, Db, DbError, error, thresholds  # type: ignore[no-redef]

MAX_MINUTES = 24 * 60
MAX_POINTS = 5000


def main(args: dict[str, Any]) -> dict[str, Any]:
    try:
        minutes = float(args.get("minutes", 60))
    except (TypeError, ValueError):
        return error("minutes must be a number")
    if not 0 < minutes <= MAX_MINUTES:
        return error(f"minutes must be between 0 and {MAX_MINUTES}")
    tanks = [args["tank"]] if args.get("tank") else list(TANKS)
    sensors = [args["sensor"]] if args.get("sensor") else list(SENSORS)
    if not set(tanks) <= set(TANKS) or not set(sensors) <= set(SENSORS):
        return error("unknown tank or sensor")
    now = int(args.get("now") or time.time() * 1000)
    since = now - int(minutes * 60_000)
    db = Db.from_args(args)
    latest: dict[str, Any] = {}
    history: dict[str, list[list[float]]] = {}
    try:
        for tank in tanks:
            for sensor in sensors:
                key = f"{tank}:{sensor}"
                docs = db.find({"type": "reading", "key": key, "timestamp": {"$gte": since}},
                               sort=[{"type": "asc"}, {"key": "asc"}, {"timestamp": "asc"}],
                               limit=MAX_POINTS)
                if docs:
                    history[key] = [[d["timestamp"], d["value"]] for d in docs]
                    last = docs[-1]
                    latest[key] = {k: last[k] for k in ("tank", "sensor", "value", "unit",
                                                        "timestamp")}
        return {"latest": latest, "history": history, "thresholds": thresholds(db, args),
                "now": now}
    except DbError as exc:
        return error(str(exc), 503)
