"""Sequences (spec §5.2): chaining, cause, short-circuit, PUT-time checks."""

from __future__ import annotations

import httpx

from tests.api.helpers import NS, annotation, invoke, put_action, wait_activation


def _seq(api: httpx.Client, name: str, components: list[str]) -> httpx.Response:
    return api.put(f"{NS}/actions/{name}",
                   json={"exec": {"kind": "sequence", "components": components}})


def test_sequence_chains_results(api: httpx.Client, name: str) -> None:
    put_action(api, f"{name}-1", "def main(a):\n    return {'n': a.get('n', 0) + 1}\n")
    put_action(api, f"{name}-2", "def main(a):\n    return {'n': a['n'] * 10}\n")
    r = _seq(api, name, [f"/_/{name}-1", f"{name}-2"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["exec"] == {"kind": "sequence",
                            "components": [f"/guest/{name}-1", f"/guest/{name}-2"]}
    assert body["parameters"] == [{"key": "_actions",
                                   "value": [f"/guest/{name}-1", f"/guest/{name}-2"]}]
    rec = invoke(api, name, {"n": 1}).json()
    assert rec["response"]["result"] == {"n": 20}
    assert annotation(rec, "kind") == "sequence" and annotation(rec, "topmost") is True
    assert len(rec["logs"]) == 2
    first = wait_activation(api, rec["logs"][0])
    assert first["cause"] == rec["activationId"]
    assert annotation(first, "causedBy") == "sequence"


def test_sequence_stops_at_error(api: httpx.Client, name: str) -> None:
    put_action(api, f"{name}-bad", "def main(a):\n    return {'error': 'stop'}\n")
    put_action(api, f"{name}-never", "def main(a):\n    return {'ran': True}\n")
    _seq(api, name, [f"{name}-bad", f"{name}-never"])
    r = invoke(api, name)
    assert r.status_code == 502
    assert r.json()["response"]["result"] == {"error": "stop"}
    assert len(r.json()["logs"]) == 1


def test_sequence_put_checks(api: httpx.Client, name: str) -> None:
    put_action(api, f"{name}-1", "def main(a):\n    return a\n")
    r = _seq(api, name, [])
    assert r.status_code == 400 and r.json()["error"] == "No component specified for the sequence."
    r = _seq(api, name, [f"{name}-missing"])
    assert r.status_code == 400 and r.json()["error"] == "Sequence component does not exist."
    r = _seq(api, name, [f"{name}-1", name])
    assert r.status_code == 400 and r.json()["error"] == "Sequence may not refer to itself."
    r = _seq(api, name, [f"{name}-1"] * 51)
    assert r.status_code == 400 and r.json()["error"] == "Too many actions in the sequence."


def test_nested_sequence_cycle_rejected(api: httpx.Client, name: str) -> None:
    put_action(api, f"{name}-1", "def main(a):\n    return a\n")
    assert _seq(api, f"{name}-inner", [f"{name}-1"]).status_code == 200
    assert _seq(api, name, [f"{name}-inner", f"{name}-1"]).status_code == 200
    r = api.put(f"{NS}/actions/{name}-inner?overwrite=true",
                json={"exec": {"kind": "sequence", "components": [name]}})
    assert r.status_code == 400 and r.json()["error"] == "Sequence may not refer to itself."


def test_non_blocking_sequence(api: httpx.Client, name: str) -> None:
    put_action(api, f"{name}-1", "def main(a):\n    return {'ok': 1}\n")
    _seq(api, name, [f"{name}-1"])
    r = api.post(f"{NS}/actions/{name}", json={})
    assert r.status_code == 202
    rec = wait_activation(api, r.json()["activationId"])
    assert rec["response"]["result"] == {"ok": 1}
