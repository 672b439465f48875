"""docker-compose.yml brought up: the pwsk services in the image built from compose/Dockerfile
(on the local mmdebstrap base), on the engines ``scripts/services`` runs on the host.

``scripts/lib/compose.sh`` provides Compose v2 and the image (both cached); the override file
tests/compose/host-engines.yml puts the pwsk services on the host's network and turns the
engine services into stand-ins that are healthy when the host's engines answer (the official
engine images cannot be pulled here). One stack for the module, on its own ports and
Kafka/CouchDB/Consul prefixes; it is torn down (containers, their action containers) even
when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from controller.sharding import java_hash
from tests.distributed import bridge_address, engines
from tests.servers import ROOT, free_port

# The first test also provisions: on a new machine Compose is built from source (minutes).
pytestmark = [pytest.mark.docker, pytest.mark.kafka, pytest.mark.consul, pytest.mark.couchdb,
              pytest.mark.slow, pytest.mark.timeout(1800)]

OVERRIDE = ROOT / "tests" / "compose" / "host-engines.yml"
PWSK = ("controller0", "controller1", "invoker", "gateway")
ENGINES = ("couchdb", "kafka", "consul")
# docker-compose.yml refuses OpenWhisk's published keys: the stack gets keys of its own.
GUEST_KEY = f"{uuid.uuid4()}:{secrets.token_hex(32)}"
SYSTEM_KEY = f"{uuid.uuid4()}:{secrets.token_hex(32)}"
AUTH = httpx.BasicAuth(*GUEST_KEY.split(":", 1))
CODE = "import socket\n\ndef main(args):\n    return {'host': socket.gethostname(), **args}\n"


@dataclass
class Stack:
    compose: list[str]
    env: dict[str, str]
    url: str
    controllers: list[str]
    up_seconds: float = 0.0

    def run(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([*self.compose, *args], env=self.env, cwd=ROOT, text=True,
                              capture_output=True, timeout=timeout)
        assert done.returncode == 0, f"compose {' '.join(args)}:\n{done.stderr[-4000:]}"
        return done.stdout

    def ps(self) -> list[dict[str, str]]:
        """``compose ps``: one JSON object per container (a list in older releases)."""
        out = self.run("ps", "--all", "--format", "json").strip()
        if out.startswith("["):
            rows: list[dict[str, str]] = json.loads(out)
            return rows
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def logs(self) -> str:
        done = subprocess.run([*self.compose, "logs", "--no-color", "--tail", "60"],
                              env=self.env, cwd=ROOT, text=True, capture_output=True,
                              timeout=60)
        return done.stdout[-6000:] + done.stderr[-2000:]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=AUTH, timeout=90)


def provision() -> tuple[str, str]:
    """Compose v2 and the pwsk image (``scripts/lib/compose.sh``, idempotent and cached)."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "lib" / "compose.sh")], text=True,
                          capture_output=True, timeout=1500)
    assert done.returncode == 0, f"scripts/lib/compose.sh failed:\n{done.stderr[-4000:]}"
    found = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    return found["compose"], found["image"]


def docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, f"docker {' '.join(args)}:\n{done.stderr}"
    return done.stdout


def wait_for(what: str, check: object, timeout: float = 90) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def healthy_invokers(controller: str) -> int:
    try:
        r = httpx.get(controller + "/invokers/healthy/count", auth=AUTH, timeout=5)
    except httpx.HTTPError:
        return -1
    return int(r.json()) if r.status_code == 200 else -1


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    binary, image = provision()
    urls = engines()  # kafka, consul, couchdb (pouchdb-server), docker: started if need be
    bridge = bridge_address()  # also creates the `pwsk` network the action containers join
    tag = f"c{secrets.token_hex(3)}"
    ports = {name: str(free_port()) for name in ("gateway", "controller0", "controller1")}
    repo, _, version = image.rpartition(":")
    assert repo == "pwsk/services", image  # the name docker-compose.yml gives the image
    env = {
        **os.environ,
        "PWSK_VERSION": version,
        # Required by the production file; the host's engines take no credentials.
        "COUCHDB_PASSWORD": secrets.token_hex(8),
        "MQTT_PASSWORD": secrets.token_hex(8),
        "PWSK_GUEST_KEY": GUEST_KEY,
        "PWSK_SYSTEM_KEY": SYSTEM_KEY,
        "PWSK_TEST_STORE": f"{urls['couchdb']}?prefix={tag}_",
        "PWSK_TEST_BUS": f"{urls['kafka']}?prefix={tag}-",
        "PWSK_TEST_REGISTRY": f"{urls['consul']}?prefix={tag}",
        "PWSK_TEST_BRIDGE": bridge,
        "PWSK_TEST_GATEWAY_PORT": ports["gateway"],
        "PWSK_TEST_CONTROLLER0_PORT": ports["controller0"],
        "PWSK_TEST_CONTROLLER1_PORT": ports["controller1"],
        **{f"PWSK_TEST_{e.upper()}": urlsplit(urls[e]).netloc for e in ENGINES},
    }
    compose = [binary, "--project-name", f"pwsk-test-{tag}", "--project-directory", str(ROOT),
               "-f", str(ROOT / "docker-compose.yml"), "-f", str(OVERRIDE)]
    s = Stack(compose, env, f"http://{bridge}:{ports['gateway']}",
              [f"http://127.0.0.1:{ports[c]}" for c in ("controller0", "controller1")])
    try:
        started = time.monotonic()
        # --wait: until every started service is healthy (the engines' stand-ins first,
        # through depends_on: service_healthy, as in production).
        s.run("up", "--detach", "--no-build", "--pull", "never", "--wait",
              "--wait-timeout", "180", "gateway", "invoker")
        s.up_seconds = time.monotonic() - started
        print(f"compose up --wait: {s.up_seconds:.1f} s")
        yield s
    except BaseException:
        print(s.logs())
        raise
    finally:
        teardown(s)


def teardown(stack: Stack) -> None:
    """``compose down``, then any action container a killed invoker left (labelled with the
    invoker's name, which the override derives from the invoker's container id)."""
    invokers = []
    try:
        invokers = [row["ID"] for row in stack.ps() if row["Service"] == "invoker"]
    finally:
        stack.run("down", "--remove-orphans", "--volumes", "--timeout", "30", timeout=240)
        for cid in invokers:
            left = docker("ps", "-aq", "--filter", f"label=pwsk.invoker=inv-{cid[:12]}")
            if left.split():
                docker("rm", "-f", *left.split())
    assert not stack.ps(), "compose down left containers"


def test_every_pwsk_service_comes_up_healthy(stack: Stack) -> None:
    rows = {row["Service"]: row for row in stack.ps()}
    assert set(PWSK) | set(ENGINES) <= set(rows), rows.keys()
    for name in (*PWSK, *ENGINES):
        assert rows[name]["State"] == "running", rows[name]
        assert rows[name]["Health"] == "healthy", rows[name]
    # The pwsk services run the image built from compose/Dockerfile on the local base.
    for name in PWSK:
        assert rows[name]["Image"] == f"pwsk/services:{stack.env['PWSK_VERSION']}"
    with stack.client() as api:
        assert api.get("/ping").status_code == 200
    wait_for("the invoker to register", lambda: all(
        healthy_invokers(c) == 1 for c in stack.controllers))


def test_an_action_runs_in_a_container_the_invoker_starts(stack: Stack) -> None:
    name = f"compose{secrets.token_hex(3)}"
    with stack.client() as api:
        r = api.put(f"/api/v1/namespaces/_/actions/{name}",
                    json={"exec": {"kind": "python:3.11", "code": CODE}})
        assert r.status_code == 200, r.text
        r = api.post(f"/api/v1/namespaces/_/actions/{name}",
                     params={"blocking": "true", "result": "true"}, json={"n": 7})
        assert r.status_code == 200, r.text
        result = r.json()
    assert result["n"] == 7
    # The action ran in a container of the host's engine that the compose invoker (through
    # the mounted socket) started and labelled with its name.
    invoker = next(row for row in stack.ps() if row["Service"] == "invoker")
    labels = json.loads(docker("inspect", "--format", "{{json .Config.Labels}}",
                               result["host"]))
    assert labels["pwsk.invoker"] == f"inv-{invoker['ID'][:12]}"
    assert labels["pwsk.kind"] == "python:3.11"


def test_invokers_scale_to_two(stack: Stack) -> None:
    stack.run("up", "--detach", "--no-build", "--pull", "never", "--wait",
              "--wait-timeout", "180", "--scale", "invoker=2", "invoker")
    invokers = [row for row in stack.ps() if row["Service"] == "invoker"]
    assert len(invokers) == 2 and all(r["Health"] == "healthy" for r in invokers), invokers
    # Both controllers route to both invokers once the new one has registered.
    wait_for("two healthy invokers", lambda: all(
        healthy_invokers(c) == 2 for c in stack.controllers))
    # Each action is homed on invoker |javaHash(ns) ^ javaHash(ns/name)| % 2 (spec 6.1):
    # two actions homed on each invoker run on both containers.
    names: dict[int, list[str]] = {0: [], 1: []}
    while min(len(v) for v in names.values()) < 2:
        name = f"scale{secrets.token_hex(3)}"
        home = abs(java_hash("guest") ^ java_hash(f"guest/{name}")) % 2
        names[home].append(name)
    ran_on: dict[int, set[str]] = {0: set(), 1: set()}
    with stack.client() as api:
        for home, group in names.items():
            for name in group[:2]:
                r = api.put(f"/api/v1/namespaces/_/actions/{name}",
                            json={"exec": {"kind": "python:3.11", "code": CODE}})
                assert r.status_code == 200, r.text
                r = api.post(f"/api/v1/namespaces/_/actions/{name}",
                             params={"blocking": "true", "result": "true"}, json={})
                assert r.status_code == 200, r.text
                labels = json.loads(docker("inspect", "--format",
                                           "{{json .Config.Labels}}", r.json()["host"]))
                ran_on[home].add(labels["pwsk.invoker"])
    assert all(len(v) == 1 for v in ran_on.values()), ran_on
    assert ran_on[0] | ran_on[1] == {f"inv-{r['ID'][:12]}" for r in invokers}
