"""``check-threshold``: alarm once when a reading crosses its maximum, clear once when it
falls back below it (minus a little hysteresis), stay silent in between.

The alarm state of each tank/sensor lives in the database and is changed with the
document revision as a compare-and-set, so concurrent readings cannot raise one episode
twice, and a reading older than the last change is ignored (``stale``): activations of one
sensor may run out of order. Output: ``event`` is ``alarm``, ``clear``, ``none`` or
``stale``; the rest describes the reading.
"""

from __future__ import annotations

from typing import Any

try:
    from .common import HYSTERESIS, Db, DbError, ReadingError, parse_reading, thresholds
except ImportError:  # deployed: common.py sits next to __main__.py
    from common import HYSTERESIS, Db, DbError, ReadingError, parse_reading, thresholds  # type: ignore[no-redef]

MAX_RACES = 10


def main(args: dict[str, Any]) -> dict[str, Any]:
    try:
        reading = parse_reading(args)
    except ReadingError as exc:
        return {"error": str(exc)}
    db = Db.from_args(args)
    try:
        limit = thresholds(db, args).get(reading.key)
        out = {**reading.to_json(), "max": limit, "event": "none"}
        if limit is None:
            return out
        for _ in range(MAX_RACES):
            state = db.get(f"alarm:{reading.key}") or {"_id": f"alarm:{reading.key}",
                                                        "active": False}
            if reading.timestamp < state.get("since", 0):
                # Activations may run out of order; an older reading must not flip a
                # state a newer one has set.
                out["event"] = "stale"
                return out
            if not state["active"] and reading.value > limit:
                event = "alarm"
            elif state["active"] and reading.value <= limit - HYSTERESIS:
                event = "clear"
            else:
                return out
            state.update(active=event == "alarm", since=reading.timestamp, value=reading.value)
            if db.put(state) is not None:
                out["event"] = event
                out["message"] = message(event, reading.tank, reading.sensor, reading.value,
                                         limit, reading.unit)
                return out
        return {"error": f"alarm state of {reading.key} kept changing; gave up"}
    except DbError as exc:
        return {"error": str(exc)}


def message(event: str, tank: str, sensor: str, value: float, limit: float, unit: str) -> str:
    if event == "alarm":
        return (f"ALARM: {tank} tank {sensor} is {value:g} {unit}, above the maximum of "
                f"{limit:g} {unit}.")
    return f"OK: {tank} tank {sensor} is back to {value:g} {unit} (maximum {limit:g} {unit})."
