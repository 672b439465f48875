"""Conductor actions (spec §5.3): the conductor drives components step by step."""

from __future__ import annotations

import httpx

from tests.api.helpers import NS, annotation, invoke, put_action, wait_activation

CONDUCTOR = [{"key": "conductor", "value": True}]
# Steps: increment twice through the component, then finish with the total.
DRIVER = """
def main(a):
    step = a.get('step', 0)
    if step < 2:
        return {'action': a['target'], 'params': {'n': a.get('n', 0)}, 'state': {'step': step + 1,
                'target': a['target']}}
    return {'params': {'total': a['n']}}
"""


def test_conductor_runs_components_until_done(api: httpx.Client, name: str) -> None:
    put_action(api, f"{name}-inc", "def main(a):\n    return {'n': a['n'] + 1}\n")
    put_action(api, name, DRIVER, annotations=CONDUCTOR)
    r = invoke(api, name, {"n": 5, "target": f"{name}-inc"})
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["response"]["result"] == {"total": 7}
    assert annotation(rec, "conductor") is True and annotation(rec, "kind") == "sequence"
    assert annotation(rec, "topmost") is True
    # conductor, component, conductor, component, conductor
    assert len(rec["logs"]) == 5
    step = wait_activation(api, rec["logs"][1])
    assert step["name"] == f"{name}-inc" and step["cause"] == rec["activationId"]


def test_conductor_missing_component_gets_error(api: httpx.Client, name: str) -> None:
    code = ("def main(a):\n    if 'error' in a:\n        return {'params': {'seen': a['error']}}\n"
            "    return {'action': 'no-such-action'}\n")
    put_action(api, name, code, annotations=CONDUCTOR)
    result = invoke(api, name, result="true").json()
    assert result == {"seen": "The requested resource does not exist."}


def test_conductor_error_stops(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    return {'error': 'nope'}\n", annotations=CONDUCTOR)
    r = invoke(api, name)
    assert r.status_code == 502
    assert r.json()["response"]["result"] == {"error": "nope"}


def test_conductor_non_blocking(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    return {'params': {'done': True}}\n",
               annotations=CONDUCTOR)
    r = api.post(f"{NS}/actions/{name}", json={})
    assert r.status_code == 202
    assert wait_activation(api, r.json()["activationId"])["response"]["result"] == {"done": True}
