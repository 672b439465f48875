"""Warm blocking invoke of a no-op Python action, end to end, against its floor.

Starts ``pwsk standalone`` on a free port, creates a no-op ``python:3.11`` action, warms
it, then times N blocking invokes (``?blocking=true&result=true``) over one keep-alive
connection. The floor, measured in the same run: the same client calling ``/run`` directly
on a warm python proxy process started by hand (no controller, bus, invoker or store).

    python bench/warm_invoke.py [-n 1000]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtimes import command  # noqa: E402

GUEST = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502",
         "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
NOOP = "def main(args):\n    return {}\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: process exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def timed(call: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(label: str, ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    p50 = statistics.median(ms)
    p99 = ms[int(len(ms) * 0.99) - 1]
    print(f"{label:<34} n={len(ms):<5} p50={p50:7.3f} ms  p99={p99:7.3f} ms  "
          f"mean={statistics.fmean(ms):7.3f} ms")
    return p50, p99


def bench_platform(n: int) -> list[float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "PWSK_LOG_LEVEL": "warning"}
        proc = subprocess.Popen([sys.executable, "-m", "pwsk.standalone", "--port", str(port),
                                 "--data-dir", data], cwd=ROOT, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/ping", proc)
            with httpx.Client(base_url=base, auth=GUEST, timeout=60) as api:
                url = "/api/v1/namespaces/_/actions/bench-noop"
                r = api.put(url + "?overwrite=true",
                            json={"exec": {"kind": "python:3.11", "code": NOOP}})
                r.raise_for_status()
                invoke_url = url + "?blocking=true&result=true"
                for _ in range(50):
                    assert api.post(invoke_url, json={}).status_code == 200
                return timed(lambda: api.post(invoke_url, json={}), n)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def bench_direct(n: int) -> list[float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as action_dir:
        env = {**os.environ, "PWSK_ACTION_DIR": action_dir, "PWSK_PROXY_HOST": "127.0.0.1"}
        proc = subprocess.Popen(command("python", port), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/", proc)
            with httpx.Client(base_url=base, timeout=60) as proxy:
                proxy.post("/init", json={"value": {"name": "noop", "main": "main",
                                                    "code": NOOP, "binary": False, "env": {}}})
                body = {"value": {}, "namespace": "guest", "action_name": "/guest/bench-noop",
                        "action_version": "0.0.1", "activation_id": "0" * 32,
                        "transaction_id": "t", "deadline": "0"}
                for _ in range(50):
                    proxy.post("/run", json=body)
                return timed(lambda: proxy.post("/run", json=body), n)
        finally:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="timed calls per series (>= 500)")
    args = parser.parse_args()
    n = max(args.n, 500)
    direct = bench_direct(n)
    platform = bench_platform(n)
    d50, d99 = summary("floor: direct /run on warm proxy", direct)
    p50, p99 = summary("pwsk: warm blocking invoke", platform)
    print(f"{'ratio pwsk / floor':<34} p50 x{p50 / d50:.1f}  p99 x{p99 / d99:.1f}  "
          f"(overhead p50 {p50 - d50:.3f} ms)")


if __name__ == "__main__":
    main()
