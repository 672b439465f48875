"""Triggers, rules and fire semantics (spec §2.2, §2.3, §5.1)."""

from __future__ import annotations

import json
import time

import httpx

from tests.api.helpers import ECHO, NS, put_action, wait_activation


def _setup(api: httpx.Client, name: str, params: list[dict[str, object]] | None = None) -> None:
    put_action(api, f"{name}-a", ECHO)
    assert api.put(f"{NS}/triggers/{name}-t", json={"parameters": params or []}).status_code == 200
    r = api.put(f"{NS}/rules/{name}-r", json={"trigger": f"/_/{name}-t",
                                              "action": f"/_/{name}-a"})
    assert r.status_code == 200, r.text


def test_trigger_crud(api: httpx.Client, name: str) -> None:
    r = api.put(f"{NS}/triggers/{name}", json={"parameters": [{"key": "a", "value": 1}]})
    assert r.status_code == 200
    assert r.json()["limits"] == {} and r.json()["version"] == "0.0.1"
    assert api.put(f"{NS}/triggers/{name}", json={}).status_code == 409
    updated = api.put(f"{NS}/triggers/{name}?overwrite=true", json={"publish": True}).json()
    assert updated["version"] == "0.0.2" and updated["parameters"] == [{"key": "a", "value": 1}]
    names = [t["name"] for t in api.get(f"{NS}/triggers").json()]
    assert name in names
    assert api.delete(f"{NS}/triggers/{name}").status_code == 200
    assert api.get(f"{NS}/triggers/{name}").status_code == 404


def test_fire_without_rules_is_204(api: httpx.Client, name: str) -> None:
    api.put(f"{NS}/triggers/{name}", json={})
    r = api.post(f"{NS}/triggers/{name}", json={"x": 1})
    assert r.status_code == 204 and r.content == b""


def test_fire_missing_trigger_is_404(api: httpx.Client, name: str) -> None:
    assert api.post(f"{NS}/triggers/{name}", json={}).status_code == 404


def test_rule_status_lives_in_trigger(api: httpx.Client, name: str) -> None:
    _setup(api, name)
    rule = api.get(f"{NS}/rules/{name}-r").json()
    assert rule["status"] == "active"
    assert rule["trigger"] == {"path": "guest", "name": f"{name}-t"}
    assert rule["action"] == {"path": "guest", "name": f"{name}-a"}
    trigger = api.get(f"{NS}/triggers/{name}-t").json()
    assert trigger["rules"] == {f"guest/{name}-r": {
        "action": {"path": "guest", "name": f"{name}-a"}, "status": "active"}}
    r = api.post(f"{NS}/rules/{name}-r", json={"status": "inactive"})
    assert r.status_code == 200 and r.json()["status"] == "inactive"
    assert api.get(f"{NS}/rules/{name}-r").json()["status"] == "inactive"
    assert api.post(f"{NS}/triggers/{name}-t", json={}).status_code == 204
    assert api.post(f"{NS}/rules/{name}-r", json={"status": "active"}).status_code == 200
    assert api.post(f"{NS}/rules/{name}-r", json={"status": "activating"}).status_code == 400


def test_fire_runs_rules_and_logs_per_rule(api: httpx.Client, name: str) -> None:
    _setup(api, name, params=[{"key": "tp", "value": "T"}])
    r = api.post(f"{NS}/triggers/{name}-t", json={"x": 1},
                 headers={"X-Custom": "abc"})
    assert r.status_code == 202
    tid = r.json()["activationId"]
    assert r.headers["x-openwhisk-activation-id"] == tid
    record = wait_activation(api, tid)
    assert record["name"] == f"{name}-t"
    assert "end" not in record and "duration" not in record
    assert record["response"]["result"] == {"x": 1}
    assert len(record["logs"]) == 1
    line = json.loads(record["logs"][0])
    assert line["statusCode"] == 0 and line["success"] is True
    assert line["rule"] == f"guest/{name}-r" and line["action"] == f"guest/{name}-a"
    action_record = wait_activation(api, line["activationId"])
    result = action_record["response"]["result"]
    assert result["x"] == 1 and result["tp"] == "T"
    assert result["__ow_headers"]["x-custom"] == "abc"
    assert "authorization" not in result["__ow_headers"]


def test_fire_logs_failing_rule(api: httpx.Client, name: str) -> None:
    _setup(api, name)
    api.delete(f"{NS}/actions/{name}-a")
    r = api.post(f"{NS}/triggers/{name}-t", json={})
    assert r.status_code == 202
    line = json.loads(wait_activation(api, r.json()["activationId"])["logs"][0])
    assert line["success"] is False and line["statusCode"] == 1
    assert line["error"] == "The requested resource does not exist."


def test_rule_needs_existing_trigger_and_action(api: httpx.Client, name: str) -> None:
    put_action(api, f"{name}-a", ECHO)
    r = api.put(f"{NS}/rules/{name}", json={"trigger": f"/_/{name}-none",
                                            "action": f"/_/{name}-a"})
    assert r.status_code == 400
    assert r.json()["error"] == f"trigger /guest/{name}-none does not exist"
    api.put(f"{NS}/triggers/{name}-t", json={})
    r = api.put(f"{NS}/rules/{name}", json={"trigger": f"/_/{name}-t",
                                            "action": f"/_/{name}-none"})
    assert r.status_code == 400


def test_rule_delete_unlinks_trigger(api: httpx.Client, name: str) -> None:
    _setup(api, name)
    assert api.delete(f"{NS}/rules/{name}-r").status_code == 200
    assert "rules" not in api.get(f"{NS}/triggers/{name}-t").json()
    assert api.get(f"{NS}/rules/{name}-r").status_code == 404


def test_rule_with_deleted_trigger(api: httpx.Client, name: str) -> None:
    _setup(api, name)
    api.delete(f"{NS}/triggers/{name}-t")
    assert api.get(f"{NS}/rules/{name}-r").json()["status"] == "inactive"
    r = api.post(f"{NS}/rules/{name}-r", json={"status": "active"})
    assert r.status_code == 404
    assert r.json()["error"] == "Only rules with existing triggers can be activated"


def test_two_rules_fire_two_actions(api: httpx.Client, name: str) -> None:
    _setup(api, name)
    put_action(api, f"{name}-b", "def main(a):\n    return {'b': True}\n")
    api.put(f"{NS}/rules/{name}-r2", json={"trigger": f"/_/{name}-t", "action": f"/_/{name}-b"})
    r = api.post(f"{NS}/triggers/{name}-t", json={})
    record = wait_activation(api, r.json()["activationId"])
    deadline = time.monotonic() + 5
    while len(record["logs"]) < 2 and time.monotonic() < deadline:
        record = wait_activation(api, r.json()["activationId"])
    actions = sorted(json.loads(line)["action"] for line in record["logs"])
    assert actions == [f"guest/{name}-a", f"guest/{name}-b"]
