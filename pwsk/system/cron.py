"""Cron expressions in UTC: parse once, then ask for the next fire time.

Five fields as in crontab(5) — ``minute hour day-of-month month day-of-week`` — or six with a
leading ``second`` field, as the alarms package accepts. Each field is a comma list of
``*``, ``N``, ``A-B``, any of them followed by ``/STEP`` (``N/STEP`` means from N to the end
of the range). Months and weekdays also take English names (``jan``, ``mon``); weekday 7 is
Sunday like 0; ``?`` is a synonym of ``*``. ``@yearly`` (``@annually``), ``@monthly``,
``@weekly``, ``@daily`` (``@midnight``) and ``@hourly`` stand for their usual expansions.

Day-of-month and day-of-week combine the way Vixie cron does: when both are restricted (their
text does not start with ``*``), a day matches if *either* field matches; otherwise both must.

Every problem raises ``CronError`` (a ``ValueError``) with a message that names the field and
the offending value, so the alarms provider can hand it to the user unchanged.
"""

from __future__ import annotations

import bisect
import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# English names whatever the locale (``calendar.month_abbr`` follows it).
_MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (name, low, high, names) per field, seconds first.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)
# No pattern that can fire at all waits longer than this (29 February after a skipped leap
# year in 2100 is 8 years away); the bound only guards the search loop.
_SEARCH_YEARS = 9


class CronError(ValueError):
    """An expression that is not valid cron, or that can never fire."""


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed expression: the allowed values of each field, sorted."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Sunday
    any_day: bool  # day-of-month is unrestricted
    any_weekday: bool  # day-of-week is unrestricted

    @property
    def has_seconds(self) -> bool:
        """True when the expression fires more often than once a minute at second 0."""
        return self.seconds != (0,)

    def matches(self, when: datetime) -> bool:
        t = _utc(when)
        return (t.second in self.seconds and t.minute in self.minutes and t.hour in self.hours
                and t.month in self.months and self._day_matches(t))

    def next_after(self, when: datetime) -> datetime:
        """The first matching instant strictly after ``when`` (naive means UTC), in UTC."""
        t = _utc(when).replace(microsecond=0) + timedelta(seconds=1)
        limit = t.year + _SEARCH_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                month = _next_value(self.months, t.month)
                if month is None:
                    t = datetime(t.year + 1, self.months[0], 1, tzinfo=UTC)
                else:
                    t = datetime(t.year, month, 1, tzinfo=UTC)
                continue
            if not self._day_matches(t):
                t = datetime(t.year, t.month, t.day, tzinfo=UTC) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                hour = _next_value(self.hours, t.hour)
                day = datetime(t.year, t.month, t.day, tzinfo=UTC)
                t = day + (timedelta(hours=hour) if hour is not None else timedelta(days=1))
                continue
            if t.minute not in self.minutes:
                minute = _next_value(self.minutes, t.minute)
                hour_start = t.replace(minute=0, second=0)
                t = hour_start + (timedelta(minutes=minute) if minute is not None
                                  else timedelta(hours=1))
                continue
            if t.second not in self.seconds:
                second = _next_value(self.seconds, t.second)
                minute_start = t.replace(second=0)
                t = minute_start + (timedelta(seconds=second) if second is not None
                                    else timedelta(minutes=1))
                continue
            return t
        raise CronError(f"cron pattern '{self.expression}' never fires")  # pragma: no cover

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow


def parse(expression: str) -> Cron:
    """Parse a 5- or 6-field expression or a macro; ``CronError`` says what is wrong."""
    if not isinstance(expression, str):
        raise CronError("cron pattern must be a string")
    text = MACROS.get(expression.strip().lower(), expression)
    parts = text.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    elif len(parts) != 6:
        raise CronError(
            f"cron pattern '{expression}' is not valid: expected 5 fields (minute hour "
            f"day-of-month month day-of-week) or 6 with seconds first, got {len(parts)}")
    seconds, minutes, hours, days, months, weekdays = (
        _parse_field(part, spec, expression) for part, spec in zip(parts, _FIELDS, strict=True))
    cron = Cron(expression.strip(), seconds, minutes, hours, days, months,
                tuple(sorted({d % 7 for d in weekdays})),
                any_day=parts[3][0] in "*?", any_weekday=parts[5][0] in "*?")
    if cron.any_weekday and not any(day <= _longest(month) for month in cron.months
                                    for day in cron.days):
        raise CronError(f"cron pattern '{expression}' never fires: no month has that day")
    return cron


def _parse_field(text: str, spec: tuple[str, int, int, dict[str, int]],
                 expression: str) -> tuple[int, ...]:
    name, low, high, names = spec

    def bad(why: str) -> CronError:
        return CronError(f"cron pattern '{expression}' is not valid: {name} {why}")

    def number(token: str) -> int:
        value = names.get(token.lower()) if names else None
        if value is None:
            if not token.isdigit():
                raise bad(f"value '{token}' is not a number"
                          + (" or a name" if names else ""))
            value = int(token)
        if not low <= value <= high:
            raise bad(f"value {value} is out of range {low}-{high}")
        return value

    allowed: set[int] = set()
    for item in text.split(","):
        if not item:
            raise bad(f"'{text}' has an empty list item")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise bad(f"step '{step_text}' must be a positive whole number")
            step = int(step_text)
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = number(first), number(last)
            if start > end:
                raise bad(f"range '{base}' runs backwards")
        else:
            start = number(base)
            end = high if slash else start
        allowed.update(range(start, end + 1, step))
    return tuple(sorted(allowed))


def _next_value(values: tuple[int, ...], current: int) -> int | None:
    """The smallest allowed value above ``current``, or None to carry into the next unit."""
    i = bisect.bisect_right(values, current)
    return values[i] if i < len(values) else None


def _longest(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
