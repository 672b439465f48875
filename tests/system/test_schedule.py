"""Alarm configurations: validation with the alarms package's messages, and fire times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pwsk.system import schedule
from pwsk.system.schedule import AlarmConfig, InvalidAlarm

NOW = int(datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def invalid(kind: str, params: dict[str, Any]) -> str:
    with pytest.raises(InvalidAlarm) as err:
        schedule.create(kind, params, NOW)
    return str(err.value)


def test_cron_alarm_fires_on_its_schedule() -> None:
    config = schedule.create("cron", {"cron": "*/10 * * * *"}, NOW)
    assert config.next_fire(NOW) == NOW + 10 * MINUTE
    assert config.next_fire(NOW + 10 * MINUTE) == NOW + 20 * MINUTE
    assert config.max_triggers == -1 and config.payload == {}


def test_start_and_stop_dates_bound_a_cron_alarm() -> None:
    config = schedule.create("cron", {"cron": "0 * * * *", "startDate": "2024-05-01T15:30:00Z",
                                      "stopDate": "2024-05-01T17:00:00Z"}, NOW)
    assert config.next_fire(NOW) == ms("2024-05-01T16:00:00")
    assert config.next_fire(ms("2024-05-01T16:00:00")) == ms("2024-05-01T17:00:00")
    assert config.next_fire(ms("2024-05-01T17:00:00")) is None
    # a start date exactly on a fire time includes it
    on_time = schedule.create("cron", {"cron": "0 * * * *", "startDate": ms("2024-05-01T15:00")},
                              NOW)
    assert on_time.next_fire(NOW) == ms("2024-05-01T15:00:00")


def test_interval_alarm_keeps_its_phase() -> None:
    config = schedule.create("interval", {"minutes": 5}, NOW)
    assert config.anchor == NOW + 5 * MINUTE
    assert config.next_fire(NOW) == NOW + 5 * MINUTE
    assert config.next_fire(NOW + 5 * MINUTE) == NOW + 10 * MINUTE
    assert config.next_fire(NOW + 12 * MINUTE) == NOW + 15 * MINUTE  # missed ones are skipped
    started = schedule.create("interval", {"minutes": "2", "startDate": NOW + 1000}, NOW)
    assert started.minutes == 2 and started.next_fire(NOW) == NOW + 1000


def test_once_alarm_fires_once() -> None:
    config = schedule.create("once", {"date": "2024-05-02T00:00:00.000Z",
                                      "deleteAfterFire": "Rules"}, NOW)
    assert config.next_fire(NOW) == ms("2024-05-02T00:00:00")
    assert config.next_fire(ms("2024-05-02T00:00:00")) is None
    assert config.delete_after_fire == "rules"


def test_payload_string_or_object() -> None:
    assert schedule.create("cron", {"cron": "* * * * *", "trigger_payload": "hi"},
                           NOW).payload == {"payload": "hi"}
    assert schedule.create("cron", {"cron": "* * * * *", "trigger_payload": {"a": 1}},
                           NOW).payload == {"a": 1}
    assert "trigger_payload" in invalid("cron", {"cron": "* * * * *", "trigger_payload": [1]})


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("cron", {}, "alarms trigger feed is missing the cron parameter"),
    ("cron", {"cron": "* * *"}, "cron pattern '* * *' is not valid"),
    ("interval", {}, "interval trigger feed is missing the minutes parameter"),
    ("interval", {"minutes": 1.5}, "the minutes parameter must be an integer"),
    ("interval", {"minutes": 0}, "the minutes parameter must be an integer greater than zero"),
    ("once", {}, "alarms once trigger feed is missing the date parameter"),
    ("once", {"date": "tomorrow"}, "date parameter 'tomorrow' is not a valid Date"),
    ("once", {"date": "2024-05-01T11:00:00Z"}, "must be in the future"),
    ("once", {"date": "2024-05-02", "deleteAfterFire": "maybe"},
     "deleteAfterFire parameter must be one of [false, true, rules]."),
    ("cron", {"cron": "* * * * *", "startDate": "2024-06-01", "stopDate": "2024-05-20"},
     "stopDate parameter '2024-05-20T00:00:00.000Z' must be greater than the startDate"),
    ("cron", {"cron": "* * * * *", "stopDate": "2024-06-01", "maxTriggers": 3},
     "maxTriggers is not allowed when the stopDate parameter is specified"),
    ("interval", {"minutes": 1, "stopDate": "2024-06-01", "maxTriggers": 3},
     "maxTriggers is not supported for the interval trigger feed"),
    ("cron", {"cron": "* * * * *", "maxTriggers": 0}, "maxTriggers parameter must be"),
    ("cron", {"cron": "0 0 1 1 *", "stopDate": "2024-06-01"},
     "the first scheduled trigger fire is not until after the stop date"),
    ("sometimes", {}, "unknown alarm type 'sometimes'"),
])
def test_invalid_parameters_are_explained(kind: str, params: dict[str, Any],
                                          message: str) -> None:
    assert message in invalid(kind, params)


def test_update_changes_only_what_it_names() -> None:
    old = schedule.create("cron", {"cron": "0 * * * *", "trigger_payload": {"a": 1},
                                   "startDate": NOW + MINUTE}, NOW)
    later = NOW + 2 * MINUTE  # the start date is now in the past: fine, it was not given again
    new = schedule.update(old, {"cron": "30 * * * *", "minutes": 9}, later)
    assert new.cron == "30 * * * *" and new.payload == {"a": 1} and new.minutes is None
    assert new.next_fire(later) == NOW + 30 * MINUTE
    with pytest.raises(InvalidAlarm, match="no updatable parameters were specified"):
        schedule.update(old, {"minutes": 5, "date": "2030-01-01"}, later)
    with pytest.raises(InvalidAlarm, match="must be in the future"):
        schedule.update(old, {"startDate": NOW}, later)


def test_stored_form_round_trips_and_reads_back_as_the_feed_parameters() -> None:
    config = schedule.create("cron", {"cron": "0 * * * *", "stopDate": "2024-06-01T00:00:00Z",
                                      "trigger_payload": "x"}, NOW)
    assert AlarmConfig.from_json(config.to_json()) == config
    assert config.describe() == {"cron": "0 * * * *", "maxTriggers": -1,
                                 "payload": {"payload": "x"},
                                 "stopDate": "2024-06-01T00:00:00.000Z"}
    once = schedule.create("once", {"date": NOW + MINUTE}, NOW)
    assert once.describe() == {"date": "2024-05-01T12:01:00.000Z", "deleteAfterFire": "false",
                               "payload": {}}
