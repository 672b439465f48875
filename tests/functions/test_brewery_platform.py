"""The brewery deployed from its manifest onto a real pwsk, used as the bridge would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pwsk.client import Client
from pwsk.deploy import ManifestError, deploy, load, undeploy
from tests.functions.telegram import FakeTelegram
from tests.servers import Server, start_server

MANIFEST = Path(__file__).resolve().parents[2] / "functions" / "brewery" / "manifest.yaml"


@pytest.fixture
def brewery(tmp_path: Path, telegram: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, Client]]:
    monkeypatch.setenv("TELEGRAM_TOKEN", "TOKEN")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "7")
    monkeypatch.setenv("TELEGRAM_API", telegram)
    srv = start_server(tmp_path)
    client = Client(srv.url, srv.auth)
    try:
        deploy(client, load(MANIFEST), report=lambda _: None)
        yield srv, client
    finally:
        client.close()
        srv.stop()


def _fire(client: Client, value: float, ts: int, tank: str = "mash") -> None:
    assert client.fire_trigger("measurement", {"tank": tank, "sensor": "temperature",
                                               "value": value, "unit": "C", "timestamp": ts})


def _wait(check: Any, limit_s: float = 30) -> Any:
    deadline = time.monotonic() + limit_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_readings_are_stored_and_alarm_once(brewery: tuple[Server, Client]) -> None:
    srv, client = brewery
    now = int(time.time() * 1000)
    values = [64.5, 65.2, 67.4, 68.1, 67.9, 66.0, 65.1, 67.8]
    web = f"{srv.url}/api/v1/web/guest/brewery/get-latest.json"

    def history() -> list[Any]:
        body = httpx.get(web, params={"minutes": 5}).json()
        return body.get("history", {}).get("mash:temperature", [])  # type: ignore[no-any-return]

    for i, value in enumerate(values):
        _fire(client, value, now - (len(values) - i) * 1000)
        # One reading at a time, as a sensor publishes them (seconds apart).
        assert _wait(lambda n=i + 1: len(history()) == n)
        time.sleep(0.2)
    points = history()
    assert [p[1] for p in points] == values
    texts = _wait(lambda: len(FakeTelegram.sent) >= 3 and [m["text"] for m in FakeTelegram.sent])
    time.sleep(1)  # nothing more may arrive
    texts = [m["text"] for m in FakeTelegram.sent]
    assert len(texts) == 3, texts
    assert texts[0].startswith("ALARM: mash tank temperature is 67.4 C")
    assert texts[1].startswith("OK: mash tank temperature is back to 66 C")
    assert texts[2].startswith("ALARM: mash tank temperature is 67.8 C")
    assert all(m["chat_id"] == "7" for m in FakeTelegram.sent)


def test_dashboard_sets_threshold(brewery: tuple[Server, Client]) -> None:
    srv, _ = brewery
    url = f"{srv.url}/api/v1/web/guest/brewery/set-threshold.http"
    r = httpx.post(url, json={"tank": "boil", "sensor": "temperature", "max": 99})
    assert r.status_code == 200 and r.json()["thresholds"]["boil:temperature"] == 99
    bad = httpx.post(url, json={"tank": "boil", "sensor": "temperature", "max": "x"})
    assert bad.status_code == 400 and "max must be a number" in bad.json()["error"]
    assert httpx.post(url, json={"tank": "boil", "sensor": "temperature", "max": 99,
                                 "db_url": "http://evil"}).status_code == 400  # final


def test_redeploy_is_in_place_and_undeploy_removes(brewery: tuple[Server, Client]) -> None:
    _, client = brewery
    plan = load(MANIFEST)
    before = client.get_action("brewery/save-measurement")["version"]
    deploy(client, plan, report=lambda _: None)
    assert client.get_action("brewery/save-measurement")["version"] != before
    assert {r["name"] for r in client.list_rules()} >= {"store-measurement", "raise-alarm"}
    lines: list[str] = []
    undeploy(client, plan, report=lines.append)
    assert "ok: undeployed rule raise-alarm" in lines
    assert client.list_rules() == [] and client.list_triggers() == []
    assert client.list_packages() == []
    undeploy(client, plan, report=lines.append)  # twice is fine


def test_bad_manifests(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("packages:\n  p:\n    actions:\n      a:\n        function: nope.py\n")
    with pytest.raises(ManifestError, match=r"nope\.py does not exist"):
        load(bad)
    bad.write_text("packages:\n  p:\n    inputs:\n      x: ${PWSK_TEST_UNSET_VAR}\n")
    with pytest.raises(ManifestError, match="PWSK_TEST_UNSET_VAR is not set"):
        load(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ManifestError, match="a manifest is a mapping"):
        load(bad)
