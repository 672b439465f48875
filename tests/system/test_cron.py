"""The cron parser: fields, names, steps, day matching and next-fire times, all in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pwsk.system import cron


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
       micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def nxt(expression: str, after: datetime) -> datetime:
    return cron.parse(expression).next_after(after)


def test_five_fields_fire_on_the_minute() -> None:
    c = cron.parse("* * * * *")
    assert c.seconds == (0,) and not c.has_seconds
    assert nxt("* * * * *", at(2024, 5, 1, 12, 0, 30)) == at(2024, 5, 1, 12, 1)
    # strictly after: a matching instant is not its own successor
    assert nxt("* * * * *", at(2024, 5, 1, 12, 1)) == at(2024, 5, 1, 12, 2)


def test_six_fields_put_seconds_first() -> None:
    c = cron.parse("*/20 * * * * *")
    assert c.seconds == (0, 20, 40) and c.has_seconds
    assert nxt("*/20 * * * * *", at(2024, 5, 1, 12, 0, 5)) == at(2024, 5, 1, 12, 0, 20)
    assert nxt("*/20 * * * * *", at(2024, 5, 1, 12, 0, 40)) == at(2024, 5, 1, 12, 1, 0)
    assert nxt("* * * * * *", at(2024, 5, 1, 12, 0, 5, 999_999)) == at(2024, 5, 1, 12, 0, 6)
    assert nxt("30 15 10 * * *", at(2024, 5, 1)) == at(2024, 5, 1, 10, 15, 30)


@pytest.mark.parametrize(("expression", "after", "expected"), [
    # the next day, across a month end and a year end
    ("0 0 * * *", at(2023, 1, 31, 23, 59), at(2023, 2, 1)),
    ("59 23 31 12 *", at(2023, 12, 31, 23, 59), at(2024, 12, 31, 23, 59)),
    ("0 0 1 1 *", at(2023, 12, 31, 23, 59, 59), at(2024, 1, 1)),
    # the 31st skips the months that lack one
    ("0 0 31 * *", at(2023, 1, 31), at(2023, 3, 31)),
    ("0 12 31 * *", at(2023, 5, 31, 13), at(2023, 7, 31, 12)),
    # 29 February: the next leap year, and 2100 is not one
    ("0 0 29 2 *", at(2023, 3, 1), at(2024, 2, 29)),
    ("0 0 29 2 *", at(2096, 3, 1), at(2104, 2, 29)),
    # last hour of a month with a step, carrying into the next month
    ("*/30 23 * * *", at(2024, 4, 30, 23, 30), at(2024, 5, 1, 23, 0)),
])
def test_next_fire_across_month_and_year_ends(expression: str, after: datetime,
                                               expected: datetime) -> None:
    assert nxt(expression, after) == expected


def test_ranges_steps_lists_and_names() -> None:
    c = cron.parse("5,10-12,50/5 */6 1-31/10 JAN-mar,dec mon-fri")
    assert c.minutes == (5, 10, 11, 12, 50, 55)
    assert c.hours == (0, 6, 12, 18)
    assert c.days == (1, 11, 21, 31)
    assert c.months == (1, 2, 3, 12)
    assert c.weekdays == (1, 2, 3, 4, 5)
    assert cron.parse("0 0 * * 7").weekdays == cron.parse("0 0 * * sun").weekdays == (0,)
    assert cron.parse("0 0 * * 5-7").weekdays == (0, 5, 6)
    assert cron.parse("0 0 ? * *").any_day


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # Vixie cron: "13 * fri" is every 13th and every Friday.
    assert nxt("0 0 13 * fri", at(2024, 1, 1)) == at(2024, 1, 5)  # a Friday
    assert nxt("0 0 13 * fri", at(2024, 1, 12)) == at(2024, 1, 13)  # a Saturday, the 13th
    # with a star in one of them, both must hold: Mondays that are 1st/11th/21st/31st
    assert nxt("0 0 */10 * mon", at(2024, 1, 1)) == at(2024, 3, 11)


def test_macros() -> None:
    assert nxt("@hourly", at(2024, 5, 1, 12, 30)) == at(2024, 5, 1, 13)
    assert nxt("@daily", at(2024, 5, 1, 12)) == at(2024, 5, 2)
    assert nxt("@weekly", at(2024, 5, 1)) == at(2024, 5, 5)  # Sunday
    assert nxt("@monthly", at(2024, 5, 1)) == at(2024, 6, 1)
    assert nxt("@yearly", at(2024, 5, 1)) == at(2025, 1, 1)


def test_times_are_utc_whatever_the_input_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    # 13:30+02:00 is 11:30 UTC: noon UTC is still ahead that day; 14:30+02:00 is past it
    assert nxt("0 12 * * *", datetime(2024, 5, 1, 13, 30, tzinfo=plus_two)) == at(2024, 5, 1, 12)
    assert nxt("0 12 * * *", datetime(2024, 5, 1, 14, 30, tzinfo=plus_two)) == at(2024, 5, 2, 12)
    assert nxt("0 12 * * *", datetime(2024, 5, 1, 11, 30)) == at(2024, 5, 1, 12)  # naive: UTC


@pytest.mark.parametrize("expression", [
    "*/7 * * * *", "0 9-17/2 * * 1-5", "15 3 */3 * *", "0 0 31 * *", "0 0 13 * fri",
    "*/15 * * 2 *",
])
def test_next_after_agrees_with_brute_force(expression: str) -> None:
    """Walk a February-to-March window minute by minute: the same fires, in order."""
    c = cron.parse(expression)
    start, end = at(2024, 2, 26), at(2024, 3, 4)
    expected, t = [], start + timedelta(minutes=1)
    while t <= end:
        if c.matches(t):
            expected.append(t)
        t += timedelta(minutes=1)
    actual, t = [], start
    while (t := c.next_after(t)) <= end:
        actual.append(t)
    assert actual == expected


@pytest.mark.parametrize(("expression", "message"), [
    ("* * * *", "expected 5 fields"),
    ("* * * * * * *", "got 7"),
    ("60 * * * *", "minute value 60 is out of range 0-59"),
    ("* 24 * * *", "hour value 24 is out of range 0-23"),
    ("* * 0 * *", "day-of-month value 0 is out of range 1-31"),
    ("* * * 13 *", "month value 13 is out of range 1-12"),
    ("* * * * 8", "day-of-week value 8 is out of range 0-7"),
    ("61 * * * * *", "second value 61"),
    ("*/0 * * * *", "minute step '0' must be a positive whole number"),
    ("5-1 * * * *", "minute range '5-1' runs backwards"),
    ("* * * foo *", "month value 'foo' is not a number or a name"),
    ("x * * * *", "minute value 'x' is not a number"),
    ("1,,2 * * * *", "minute '1,,2' has an empty list item"),
    ("0 0 30 2 *", "never fires"),
    ("0 0 31 4,6,9,11 *", "never fires"),
])
def test_invalid_expressions_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(cron.CronError) as err:
        cron.parse(expression)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_a_non_string_is_rejected() -> None:
    with pytest.raises(cron.CronError, match="must be a string"):
        cron.parse(5)  # type: ignore[arg-type]
