"""Hostile actions on a real standalone (process containers): each ends in its documented
activation status with its limit enforced, the platform keeps serving, and a well-behaved
action running alongside never notices.

The process backend isolates nothing (no memory, pids or disk limits, see SECURITY.md):
allocating until OOM, fork bombs and filling the disk are tried on Docker, in
``test_hostile_docker.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.helpers import NS, annotation, invoke, put_action
from tests.reliability.conftest import FIGURES, assert_alive
from tests.servers import Server

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
DEV_ERROR = "action developer error"
APP_ERROR = "application error"


@dataclass
class Neighbour:
    """An echo action invoked over and over while the hostile ones run."""

    client: httpx.Client
    stop: threading.Event = field(default_factory=threading.Event)
    results: list[tuple[int, Any]] = field(default_factory=list)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            r = invoke(self.client, "neighbour", {"n": n}, result="true")
            self.results.append((n, r.json() if r.status_code == 200 else r.text))
            self.stop.wait(0.05)  # steady, not a tight loop on two cores


@pytest.fixture(scope="module")
def neighbour(own_server: Server) -> Iterator[Neighbour]:
    with own_server.client() as client, own_server.client() as background:
        put_action(client, "neighbour", "def main(args):\n    return {'n': args['n']}\n")
        nb = Neighbour(background)
        thread = threading.Thread(target=nb.run, daemon=True)
        thread.start()
        yield nb
        nb.stop.set()
        thread.join(timeout=90)
    FIGURES["well-behaved activations alongside hostile ones"] += len(nb.results)
    assert len(nb.results) >= 5
    assert all(result == {"n": n} for n, result in nb.results), nb.results[:5]


@pytest.fixture
def api(own_server: Server, neighbour: Neighbour) -> Iterator[httpx.Client]:
    with own_server.client() as client:
        yield client
    assert_alive(own_server)


def _hostile(api: httpx.Client, name: str, code: str, kind: str = "python:3.11",
             annotations: list[dict[str, Any]] | None = None, **limits: int) -> dict[str, Any]:
    """Create and invoke (blocking) a hostile action; the activation record."""
    if kind == "blackbox":
        body = {"exec": {"kind": kind, "code": code, "image": "openwhisk/dockerskeleton"},
                "limits": limits}
        assert api.put(f"{NS}/actions/{name}", json=body).status_code == 200
    else:
        put_action(api, name, code, kind=kind, limits=limits, annotations=annotations or [])
    FIGURES["hostile actions tried"] += 1
    r = invoke(api, name)
    assert r.status_code in (200, 502), r.text
    record: dict[str, Any] = r.json()
    return record


def _cold(api: httpx.Client, name: str) -> bool:
    """Whether the next activation of ``name`` starts a new container (``initTime``)."""
    r = invoke(api, name)
    return annotation(r.json(), "initTime") is not None


def _logs(record: dict[str, Any]) -> list[str]:
    return [line.split(": ", 1)[1] if ": " in line else line for line in record["logs"]]


@pytest.mark.parametrize("kind", ["python:3.11", "nodejs:20"])
def test_loop_forever_is_a_timeout_and_the_container_goes(api: httpx.Client,
                                                           kind: str) -> None:
    code = ("def main(args):\n    while True:\n        pass\n" if kind.startswith("python")
            else "function main() { for (;;) {} }\n")
    record = _hostile(api, f"loop-{kind[:4]}", code, kind, timeout=1500)
    assert record["response"]["status"] == DEV_ERROR
    assert record["response"]["result"] == {
        "error": "The action exceeded its time limits of 1500 milliseconds."}
    assert annotation(record, "timeout") is True
    assert _cold(api, f"loop-{kind[:4]}")  # destroyed: the next one starts afresh


def test_gigabytes_of_logs_are_cut_at_the_log_limit(api: httpx.Client) -> None:
    code = ("import sys\ndef main(args):\n    line = 'x' * 1023 + '\\n'\n"
            "    for _ in range(64 * 1024):\n        sys.stdout.write(line)\n"
            "    return {'ok': True}\n")
    record = _hostile(api, "chatty", code, logs=1)  # 64 MB written, 1 MB kept
    assert record["response"]["status"] == "success"
    logs = _logs(record)
    assert logs[-1] == ("Logs were truncated because the total bytes size exceeds the limit "
                        "of 1048576 bytes.")
    assert 900 <= len(logs) <= 1100
    again = invoke(api, "chatty").json()  # the next activation is cut the same, not polluted
    assert _logs(again)[-1] == logs[-1] and len(again["logs"]) == len(logs)


def test_printing_the_sentinel_cuts_only_its_own_logs(api: httpx.Client) -> None:
    code = (f"import sys\ndef main(args):\n    print('before')\n    print('{SENTINEL}')\n"
            f"    print('{SENTINEL}', file=sys.stderr)\n    print('after')\n"
            "    return {'ok': True}\n")
    record = _hostile(api, "forger", code)
    assert record["response"]["status"] == "success"
    assert record["response"]["result"] == {"ok": True}
    # The forged sentinels are neither shown nor taken for the end of the activation.
    assert _logs(record) == ["before", "after"]
    again = invoke(api, "forger").json()
    assert _logs(again) == ["before", "after"]
    neighbour_logs = invoke(api, "neighbour", {"n": 0}).json()["logs"]
    assert not any("after" in line or "before" in line for line in neighbour_logs)


def test_returning_100_mb_is_an_application_error_with_the_cap(api: httpx.Client) -> None:
    code = "def main(args):\n    return {'x': 'a' * (100 * 1024 * 1024)}\n"
    record = _hostile(api, "hoarder", code)
    assert record["response"]["status"] == APP_ERROR
    error = record["response"]["result"]["error"]
    assert error.startswith("The action produced a response that exceeded the allowed length: "
                            "104857609 > 1048576 bytes. The truncated response was: {")
    assert len(error) < 1100 * 1024


def test_a_result_nested_too_deep_is_a_developer_error_and_recorded(api: httpx.Client) -> None:
    code = ("def main(args):\n    v = []\n    for _ in range(600):\n        v = [v]\n"
            "    return {'v': v}\n")
    record = _hostile(api, "nester", code)
    assert record["response"]["status"] == DEV_ERROR
    assert record["response"]["result"]["error"].startswith(
        "The action did not produce a valid JSON or JSON Array response")
    stored = api.get(f"{NS}/activations/{record['activationId']}")
    assert stored.status_code == 200 and stored.json()["response"]["status"] == DEV_ERROR


@pytest.mark.parametrize("how", ["exit", "close stdout"])
def test_exiting_mid_run_is_a_developer_error(api: httpx.Client, how: str) -> None:
    body = ("    print('bye')\n    os._exit(3)\n" if how == "exit"
            else "    os.close(1)\n    os.close(2)\n    return {'ok': True}\n")
    name = "quitter" if how == "exit" else "closer"
    record = _hostile(api, name, f"import os\ndef main(args):\n{body}", timeout=20000)
    assert record["response"]["status"] == DEV_ERROR
    assert record["response"]["result"] == {
        "error": "The action did not produce a valid response and exited unexpectedly."}
    assert _logs(record)[-1] == ("The action did not initialize or run as expected. Log data "
                                 "might be missing.")
    assert _cold(api, name)


def test_a_blackbox_that_forges_the_sentinel_and_exits(api: httpx.Client) -> None:
    code = f"#!/bin/sh\necho '{SENTINEL}'\necho '{SENTINEL}' >&2\nkill -9 $PPID\nexit 7\n"
    record = _hostile(api, "shell", code, kind="blackbox", timeout=20000)
    assert record["response"]["status"] == DEV_ERROR
    assert _cold(api, "shell")


def test_calling_the_controller_with_its_own_key_reaches_only_its_namespace(
        api: httpx.Client) -> None:
    """An action gets its namespace's key (to call the API); with it, another namespace's
    entities stay out of reach."""
    code = ("import os, urllib.request, base64\n"
            "def main(args):\n"
            "    key = base64.b64encode(os.environ['__OW_API_KEY'].encode()).decode()\n"
            "    out = {}\n"
            "    for ns in ('_', 'whisk.system', 'someone-else'):\n"
            "        req = urllib.request.Request(os.environ['__OW_API_HOST'] + '/api/v1/'\n"
            "            'namespaces/' + ns + '/actions',\n"
            "            headers={'Authorization': 'Basic ' + key})\n"
            "        try:\n"
            "            out[ns] = urllib.request.urlopen(req, timeout=20).status\n"
            "        except urllib.error.HTTPError as e:\n"
            "            out[ns] = e.code\n"
            "    return out\n")
    record = _hostile(api, "caller", code, timeout=30000,
                      annotations=[{"key": "provide-api-key", "value": True}])
    assert record["response"]["result"] == {"_": 200, "whisk.system": 403, "someone-else": 403}
