"""The brewery actions called directly (``main(args)``), against the embedded store."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from functions.brewery import (
    check_threshold,
    get_latest,
    notify_telegram,
    publish_realtime,
    save_measurement,
    set_threshold,
)
from functions.brewery.common import Db
from tests.functions.telegram import FakeTelegram
from tests.servers import Server


@pytest.fixture
def db(server: Server, name: str) -> dict[str, Any]:
    """The database the actions use: pwsk's embedded store, or the stack's CouchDB."""
    store = server.env.get("PWSK_STORE", "")
    if store.startswith("couchdb://"):
        netloc = urlsplit(store).netloc
        return {"db_url": f"http://{netloc}", "db_auth": "", "db_name": f"brewery_{name}"}
    return {"db_url": f"{server.url}/couch/_", "db_auth": server.auth, "db_name": name}


def reading(value: float, ts: int, tank: str = "mash", sensor: str = "temperature",
            **extra: Any) -> dict[str, Any]:
    unit = {"temperature": "C", "level": "%"}.get(sensor, "state")
    return {"tank": tank, "sensor": sensor, "value": value, "unit": unit, "timestamp": ts,
            **extra}


def test_save_measurement_stores_once(db: dict[str, Any]) -> None:
    first = save_measurement.main(reading(64.9, 1000, **db))
    assert first["stored"] == "reading:mash:temperature:0000000001000"
    assert first["duplicate"] is False
    again = save_measurement.main(reading(64.9, 1000, **db))
    assert again["duplicate"] is True


@pytest.mark.parametrize("bad,fragment", [
    ({"tank": "vat"}, "tank must be one of"),
    ({"sensor": "smell"}, "sensor must be one of"),
    ({"value": "hot"}, "value must be a finite number"),
    ({"value": float("nan")}, "value must be a finite number"),
    ({"unit": "F"}, "unit of temperature must be 'C'"),
    ({"timestamp": -1}, "timestamp must be epoch milliseconds"),
])
def test_bad_readings_are_errors(db: dict[str, Any], bad: dict[str, Any], fragment: str) -> None:
    out = save_measurement.main({**reading(65, 1, **db), **bad})
    assert fragment in out["error"]


def test_the_api_key_goes_only_to_the_embedded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("__OW_API_HOST", "http://pwsk:3233")
    monkeypatch.setenv("__OW_API_KEY", "user:key")
    embedded = Db.from_args({"db_name": "b"})
    assert embedded.base == "http://pwsk:3233/couch/_/b"
    assert embedded.headers["Authorization"] == "Basic dXNlcjprZXk="
    # Another server gets its own credentials or none, never the platform's key.
    assert "Authorization" not in Db.from_args({"db_url": "http://couch:5984"}).headers
    given = Db.from_args({"db_url": "http://couch:5984", "db_auth": "a:b"})
    assert given.headers["Authorization"] == "Basic YTpi"


def test_threshold_alarms_once_per_episode(db: dict[str, Any]) -> None:
    events = [check_threshold.main(reading(v, i, **db))["event"]
              for i, v in enumerate([65, 66.9, 67.5, 68, 67.2, 66.6, 66.4, 66, 67.1, 68])]
    assert events == ["none", "none", "alarm", "none", "none", "none", "clear", "none",
                      "alarm", "none"]


def test_thresholds_from_params_and_dashboard(db: dict[str, Any]) -> None:
    out = check_threshold.main(reading(60, 1, thresholds={"mash:temperature": 59}, **db))
    assert out["event"] == "alarm" and out["max"] == 59
    assert "above the maximum of 59 C" in out["message"]
    set_out = set_threshold.main({"tank": "boil", "sensor": "temperature", "max": "99.5", **db})
    assert set_out["statusCode"] == 200
    assert set_out["body"]["thresholds"]["boil:temperature"] == 99.5
    assert check_threshold.main(reading(100, 2, tank="boil", **db))["event"] == "alarm"
    bad = set_threshold.main({"tank": "boil", "sensor": "temperature", "max": "lots", **db})
    assert bad["error"]["statusCode"] == 400


def test_get_latest_returns_history_window(db: dict[str, Any]) -> None:
    now = 10_000_000
    for i in range(5):
        save_measurement.main(reading(60 + i, now - (4 - i) * 60_000, **db))
    save_measurement.main(reading(50, now - 3_600_000 - 1, **db))  # outside the window
    save_measurement.main(reading(80, now, tank="boil", sensor="level", **db))
    out = get_latest.main({"minutes": 60, "now": now, **db})
    assert out["latest"]["mash:temperature"]["value"] == 64
    assert [p[1] for p in out["history"]["mash:temperature"]] == [60, 61, 62, 63, 64]
    assert out["latest"]["boil:level"]["unit"] == "%"
    assert out["thresholds"]["mash:temperature"] == 67.0
    assert get_latest.main({"minutes": 0, **db})["error"]["statusCode"] == 400
    assert get_latest.main({"tank": "vat", **db})["error"]["statusCode"] == 400


def test_notify_telegram(telegram: str, monkeypatch: pytest.MonkeyPatch) -> None:
    event = {"event": "alarm", "message": "ALARM: hot", "telegram_api": telegram}
    assert notify_telegram.main({"event": "none"}) == {"sent": False, "reason": "no event"}
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    dry = notify_telegram.main(event)
    assert dry["dry_run"] is True and dry["text"] == "ALARM: hot"
    monkeypatch.setenv("TELEGRAM_TOKEN", "TOKEN")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "42")
    sent = notify_telegram.main(event)
    assert sent["sent"] is True and FakeTelegram.sent == [{"chat_id": "42", "text": "ALARM: hot"}]
    # Two changes told at once (a late reading showed a whole episode): two messages.
    both = {**event, "messages": ["ALARM: was hot", "OK: cool again"]}
    assert notify_telegram.main(both)["count"] == 2
    assert [m["text"] for m in FakeTelegram.sent[1:]] == ["ALARM: was hot", "OK: cool again"]
    monkeypatch.setenv("TELEGRAM_TOKEN", "WRONG")
    assert notify_telegram.main(event)["error"] == "Telegram refused the message: Unauthorized"


# Two episodes: 69.6 alone above the maximum, 65.3 back under it, 69.9, then 60.9 and 53.4.
EPISODES = [65.0, 69.6, 65.3, 69.9, 60.9, 53.4]


@pytest.mark.parametrize("order", [
    [0, 1, 2, 3, 4, 5],  # in time order
    [0, 2, 1, 3, 4, 5],  # the clear before the alarm: one episode came and went meanwhile
    [2, 4, 0, 3, 1, 5],
    [5, 4, 3, 2, 1, 0],  # all backwards
    [3, 0, 5, 2, 4, 1],
])
def test_out_of_order_readings_tell_each_episode_once(db: dict[str, Any],
                                                      order: list[int]) -> None:
    told: list[str] = []
    for i in order:
        out = check_threshold.main(reading(EPISODES[i], 1000 + i, **db))
        assert out.get("event") in ("none", "alarm", "clear"), out
        told += out.get("messages", [])
        assert out.get("message") == (out["messages"][-1] if "messages" in out else None)
    alarms = sorted(m for m in told if m.startswith("ALARM"))
    assert alarms == ["ALARM: mash tank temperature is 69.6 C, above the maximum of 67 C.",
                      "ALARM: mash tank temperature is 69.9 C, above the maximum of 67 C."]
    clears = [m for m in told if m.startswith("OK")]
    assert len(clears) == 2 and len(told) == 4, told
    assert "OK: mash tank temperature is back to 65.3 C (maximum 67 C)." in clears
    # Seen again (a redelivery): nothing more to tell.
    assert check_threshold.main(reading(EPISODES[1], 1001, **db))["event"] == "none"


def test_readings_long_before_the_newest_are_stale(db: dict[str, Any]) -> None:
    assert check_threshold.main(reading(60, 10_000_000, **db))["event"] == "none"
    late = check_threshold.main(reading(80, 10_000_000 - 600_001, **db))
    assert late["event"] == "stale"
    # Just within: an overheat that came and went before the newest reading, told whole.
    recent = check_threshold.main(reading(80, 10_000_000 - 599_999, **db))
    assert recent["event"] == "clear" and [m[:6] for m in recent["messages"]] == ["ALARM:",
                                                                                  "OK: ma"]


class _Channel(BaseHTTPRequestHandler):
    """A realtime channel that answers each POST with the next of ``answers``."""

    answers: list[int] = []
    got: list[tuple[str | None, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).got.append((self.headers.get("Authorization"), body))
        self.send_response(self.answers.pop(0) if self.answers else 202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_publish_realtime_tries_a_busy_channel_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish_realtime, "PAUSE_S", 0.01)
    monkeypatch.setenv("__OW_API_KEY", "user:key")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Channel)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/realtime/brewery"
    try:
        _Channel.answers, _Channel.got = [503, 429], []
        out = publish_realtime.main(reading(64.5, 7, realtime_url=url))
        assert out["published"] is True and out["value"] == 64.5
        assert len(_Channel.got) == 3  # two busy answers, then taken
        assert _Channel.got[-1] == ("Basic dXNlcjprZXk=", {
            "tank": "mash", "sensor": "temperature", "value": 64.5, "unit": "C",
            "timestamp": 7})
        _Channel.answers, _Channel.got = [401], []
        out = publish_realtime.main(reading(64.5, 8, realtime_url=url))
        assert out == {"error": "the realtime channel answered 401"}
        assert len(_Channel.got) == 1  # refused: not tried again
        _Channel.answers, _Channel.got = [500] * publish_realtime.ATTEMPTS, []
        out = publish_realtime.main(reading(64.5, 9, realtime_url=url))
        assert out == {"error": "the realtime channel answered 500"}
        assert len(_Channel.got) == publish_realtime.ATTEMPTS == 6
        assert "tank must be one of" in publish_realtime.main({"tank": "vat"})["error"]
    finally:
        srv.shutdown()
        srv.server_close()
    out = publish_realtime.main(reading(64.5, 10, realtime_url=url))  # nobody listens now
    assert out["error"].startswith("the realtime channel is unreachable")


class _Store(BaseHTTPRequestHandler):
    """A CouchDB database that answers each PUT with the next of ``answers`` (then 201)."""

    answers: list[int] = []
    puts: list[str] = []

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).puts.append(self.path)
        status = self.answers.pop(0) if self.answers else 201
        body = json.dumps({"ok": True, "id": "x", "rev": "1-a"} if status == 201 else
                          {"error": "conflict" if status == 409 else "busy"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


def test_save_measurement_tries_a_busy_store_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(save_measurement, "PAUSE_S", 0.01)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Store)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    db = {"db_url": f"http://127.0.0.1:{srv.server_address[1]}", "db_name": "b"}
    try:
        _Store.answers, _Store.puts = [503, 429], []
        out = save_measurement.main(reading(64.5, 7, **db))
        assert out["stored"] == "reading:mash:temperature:0000000000007"
        assert out["duplicate"] is False and len(_Store.puts) == 3
        # A write that timed out or failed after the store took it: the retry's conflict is
        # the same reading, stored once.
        _Store.answers, _Store.puts = [500, 409], []
        out = save_measurement.main(reading(64.5, 8, **db))
        assert out["duplicate"] is True and len(_Store.puts) == 2
        _Store.answers, _Store.puts = [503] * 4, []
        assert save_measurement.main(reading(64.5, 9, **db))["error"].startswith(
            "database answered 503")
        assert len(_Store.puts) == save_measurement.ATTEMPTS
        _Store.answers, _Store.puts = [400], []
        assert "400" in save_measurement.main(reading(64.5, 10, **db))["error"]
        assert len(_Store.puts) == 1  # refused: not tried again
    finally:
        srv.shutdown()
        srv.server_close()
    out = save_measurement.main(reading(64.5, 11, **db))  # nobody listens now
    assert out["error"].startswith("the database is unreachable")
