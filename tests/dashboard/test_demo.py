"""``pwsk standalone`` with the demo: broker, brewery, bridge and simulator come up after the
server, readings reach the dashboard's stream, Ctrl-C stops it all."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import pwsk.standalone
from pwsk.cli.standalone import standalone
from tests.realtime.sse import Reader
from tests.servers import ROOT, free_port


def test_demo_is_on_for_the_cli_and_off_for_python_m(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bool] = []

    def run(host: str = "", port: int = 0, data_dir: Path | None = None,
            demo: bool = True) -> None:
        asked.append(demo)

    monkeypatch.setattr(pwsk.standalone, "run", run)
    pwsk.standalone.main([])
    pwsk.standalone.main(["--demo"])
    pwsk.standalone.main(["--no-demo"])
    assert CliRunner().invoke(standalone, []).exit_code == 0
    assert CliRunner().invoke(standalone, ["--no-demo"]).exit_code == 0
    assert asked == [False, True, False, True, False]
    monkeypatch.undo()
    assert inspect.signature(pwsk.standalone.run).parameters["demo"].default is True


@pytest.mark.slow
def test_the_demo_runs_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "demo.log"
    # Processes, as tests.servers does (standalone's default is Docker when there is one).
    env = {**os.environ, "PWSK_LOG_LEVEL": "warning", "PWSK_CONTAINERS": "process"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pwsk.standalone", "--demo", "--port",
                                 str(port), "--data-dir", str(tmp_path)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while f"dashboard: {url}/dashboard/" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        # Simulated sensors → MQTT → bridge → trigger → publish-realtime → the stream.
        seen: set[tuple[Any, Any]] = set()
        with httpx.Client(timeout=httpx.Timeout(10, read=30)) as http, \
                http.stream("GET", f"{url}/realtime/guest/brewery/events") as response:
            sse = Reader(response)
            assert sse.next().event == "hello"
            while len(seen) < 10:  # every sensor of both tanks
                reading = sse.next().json()
                seen.add((reading["tank"], reading["sensor"]))
        # A blocking web action on a busy machine (a cold start among the demo's bursts).
        latest = httpx.get(f"{url}/api/v1/web/guest/brewery/get-latest.json",
                           params={"minutes": 5}, timeout=60).json()["latest"]
        assert "mash:temperature" in latest  # stored too
        assert httpx.get(f"{url}/dashboard/").status_code == 200
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        # Graceful: uvicorn gives open requests 10 s, the invoker running activations 5 s.
        assert proc.wait(timeout=30) == 0
        took = time.monotonic() - started
        print(f"demo stopped in {took:.1f} s")
        assert took < 25
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_text(errors="replace")
    assert "demo: MQTT broker on mqtt://127.0.0.1:" in text
    assert "Traceback" not in text, text
