"""Activation queries: list filters, get, logs, result, bad ids."""

from __future__ import annotations

import time

import httpx

from tests.api.helpers import NS, invoke, put_action, wait_activation


def test_list_get_logs_result(api: httpx.Client, name: str) -> None:
    put_action(api, name,
               "def main(a):\n    print('line', a.get('i'))\n    return {'i': a.get('i')}\n")
    before = int(time.time() * 1000) - 1
    ids = [invoke(api, name, {"i": i}).json()["activationId"] for i in range(3)]
    for aid in ids:
        wait_activation(api, aid)
    listed = api.get(f"{NS}/activations", params={"name": name}).json()
    assert [a["activationId"] for a in listed] == ids[::-1]
    assert "logs" not in listed[0] and listed[0]["statusCode"] == 0
    docs = api.get(f"{NS}/activations", params={"name": name, "docs": "true"}).json()
    assert docs[0]["response"]["result"] == {"i": 2}
    assert api.get(f"{NS}/activations", params={"name": name, "count": "true"}).json() == {
        "activations": 3}
    assert len(api.get(f"{NS}/activations", params={"name": name, "limit": 1, "skip": 1})
               .json()) == 1
    assert len(api.get(f"{NS}/activations", params={"name": name, "since": before}).json()) == 3
    assert api.get(f"{NS}/activations", params={"name": name, "upto": before}).json() == []
    result = api.get(f"{NS}/activations/{ids[0]}/result").json()
    assert result == {"result": {"i": 0}, "success": True, "status": "success", "size": 8}
    logs = api.get(f"{NS}/activations/{ids[0]}/logs").json()["logs"]
    assert len(logs) == 1 and logs[0].endswith("stdout: line 0")
    r = api.get(f"{NS}/activations", params={"count": "true", "docs": "true"})
    assert r.status_code == 400


def test_packaged_action_name_filter(api: httpx.Client, name: str) -> None:
    api.put(f"{NS}/packages/{name}", json={})
    put_action(api, f"{name}/x", "def main(a):\n    return {}\n")
    aid = invoke(api, f"{name}/x").json()["activationId"]
    wait_activation(api, aid)
    listed = api.get(f"{NS}/activations", params={"name": f"{name}/x"}).json()
    assert [a["activationId"] for a in listed] == [aid]


def test_bad_and_missing_ids(api: httpx.Client) -> None:
    assert api.get(f"{NS}/activations/xyz").status_code == 400
    assert api.get(f"{NS}/activations/{'0' * 32}").status_code == 404
    assert api.get(f"{NS}/activations/{'0' * 32}/logs").status_code == 404
