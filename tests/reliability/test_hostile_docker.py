"""Hostile actions where only containers can hold them: a standalone running actions in Docker
(memory, pids and disk limits, a read-only root, no Docker socket, no traffic between
containers). Few and quick: each action gives up as soon as the limit says no."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from invoker.containers.docker import engine_available, socket_path
from tests.api.helpers import invoke, put_action
from tests.reliability.conftest import FIGURES, assert_alive
from tests.servers import Server, start_server

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def docker_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not engine_available():
        pytest.fail(f"no Docker engine answers on {socket_path()}: scripts/lib/docker.sh "
                    "(scripts/test runs it) installs and starts one", pytrace=False)
    srv = start_server(tmp_path_factory.mktemp("hostile-docker"),
                       env={"PWSK_CONTAINERS": "docker"})
    assert "containers: Docker" in srv.log(), srv.log()
    yield srv
    srv.stop()


@pytest.fixture
def api(docker_server: Server) -> Iterator[httpx.Client]:
    with docker_server.client() as client:
        yield client
        # The platform keeps serving: a well-behaved action still runs.
        client.put("/api/v1/namespaces/_/actions/calm?overwrite=true", json={"exec": {
            "kind": "python:3.11", "code": "def main(args):\n    return {'calm': True}\n"}})
        assert invoke(client, "calm", result="true").json() == {"calm": True}
    assert_alive(docker_server)


def _run(api: httpx.Client, name: str, code: str, **limits: int) -> dict[str, Any]:
    put_action(api, name, code, limits=limits)
    FIGURES["hostile actions tried"] += 1
    r = invoke(api, name)
    assert r.status_code in (200, 502), r.text
    record: dict[str, Any] = r.json()
    return record


def test_allocating_until_oom_is_aborted_at_the_memory_limit(api: httpx.Client) -> None:
    code = ("def main(args):\n    hoard = []\n    while True:\n"
            "        hoard.append(bytearray(8 << 20))\n")
    record = _run(api, "glutton", code, memory=128, timeout=30000)
    assert record["response"]["status"] == "action developer error"
    assert record["response"]["result"] == {
        "error": "The action exhausted its memory and was aborted."}


def test_forking_stops_at_the_pids_limit(api: httpx.Client) -> None:
    code = ("import os\ndef main(args):\n    n = 0\n    try:\n        while True:\n"
            "            if os.fork() == 0:\n"
            "                os.execv('/bin/sleep', ['sleep', '30'])\n            n += 1\n"
            "    except OSError as exc:\n        return {'forked': n, 'errno': exc.errno}\n")
    record = _run(api, "breeder", code, timeout=30000)
    result = record["response"]["result"]
    assert record["response"]["status"] == "success", result
    assert result["errno"] == 11 and 50 < result["forked"] < 1024  # EAGAIN at --pids-limit


def test_filling_the_disk_is_refused(api: httpx.Client) -> None:
    code = ("import errno, os\ndef main(args):\n    out = {}\n"
            "    for d in ('/', '/usr', '/opt'):\n        try:\n"
            "            open(os.path.join(d, 'x'), 'wb').write(b'x')\n"
            "            out[d] = 'written'\n        except OSError as exc:\n"
            "            out[d] = errno.errorcode[exc.errno]\n"
            "    mb = 0\n    try:\n        with open('/tmp/fill', 'wb') as f:\n"
            "            while mb < 1024:\n                f.write(b'x' * (1 << 20))\n"
            "                f.flush()\n                mb += 1\n"
            "    except OSError as exc:\n        out['tmp'] = errno.errorcode[exc.errno]\n"
            "    out['mb'] = mb\n    return out\n")
    record = _run(api, "filler", code, memory=256, timeout=30000)
    result = record["response"]["result"]
    if record["response"]["status"] == "success":
        assert result["/"] == result["/usr"] == result["/opt"] == "EROFS", result
        assert result["tmp"] == "ENOSPC" and result["mb"] <= 256, result
    else:  # tmpfs pages count against the memory limit: the kernel may win the race
        assert result == {"error": "The action exhausted its memory and was aborted."}


def test_no_docker_socket_and_no_way_into_another_container(api: httpx.Client) -> None:
    victim = ("import socket\ndef main(args):\n"
              "    return {'ip': socket.gethostbyname(socket.gethostname())}\n")
    put_action(api, "victim", victim)
    ip = invoke(api, "victim", result="true").json()["ip"]  # stays warm for a while
    code = ("import os, socket\ndef main(args):\n"
            "    out = {'sockets': [p for p in ('/var/run/docker.sock', '/run/docker.sock')\n"
            "                       if os.path.exists(p)]}\n"
            "    try:\n"
            "        socket.create_connection((args['ip'], 8080), timeout=3).close()\n"
            "        out['victim'] = 'reached'\n"
            "    except OSError as exc:\n"
            "        out['victim'] = type(exc).__name__\n"
            "    return out\n")
    put_action(api, "prowler", code)
    FIGURES["hostile actions tried"] += 1
    result = invoke(api, "prowler", {"ip": ip}, result="true").json()
    assert result["sockets"] == []
    assert result["victim"] != "reached", result


def test_a_timed_out_container_is_destroyed(api: httpx.Client) -> None:
    code = ("import os\ndef main(args):\n    while args.get('loop'):\n        pass\n"
            "    return {'id': os.environ['HOSTNAME']}\n")
    put_action(api, "sleeper", code, limits={"timeout": 2000})
    cid = invoke(api, "sleeper", result="true").json()["id"]
    FIGURES["hostile actions tried"] += 1
    record = invoke(api, "sleeper", {"loop": True}).json()  # the same, warm container
    assert record["response"]["status"] == "action developer error"
    with httpx.Client(transport=httpx.HTTPTransport(uds=socket_path()),
                      base_url="http://docker", timeout=30) as engine:
        deadline = time.monotonic() + 60
        while engine.get(f"/containers/{cid}/json").status_code != 404:
            assert time.monotonic() < deadline, f"container {cid} outlived its timeout"
            time.sleep(0.5)
    assert invoke(api, "sleeper", result="true").json()["id"] != cid


def test_a_forged_sentinel_neither_cuts_nor_shows(api: httpx.Client) -> None:
    sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
    code = (f"import sys\ndef main(args):\n    print('before', flush=True)\n"
            f"    print('{sentinel}', flush=True)\n"
            f"    print('{sentinel}', file=sys.stderr, flush=True)\n    print('after')\n"
            "    return {'ok': True}\n")
    put_action(api, "forger", code)
    FIGURES["hostile actions tried"] += 1
    lines = []
    for _ in range(2):  # cold, then warm
        record = invoke(api, "forger").json()
        assert record["response"]["status"] == "success"
        lines.append([line.split(": ", 1)[1] for line in record["logs"]])
    # Usually each activation has both lines. Docker's log stream may deliver the forged
    # sentinel before the proxy's own: then the rest goes to this container's next
    # activation (the same action's, the same namespace's), never elsewhere.
    assert lines[0][0] == "before"
    assert all(line in ("before", "after") for logs in lines for line in logs), lines
    calm = invoke(api, "calm").json() if api.get(
        "/api/v1/namespaces/_/actions/calm").status_code == 200 else {"logs": []}
    assert not any("before" in x or "after" in x for x in calm["logs"])


def test_the_engines_on_the_host_are_out_of_reach(api: httpx.Client) -> None:
    """From a container the host answers on the API port only: not Kafka, Consul, the store,
    the MQTT broker or a Docker daemon over TCP (the engines listen on loopback)."""
    code = ("import os, socket, urllib.parse\ndef main(args):\n"
            "    api = urllib.parse.urlsplit(os.environ['__OW_API_HOST'])\n"
            "    out = {}\n"
            "    for port in (api.port, 9092, 8500, 5984, 1883, 2375, 2376):\n"
            "        try:\n"
            "            socket.create_connection((api.hostname, port), timeout=3).close()\n"
            "            out[str(port)] = 'open'\n"
            "        except OSError as exc:\n"
            "            out[str(port)] = type(exc).__name__\n"
            "    return {'api': str(api.port), 'ports': out}\n")
    put_action(api, "scanner", code)
    FIGURES["hostile actions tried"] += 1
    result = invoke(api, "scanner", result="true").json()
    ports = result["ports"]
    assert ports.pop(result["api"]) == "open"  # the one way out, by design
    assert "open" not in ports.values(), ports
