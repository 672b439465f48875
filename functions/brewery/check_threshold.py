"""``check-threshold``: alarm once when a reading crosses its maximum, clear once when it
falls back below it (minus a little hysteresis), stay silent in between.

Activations of one sensor may run out of order (the platform does not order trigger fires),
so the decision does not rest on the last reading seen alone. The alarm document of each
tank/sensor keeps its recent readings in time order (``recent``: timestamp, value and the
maximum then, at most ``WINDOW``, with the state before the oldest in ``base``) and the
changes already told (``told``). Each reading is put in its place, the window replayed, and
every change not told yet is told, once: one alarm per episode and one clear after it,
whatever order the readings came in. The document is written with its revision as a
compare-and-set, so concurrent readings cannot tell a change twice. A reading older than
the window, or ``LATE_MS`` older than the newest, is ``stale``; one seen already (a
redelivery) changes nothing.

Output: ``event`` is ``alarm``, ``clear``, ``none`` or ``stale``; with an event, ``message``
tells it and ``messages`` every change told now (more than one when a late reading showed
an episode that began and ended meanwhile); the rest describes the reading.
"""

from __future__ import annotations

from typing import Any

try:
    from .common import HYSTERESIS, Db, DbError, ReadingError, parse_reading, thresholds
except ImportError:  # deployed: common.py sits next to __main__.py
    from common import HYSTERESIS, Db, DbError, ReadingError, parse_reading, thresholds  # type: ignore[no-redef]

MAX_RACES = 10
WINDOW = 32  # readings kept per tank/sensor to put late ones in their place
LATE_MS = 10 * 60_000  # a reading this much older than the newest one is stale


def main(args: dict[str, Any]) -> dict[str, Any]:
    try:
        reading = parse_reading(args)
    except ReadingError as exc:
        return {"error": str(exc)}
    db = Db.from_args(args)
    try:
        limit = thresholds(db, args).get(reading.key)
        out: dict[str, Any] = {**reading.to_json(), "max": limit, "event": "none"}
        if limit is None:
            return out
        for _ in range(MAX_RACES):
            state = db.get(f"alarm:{reading.key}") or {"_id": f"alarm:{reading.key}",
                                                        "active": False}
            told = tell(state, reading.timestamp, reading.value, limit)
            if told is STALE:
                out["event"] = "stale"
                return out
            if told is SEEN:
                return out  # a redelivered reading: nothing changes
            if db.put(state) is not None:
                if told:
                    out["event"] = told[-1][2]
                    out["messages"] = [message(event, reading.tank, reading.sensor, value,
                                               limit, reading.unit)
                                       for _, value, event in told]
                    out["message"] = out["messages"][-1]
                return out
        return {"error": f"alarm state of {reading.key} kept changing; gave up"}
    except DbError as exc:
        return {"error": str(exc)}


STALE: list[tuple[int, float, str]] = []
SEEN: list[tuple[int, float, str]] = []


def tell(state: dict[str, Any], ts: int, value: float, limit: float
         ) -> list[tuple[int, float, str]]:
    """Put the reading in ``state`` (changed in place) and return the changes to tell now, in
    time order: ``(timestamp, value, event)``; ``STALE`` or ``SEEN`` (state unchanged) when
    the reading is too old or known already."""
    recent: list[list[Any]] = [list(p) for p in state.get("recent", [])]
    base = bool(state.get("base", state.get("active", False)))
    told: list[list[Any]] = [list(t) for t in state.get("told", [])]
    newest = recent[-1][0] if recent else state.get("since", 0)
    if (ts < newest - LATE_MS or (len(recent) >= WINDOW and ts < recent[0][0])
            or (not recent and ts < state.get("since", 0))):
        return STALE
    if any(p[0] == ts for p in recent):
        return SEEN
    recent.append([ts, value, limit])
    recent.sort(key=lambda p: p[0])
    while len(recent) > WINDOW:
        _, old_value, old_limit = recent.pop(0)
        base = step(base, old_value, old_limit)[0]
    changes: list[tuple[int, float, str]] = []
    active = base
    for point_ts, point_value, point_limit in recent:  # each with the maximum it met
        active, event = step(active, point_value, point_limit)
        if event:
            changes.append((point_ts, point_value, event))
    new = []
    for i, (change_ts, change_value, event) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else None
        if not any(e == event and change_ts <= t and (until is None or t < until)
                   for t, e in told):
            new.append((change_ts, change_value, event))
    told = [t for t in told if t[0] >= recent[0][0]] + [[t, e] for t, _, e in new]
    told.sort(key=lambda t: t[0])
    state.update(recent=recent, base=base, told=told, active=active)
    if changes:
        state.update(since=changes[-1][0], value=changes[-1][1])
    return new


def step(active: bool, value: float, limit: float) -> tuple[bool, str]:
    """The alarm state after ``value``, and the change it made (``""`` for none)."""
    if not active and value > limit:
        return True, "alarm"
    if active and value <= limit - HYSTERESIS:
        return False, "clear"
    return active, ""


def message(event: str, tank: str, sensor: str, value: float, limit: float, unit: str) -> str:
    if event == "alarm":
        return (f"ALARM: {tank} tank {sensor} is {value:g} {unit}, above the maximum of "
                f"{limit:g} {unit}.")
    return f"OK: {tank} tank {sensor} is back to {value:g} {unit} (maximum {limit:g} {unit})."
