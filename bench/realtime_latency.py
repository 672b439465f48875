"""Sensor to screen: MQTT publish → SSE event, through the whole brewery path, against its floor.

Starts ``pwsk standalone`` on a free port, deploys the brewery, runs an embedded MQTT broker
and the bridge (route ``brewery/+/+`` → trigger ``measurement``) in this process, opens the
dashboard's event stream, then publishes N readings at QoS 1, paced like sensors. Each one
goes broker → bridge → trigger fire → rule → ``publish-realtime`` (an activation in a
container) → ``POST /realtime/brewery`` → bus → hub → SSE, and is matched on arrival by its
timestamp. The floor, measured in the same run: ``POST /realtime/brewery`` straight from
here to the same stream.

    python bench/realtime_latency.py [-n 500] [--rate 10] [--warmup 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge import Bridge, EmbeddedBroker, parse_config  # noqa: E402
from pwsk.demo import GUEST_KEY, deploy_brewery  # noqa: E402

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_standalone(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PWSK_LOG_LEVEL": "warning"}
    with open(data_dir / "server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pwsk.standalone", "--port", str(port),
                                 "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("pwsk standalone exited; see " + str(data_dir / "server.log"))
        try:
            if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("pwsk standalone did not answer")


async def events(http: httpx.AsyncClient, url: str) -> AsyncIterator[tuple[float, bytes]]:
    """(arrival time, data) of each event on the stream."""
    async with http.stream("GET", url) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                yield time.perf_counter(), line[6:].encode()


def summary(name: str, ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{name:<44} n={len(ms):<4} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   "
          f"max {ms[-1]:7.1f} ms")
    return p50, p99


async def measure(url: str, n: int, rate: float,
                  warmup: int) -> tuple[list[float], list[float]]:
    """Latencies (ms) of ``n`` readings through the whole path, and of ``n`` floor posts."""
    user, key = GUEST_KEY.split(":", 1)
    stream_url = f"{url}/realtime/guest/brewery/events"
    sent: dict[int, float] = {}
    latencies: list[float] = []
    full: list[float] = []
    done = asyncio.Event()
    expected = 0

    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http:
        async def listen() -> None:
            async for arrived, data in events(http, stream_url):
                event = orjson.loads(data)
                started = sent.pop(int(event.get("timestamp", -1)), None)
                if started is not None:
                    latencies.append((arrived - started) * 1000)
                    if len(latencies) >= expected:
                        done.set()

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.5)  # the stream is open

        async with EmbeddedBroker() as broker, Bridge(parse_config({
            "broker": {"url": broker.url, "client_id": "bench-bridge"},
            "api": {"host": url, "key": GUEST_KEY},
            "routes": [{"topic": "brewery/+/+", "trigger": "measurement",
                        "params": {"tank": "{1}", "sensor": "{2}"}}],
            "state_dir": tempfile.mkdtemp(prefix="bench-bridge-"),
            "metrics": None,
        })) as bridge:
            async with asyncio.timeout(30):
                await bridge.wait_ready()
            async with aiomqtt.Client(broker.host, broker.port, identifier="bench-sensor",
                                      socket_options=[NODELAY]) as mqtt:
                ts = int(time.time() * 1000)
                for phase, count in (("warm-up", warmup), ("measured", n)):
                    latencies.clear()
                    done.clear()
                    expected = count
                    for i in range(count):
                        ts += 1
                        tank = ("mash", "boil")[i % 2]
                        payload = orjson.dumps({"value": 60.0 + (i % 10) / 10, "unit": "C",
                                                "timestamp": ts})
                        sent[ts] = time.perf_counter()
                        await mqtt.publish(f"brewery/{tank}/temperature", payload, qos=1)
                        await asyncio.sleep(1 / rate)
                    try:
                        async with asyncio.timeout(60):
                            await done.wait()
                    except TimeoutError:
                        print(f"{phase}: {count - len(latencies)} of {count} readings never "
                              "reached the stream (throttled or lost)")
                    if phase == "measured":
                        full = list(latencies)
            sent.clear()

        # The floor: the same stream, fed by a direct POST from here.
        floor: list[float] = []
        for _ in range(n):
            ts += 1
            expected = len(latencies) + 1
            done.clear()
            sent[ts] = time.perf_counter()
            await http.post(f"{url}/realtime/brewery", auth=(user, key),
                            json={"tank": "mash", "sensor": "temperature", "value": 1.0,
                                  "timestamp": ts})
            async with asyncio.timeout(10):
                await done.wait()
            floor.append(latencies[-1])
        listener.cancel()
    return full, floor


def report(full: list[float], floor: list[float]) -> None:
    print()
    p50, p99 = summary("MQTT publish → SSE (broker, bridge, actions)", full)
    f50, f99 = summary("floor: POST /realtime → SSE", floor)
    print(f"{'ratio to the floor':<44} p50 {p50 / f50:7.1f}x      p99 {p99 / f99:7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="measured readings (default 500)")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="readings per second (default 10, as the demo's sensors)")
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as tmp:
        proc, url = start_standalone(Path(tmp))
        try:
            deploy_brewery(url)
            report(*asyncio.run(measure(url, args.n, args.rate, args.warmup)))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
