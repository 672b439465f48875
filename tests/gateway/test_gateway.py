"""The gateway forwards to controllers and skips the ones that are down."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import ECHO, NS, put_action
from tests.servers import ROOT, Server, free_port


def _gateway(controllers: list[str], tmp: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PWSK_CONTROLLERS": ",".join(controllers), "PWSK_PORT": str(port)}
    with open(tmp / "gateway.log", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "/ping", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError((tmp / "gateway.log").read_text()) from None
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def gateway(server: Server, tmp_path: Path) -> Iterator[str]:
    dead = f"http://127.0.0.1:{free_port()}"
    yield from _gateway([dead, server.url], tmp_path)


def test_requests_pass_through_and_skip_dead_controller(gateway: str, server: Server,
                                                        name: str) -> None:
    with httpx.Client(base_url=gateway, auth=tuple(server.auth.split(":", 1)),  # type: ignore[arg-type]
                      timeout=30) as api:
        for _ in range(4):  # round robin meets the dead controller at least once
            assert api.get("/api/v1/namespaces").json() == ["guest"]
        put_action(api, name, ECHO)
        r = api.post(f"{NS}/actions/{name}?blocking=true&result=true", json={"v": 1},
                     headers={"X-Request-ID": "b" * 32})
        assert r.status_code == 200 and r.json() == {"v": 1}
        assert r.headers["x-request-id"] == "b" * 32
        missing = api.get(f"{NS}/actions/{name}-nope")
        assert missing.status_code == 404 and missing.json()["code"]


def test_all_controllers_down_is_503(tmp_path: Path) -> None:
    for url in _gateway([f"http://127.0.0.1:{free_port()}"], tmp_path):
        r = httpx.get(url + "/api/v1/namespaces")
        assert r.status_code == 503
        assert set(r.json()) == {"error", "code"}
