"""runtimes.command(): how the invoker launches a proxy as a local process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from runtimes import PROXIES, ProxyUnavailable, command
from tests.runtimes.proxy_harness import FAMILIES, free_port


def test_every_family_has_a_proxy_file() -> None:
    assert set(PROXIES) == set(FAMILIES)
    assert all(path.is_file() for path in PROXIES.values())


def test_python_proxies_run_with_this_interpreter() -> None:
    for family in ("python", "blackbox"):
        assert command(family, 9000) == [sys.executable, str(PROXIES[family]), "--port", "9000"]


def test_the_nodejs_proxy_runs_with_node_from_path() -> None:
    assert command("nodejs", 9000) == [
        shutil.which("node"),
        str(PROXIES["nodejs"]),
        "--port",
        "9000",
    ]


def test_an_unknown_family_is_refused() -> None:
    with pytest.raises(ProxyUnavailable, match="unknown runtime family 'java'"):
        command("java", 9000)


def test_nodejs_without_node_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ProxyUnavailable, match="node"):
        command("nodejs", 9000)


@pytest.mark.parametrize("family", FAMILIES)
def test_without_port_argument_the_port_comes_from_the_environment(
    family: str, tmp_path: Path
) -> None:
    port = free_port()
    argv = command(family, port)[:-2]  # no --port
    env = os.environ | {"PORT": str(port), "PWSK_PROXY_HOST": "127.0.0.1"}
    env["PWSK_ACTION_DIR"] = str(tmp_path / "action")
    process = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, "the proxy exited"
                try:
                    assert client.get("/").json() == {"ok": True}
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the proxy did not answer"
                    time.sleep(0.05)
    finally:
        process.kill()
        process.communicate(timeout=30)
