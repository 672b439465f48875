"""Sensor to screen: MQTT publish → SSE event, through the whole brewery path, against its floor.

Starts ``pwsk standalone`` on a free port, deploys the brewery, runs an embedded MQTT broker
and the bridge (route ``brewery/+/+`` → trigger ``measurement``) in this process, opens the
dashboard's event stream, then publishes N readings at QoS 1, paced like sensors. Each one
goes broker → bridge → trigger fire → rule → ``publish-realtime`` (an activation in a
container) → ``POST /realtime/brewery`` → bus → hub → SSE, and is matched on arrival by its
timestamp. The floor, measured in the same run: ``POST /realtime/brewery`` straight from
here to the same stream.

Per-stage splits (epoch ms, matched by the reading's timestamp): the broker (publish → the
bridge takes the message), the bridge (→ its fire is sent), the fire's HTTP round trip,
fire → the ``publish-realtime`` activation's start (its record; 1 ms grain; ``waitTime`` and
``initTime`` from its annotations), the action's run, and its start → the SSE event. They
say where a slow reading lost its time, which an end-to-end tail alone cannot under load.

    python bench/realtime_latency.py [-n 500] [--rate 10] [--warmup 30] [--backend docker]

The server is started as ``python -m bench`` starts it (``bench.core.deployment``: throttles
raised, the process backend unless ``--backend docker``), so both report the same path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.core import deployment  # noqa: E402
from bridge import Bridge, EmbeddedBroker, parse_config  # noqa: E402
from pwsk.demo import GUEST_KEY, deploy_brewery  # noqa: E402

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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


def _now_ms() -> float:
    return time.time() * 1000


def _timestamp(payload: object) -> int | None:
    try:
        raw = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
        value = orjson.loads(raw).get("timestamp")
        return int(value) if value is not None else None
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return None


class Stages:
    """Epoch-ms marks per reading (keyed by its timestamp) for the per-stage splits."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.marks: dict[int, dict[str, float]] = {}
        self.measured: set[int] = set()
        self.server_pid = server_pid
        self._cpu0: dict[str, float] = {}
        self.cpu_ms: dict[str, float] = {}  # CPU ms per measured reading, per process group

    def _cpu(self) -> dict[str, float]:
        """CPU seconds so far: the server, its children (containers, fork server), and this
        process (broker, bridge, sensor, stream reader). Children that exit are missed."""
        import psutil

        def used(proc: psutil.Process) -> float:
            t = proc.cpu_times()
            return float(t.user + t.system)

        out = {"this process (broker, bridge, clients)": used(psutil.Process())}
        if self.server_pid is not None:
            server = psutil.Process(self.server_pid)
            out["server"] = used(server)
            kids = 0.0
            for child in server.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    kids += used(child)
            out["its children (actions)"] = kids
        return out

    def cpu_start(self) -> None:
        self._cpu0 = self._cpu()

    def cpu_stop(self) -> None:
        n = max(1, len(self.measured))
        self.cpu_ms = {k: (v - self._cpu0.get(k, 0.0)) * 1000 / n for k, v in self._cpu().items()}

    def mark(self, ts: int | None, stage: str, at: float | None = None) -> None:
        if ts is not None:
            self.marks.setdefault(ts, {})[stage] = _now_ms() if at is None else at

    def hook(self, bridge: Bridge) -> None:
        """Note when the bridge takes each message and when its fire is sent and answered."""
        take, fire = bridge._take, bridge.firer.fire

        def taken(message: Any, acker: Any) -> Any:
            self.mark(_timestamp(message.payload), "taken")
            return take(message, acker)

        async def fired(entry: Any) -> Any:
            ts = entry.params.get("timestamp")
            self.mark(ts, "fire")
            try:
                return await fire(entry)
            finally:
                self.mark(ts, "fired")

        bridge._take = taken  # type: ignore[method-assign]
        bridge.firer.fire = fired  # type: ignore[method-assign]

    async def records(self, http: httpx.AsyncClient, url: str, auth: tuple[str, str]) -> None:
        """Start, end, waitTime and initTime of the measured readings' publish-realtime runs."""
        wanted = set(self.measured)
        skip = 0
        while wanted:
            response = await http.get(f"{url}/api/v1/namespaces/_/activations", auth=auth,
                                      params={"name": "brewery/publish-realtime",
                                              "docs": "true", "limit": 200, "skip": skip})
            page = response.json() if response.status_code == 200 else []
            if not page:
                break
            for record in page:
                result = (record.get("response") or {}).get("result") or {}
                ts = result.get("timestamp")
                if ts not in wanted:
                    continue
                wanted.discard(ts)
                notes = {a["key"]: a["value"] for a in record.get("annotations", [])}
                self.mark(ts, "start", float(record["start"]))
                self.mark(ts, "end", float(record["end"]))
                self.mark(ts, "wait", float(notes.get("waitTime", 0)))
                if "initTime" in notes:
                    self.mark(ts, "init", float(notes["initTime"]))
            skip += len(page)

    SPLITS = (
        ("broker: publish → bridge takes it", "sent", "taken"),
        ("bridge: takes it → fire sent", "taken", "fire"),
        ("fire: POST trigger → 202", "fire", "fired"),
        ("fire sent → action start", "fire", "start"),
        ("action run (start → end)", "start", "end"),
        ("action start → SSE event", "start", "arrived"),
    )

    def splits(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        marks = [self.marks[ts] for ts in self.measured if ts in self.marks]
        for name, a, b in self.SPLITS:
            values = [m[b] - m[a] for m in marks if a in m and b in m]
            if values:
                out[name] = values
        waits = [m["wait"] for m in marks if "wait" in m]
        if waits:
            out["  of which waitTime (annotation)"] = waits
        inits = [m["init"] for m in marks if "init" in m]
        if inits:
            out[f"  cold starts: initTime ({len(inits)} of {len(marks)})"] = inits
        return out


async def measure(url: str, n: int, rate: float, warmup: int,
                  stages: Stages | None = None) -> tuple[list[float], list[float]]:
    """Latencies (ms) of ``n`` readings through the whole path, and of ``n`` floor posts;
    ``stages`` (if given) collects the per-stage marks of the measured readings."""
    user, key = GUEST_KEY.split(":", 1)
    stream_url = f"{url}/realtime/guest/brewery/events"
    sent: dict[int, float] = {}
    marks = stages or Stages()
    latencies: list[float] = []
    full: list[float] = []
    done = asyncio.Event()
    expected = 0

    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http:
        async def listen() -> None:
            async for arrived, data in events(http, stream_url):
                event = orjson.loads(data)
                ts = int(event.get("timestamp", -1))
                started = sent.pop(ts, None)
                if started is not None:
                    marks.mark(ts, "arrived")
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
            marks.hook(bridge)
            async with asyncio.timeout(30):
                await bridge.wait_ready()
            async with aiomqtt.Client(broker.host, broker.port, identifier="bench-sensor",
                                      socket_options=[NODELAY]) as mqtt:
                ts = int(time.time() * 1000)
                for phase, count in (("warm-up", warmup), ("measured", n)):
                    latencies.clear()
                    done.clear()
                    expected = count
                    if phase == "measured":
                        marks.cpu_start()
                    for i in range(count):
                        ts += 1
                        tank = ("mash", "boil")[i % 2]
                        payload = orjson.dumps({"value": 60.0 + (i % 10) / 10, "unit": "C",
                                                "timestamp": ts})
                        sent[ts] = time.perf_counter()
                        marks.mark(ts, "sent")
                        if phase == "measured":
                            marks.measured.add(ts)
                        await mqtt.publish(f"brewery/{tank}/temperature", payload, qos=1)
                        await asyncio.sleep(1 / rate)
                    try:
                        async with asyncio.timeout(60):
                            await done.wait()
                    except TimeoutError:
                        print(f"{phase}: {count - len(latencies)} of {count} readings never "
                              "reached the stream (throttled or lost)")
                    if phase == "measured":
                        marks.cpu_stop()
                        full = list(latencies)
            sent.clear()
        await marks.records(http, url, (user, key))

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


def report(full: list[float], floor: list[float], stages: Stages | None = None) -> None:
    print()
    p50, p99 = summary("MQTT publish → SSE (broker, bridge, actions)", full)
    f50, f99 = summary("floor: POST /realtime → SSE", floor)
    print(f"{'ratio to the floor':<44} p50 {p50 / f50:7.1f}x      p99 {p99 / f99:7.1f}x")
    if stages is not None:
        print("\nper stage (epoch ms; action records have a 1 ms grain):")
        for name, values in stages.splits().items():
            summary(name, values)
        if stages.cpu_ms:
            print("CPU per reading: " + ", ".join(f"{k} {v:.2f} ms"
                                                  for k, v in stages.cpu_ms.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="measured readings (default 500)")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="readings per second (default 10, as the demo's sensors)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--backend", default="process", choices=("process", "docker"),
                        help="standalone's container backend (default process, as the suite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as tmp, \
            deployment("standalone", Path(tmp), {"PWSK_CONTAINERS": args.backend}) as target:
        deploy_brewery(target.url)
        stages = Stages(target.services.get("standalone"))
        full, floor = asyncio.run(measure(target.url, args.n, args.rate, args.warmup, stages))
        report(full, floor, stages)


if __name__ == "__main__":
    main()
