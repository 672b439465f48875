"""What an alarm is: a schedule (cron, interval or once), a window, a payload — validated.

The feed parameters and messages follow apache/openwhisk-package-alarms, so scripts written
for it work unchanged:

* ``cron`` (the ``alarm`` feed): a cron expression (see ``cron.py``), UTC;
* ``minutes`` (the ``interval`` feed): fire every N minutes, from ``startDate`` if given,
  otherwise N minutes after the alarm is created;
* ``date`` (the ``once`` feed): fire once, then the alarm disables itself, or with
  ``deleteAfterFire`` ``true`` deletes the trigger (``rules``: its rules too);
* ``startDate``/``stopDate`` bound cron and interval alarms, ``maxTriggers`` caps the number
  of fires (``-1`` = no cap); ``trigger_payload`` is the fire payload (a string ``s`` becomes
  ``{"payload": s}``).

Dates are ISO 8601 strings (no offset means UTC) or epoch milliseconds; times inside are
epoch milliseconds. Nothing here does I/O: ``AlarmConfig.next_fire`` is a pure function of
the time it is given, which is what lets the provider's tests run on a fake clock.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from . import cron

Json = dict[str, Any]
KINDS = ("cron", "interval", "once")
DELETE_AFTER_FIRE = ("false", "true", "rules")
# Keys an UPDATE may change, per kind (anything else in the feed parameters is ignored).
_UPDATABLE = {
    "cron": ("cron", "startDate", "stopDate", "trigger_payload", "maxTriggers"),
    "interval": ("minutes", "startDate", "stopDate", "trigger_payload"),
    "once": ("date", "trigger_payload", "deleteAfterFire"),
}


class InvalidAlarm(ValueError):
    """Feed parameters that do not describe an alarm; the message is for the user."""


@dataclass(frozen=True, slots=True)
class AlarmConfig:
    kind: str
    cron: str | None = None
    minutes: int | None = None
    date: int | None = None
    start: int | None = None
    stop: int | None = None
    max_triggers: int = -1
    delete_after_fire: str = "false"
    payload: Json = field(default_factory=dict)
    # Interval alarms fire at anchor + k * minutes; kept so restarts keep the phase.
    anchor: int | None = None

    def next_fire(self, after: int) -> int | None:
        """The first fire time strictly after ``after`` (ms), or None when there is none."""
        due: int | None
        if self.kind == "once":
            due = self.date if self.date is not None and self.date > after else None
        elif self.kind == "interval":
            assert self.minutes is not None and self.anchor is not None
            period = self.minutes * 60_000
            due = self.anchor if after < self.anchor else \
                self.anchor + ((after - self.anchor) // period + 1) * period
        else:
            assert self.cron is not None
            base = after if self.start is None else max(after, self.start - 1)
            nxt = _compiled(self.cron).next_after(datetime.fromtimestamp(base / 1000, UTC))
            due = int(nxt.timestamp() * 1000)
        if due is not None and self.stop is not None and due > self.stop:
            return None
        return due

    def to_json(self) -> Json:
        """The stored form (``from_json`` reads it back)."""
        return {"kind": self.kind, "cron": self.cron, "minutes": self.minutes,
                "date": self.date, "startDate": self.start, "stopDate": self.stop,
                "maxTriggers": self.max_triggers, "deleteAfterFire": self.delete_after_fire,
                "payload": self.payload, "anchor": self.anchor}

    @classmethod
    def from_json(cls, data: Json) -> AlarmConfig:
        return cls(kind=data["kind"], cron=data.get("cron"), minutes=data.get("minutes"),
                   date=data.get("date"), start=data.get("startDate"),
                   stop=data.get("stopDate"), max_triggers=data.get("maxTriggers", -1),
                   delete_after_fire=data.get("deleteAfterFire", "false"),
                   payload=data.get("payload") or {}, anchor=data.get("anchor"))

    def describe(self) -> Json:
        """The ``config`` a READ returns: the feed parameters, dates as ISO strings."""
        out: Json = {"payload": self.payload}
        if self.kind == "once":
            out.update(date=iso(self.date), deleteAfterFire=self.delete_after_fire)
            return out
        if self.kind == "interval":
            out["minutes"] = self.minutes
        else:
            out["cron"] = self.cron
            out["maxTriggers"] = self.max_triggers
        out.update(startDate=iso(self.start), stopDate=iso(self.stop))
        return {k: v for k, v in out.items() if v is not None}


@functools.lru_cache(maxsize=1024)
def _compiled(expression: str) -> cron.Cron:
    return cron.parse(expression)


def create(kind: str, params: Json, now: int) -> AlarmConfig:
    """The configuration a CREATE describes (``InvalidAlarm`` says what is wrong)."""
    if kind not in KINDS:
        raise InvalidAlarm(f"unknown alarm type '{kind}': use one of {', '.join(KINDS)}")
    return _build(kind, params, now, None)


def update(old: AlarmConfig, params: Json, now: int) -> AlarmConfig:
    """``old`` with the updatable parameters in ``params`` applied and re-validated."""
    given = {k: params[k] for k in _UPDATABLE[old.kind] if params.get(k) is not None}
    if not given:
        raise InvalidAlarm("no updatable parameters were specified")
    return _build(old.kind, given, now, old)


def _build(kind: str, params: Json, now: int, old: AlarmConfig | None) -> AlarmConfig:
    config = old or AlarmConfig(kind)
    payload = _payload(params["trigger_payload"]) if params.get("trigger_payload") is not None \
        else config.payload
    config = replace(config, payload=payload)
    if kind == "once":
        return _once(config, params, now)
    if "startDate" in params:
        config = replace(config, start=_date(params["startDate"], "startDate", now))
    if "stopDate" in params:
        config = replace(config, stop=_date(params["stopDate"], "stopDate", now))
    if config.start is not None and config.stop is not None and config.stop <= config.start:
        raise InvalidAlarm(f"stopDate parameter '{iso(config.stop)}' must be greater than "
                           f"the startDate parameter '{iso(config.start)}'")
    if params.get("maxTriggers") is not None:
        config = replace(config, max_triggers=_max_triggers(params["maxTriggers"]))
    if config.max_triggers != -1 and config.stop is not None:
        raise InvalidAlarm("maxTriggers is not supported for the interval trigger feed"
                           if kind == "interval" else
                           "maxTriggers is not allowed when the stopDate parameter is specified")
    config = _interval(config, params, now, old) if kind == "interval" else _cron(config, params)
    if config.next_fire(now) is None:
        raise InvalidAlarm("the first scheduled trigger fire is not until after the stop date")
    return config


def _cron(config: AlarmConfig, params: Json) -> AlarmConfig:
    if "cron" in params:
        try:
            parsed = cron.parse(params["cron"])
        except cron.CronError as exc:
            raise InvalidAlarm(str(exc)) from None
        return replace(config, cron=parsed.expression)
    if config.cron is None:
        raise InvalidAlarm("alarms trigger feed is missing the cron parameter")
    return config


def _interval(config: AlarmConfig, params: Json, now: int,
              old: AlarmConfig | None) -> AlarmConfig:
    if "minutes" in params:
        value = params["minutes"]
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAlarm("the minutes parameter must be an integer")
        if value <= 0:
            raise InvalidAlarm("the minutes parameter must be an integer greater than zero")
        config = replace(config, minutes=value)
    if config.minutes is None:
        raise InvalidAlarm("interval trigger feed is missing the minutes parameter")
    if old is None or "minutes" in params or "startDate" in params:
        anchor = config.start if config.start is not None else now + config.minutes * 60_000
        config = replace(config, anchor=anchor)
    return config


def _once(config: AlarmConfig, params: Json, now: int) -> AlarmConfig:
    if "date" in params:
        config = replace(config, date=_date(params["date"], "date", now))
    if config.date is None:
        raise InvalidAlarm("alarms once trigger feed is missing the date parameter")
    if params.get("deleteAfterFire") is not None:
        value = str(params["deleteAfterFire"]).strip().lower()
        if value not in DELETE_AFTER_FIRE:
            raise InvalidAlarm("deleteAfterFire parameter must be one of [false, true, rules].")
        config = replace(config, delete_after_fire=value)
    return config


def _payload(value: Any) -> Json:
    if isinstance(value, str):
        return {"payload": value}
    if isinstance(value, dict):
        return value
    raise InvalidAlarm("the trigger_payload parameter must be an object or a string")


def _max_triggers(value: Any) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or value < -1:
        raise InvalidAlarm("the maxTriggers parameter must be a positive integer "
                           "(or -1 for no limit)")
    return value


def _date(value: Any, name: str, now: int) -> int:
    """Epoch ms from an ISO 8601 string or a number, which must lie in the future."""
    when: int | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        when = int(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            when = int(parsed.timestamp() * 1000)
    if when is None:
        raise InvalidAlarm(f"{name} parameter '{value}' is not a valid Date")
    if when <= now:
        raise InvalidAlarm(f"{name} parameter '{value}' must be in the future")
    return when


def iso(ms: int | None) -> str | None:
    """Epoch ms → ``2024-05-01T12:00:00.000Z`` (JavaScript's ``toISOString``)."""
    if ms is None:
        return None
    text = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
