"""CPU time the server spends per warm blocking activation (robust on a loaded machine).

Wall-clock latency on a shared two-core box moves with whatever else runs; the CPU seconds
the server process burns per activation hardly do. Starts ``pwsk standalone`` (process
backend), warms a no-op python action, then runs ``-n`` blocking invokes
(``?blocking=true&result=true``) from ``-c`` raw keep-alive clients and prints the server's
CPU ms per activation (user + system of the server process itself, not its proxies), the
client's own CPU per request, the latency p50 and the load average.

    python -m bench.cpu_per_activation [-n 3000] [-c 1] [--rounds 3] [--profile SECONDS]

``--profile`` also records the server with py-spy (a tool, not a dependency: put it on the
PATH) while a round runs, and prints the hottest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from .core import NS, RawClient, check, deployment, noop_exec, put_action


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _children(proc: psutil.Process) -> dict[int, float]:
    out = {}
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            out[child.pid] = _cpu(child)
    return out


def _threads(proc: psutil.Process) -> dict[str, float]:
    """CPU seconds per thread (``main`` and the others by id)."""
    out = {}
    for t in proc.threads():
        out["main" if t.id == proc.pid else str(t.id)] = float(t.user_time + t.system_time)
    return out


async def _round(url: str, n: int, clients: int, ping: bool = False,
                 ) -> tuple[list[float], float]:
    method, path = "POST", f"{NS}/actions/noop?blocking=true&result=true"
    body: bytes | None = b"{}"
    if ping:
        method, path, body = "GET", "/ping", None
    latencies: list[float] = []
    left = n

    async def client() -> None:
        nonlocal left
        raw = RawClient(url)
        try:
            while left > 0:
                left -= 1
                t0 = time.perf_counter()
                status, _ = await raw.request(method, path, body)
                latencies.append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    raise RuntimeError(f"invoke answered {status}")
        finally:
            await raw.aclose()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=3000, help="invokes per round")
    ap.add_argument("-c", type=int, default=1, help="concurrent clients")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--deployment", default="standalone", choices=["standalone", "distributed"],
                    help="distributed: every service's CPU (gateway, controllers, invokers)")
    ap.add_argument("--profile", type=float, default=0.0,
                    help="py-spy the server for this many seconds during the last round")
    ap.add_argument("--raw", type=Path, help="py-spy: keep the collapsed stacks here")
    ap.add_argument("--gil", action="store_true", help="py-spy: only the thread holding the GIL")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pwsk-cpu-") as tmp, \
            deployment(args.deployment, Path(tmp)) as target:
        with target.client() as api:
            put_action(api, "noop", noop_exec("python", "cpu"))
            for _ in range(20):
                check(api.post(f"{NS}/actions/noop?blocking=true&result=true", json={}))
        me = psutil.Process()
        if args.deployment == "distributed":
            _distributed(target.url, target.services, me, args)
            return
        server = psutil.Process(target.services["standalone"])
        for i in range(args.rounds):
            spy = None
            if args.profile and i == args.rounds - 1:
                spy = _start_spy(server.pid, args.profile, Path(tmp) / "spy.raw", args.gil)
            load = os.getloadavg()[0]
            s0, c0, t0, k0 = _cpu(server), _cpu(me), _threads(server), _children(server)
            lat, wall = asyncio.run(_round(target.url, args.n, args.c))
            s1, c1, t1, k1 = _cpu(server), _cpu(me), _threads(server), _children(server)
            busy = {pid: k1[pid] - k0.get(pid, 0.0) for pid in k1}
            busy = {pid: v for pid, v in busy.items() if v > 0.01}
            print(f"round {i + 1}: server {1000 * (s1 - s0) / args.n:.3f} CPU ms/activation, "
                  f"client {1000 * (c1 - c0) / args.n:.3f} CPU ms/request, "
                  f"p50 {statistics.median(lat):.3f} ms, {args.n / wall:.0f}/s "
                  f"({args.c} clients), load {load:.2f}", flush=True)
            per_thread = sorted(((t1[k] - t0.get(k, 0.0)) * 1000 / args.n, k) for k in t1)
            print("  by thread: " + ", ".join(f"{k} {v:.3f}" for v, k in reversed(per_thread)
                                              if v >= 0.005))
            print(f"  containers: {len(busy)} busy, {1000 * sum(busy.values()) / args.n:.3f} "
                  "CPU ms/activation")
            if i == args.rounds - 1:  # the floor: the server's trivial GET, same clients
                s0 = _cpu(server)
                lat, wall = asyncio.run(_round(target.url, args.n, args.c, ping=True))
                print(f"floor GET /ping: server {1000 * (_cpu(server) - s0) / args.n:.3f} CPU "
                      f"ms/request, p50 {statistics.median(lat):.3f} ms, {args.n / wall:.0f}/s",
                      flush=True)
            if spy is not None:
                spy.wait()
                _summary(Path(tmp) / "spy.raw")
                if args.raw:
                    shutil.copy(Path(tmp) / "spy.raw", args.raw)


def _distributed(url: str, services: dict[str, int], me: psutil.Process,
                 args: argparse.Namespace) -> None:
    procs = {name: psutil.Process(pid) for name, pid in services.items()}
    # What each service burns with nothing to do (health pings, Kafka heartbeats and
    # fetches), per second: at tens of activations/s it would dwarf the per-activation cost.
    before = {name: _cpu(p) for name, p in procs.items()}
    time.sleep(5)
    idle = {name: (_cpu(p) - before[name]) / 5 for name, p in procs.items()}
    print("idle CPU ms/s: " + ", ".join(f"{k} {1000 * v:.1f}" for k, v in sorted(idle.items())))
    for i in range(args.rounds):
        spies = {}
        if args.profile and i == args.rounds - 1:
            spies = {name: _start_spy(p.pid, args.profile, Path(f"/tmp/spy-{name}.raw"),
                                      args.gil) for name, p in procs.items()}
        load = os.getloadavg()[0]
        before = {name: _cpu(p) for name, p in procs.items()}
        c0 = _cpu(me)
        lat, wall = asyncio.run(_round(url, args.n, args.c))
        used = {name: 1000 * (_cpu(p) - before[name] - idle[name] * wall) / args.n
                for name, p in procs.items()}
        print(f"round {i + 1}: services {sum(used.values()):.3f} CPU ms/activation above idle "
              f"({', '.join(f'{k} {v:.3f}' for k, v in sorted(used.items()))}), client "
              f"{1000 * (_cpu(me) - c0) / args.n:.3f}, p50 {statistics.median(lat):.3f} ms, "
              f"{args.n / wall:.0f}/s ({args.c} clients), load {load:.2f}", flush=True)
        for name, spy in spies.items():
            spy.wait()
            print(f"==== {name} (/tmp/spy-{name}.raw)")
            _summary(Path(f"/tmp/spy-{name}.raw"), 25)


def _start_spy(pid: int, seconds: float, out: Path, gil: bool) -> subprocess.Popen[bytes]:
    exe = shutil.which("py-spy")
    if exe is None:
        raise SystemExit("--profile needs py-spy on the PATH (pip install py-spy==0.4.3)")
    command = [exe, "record", "-p", str(pid), "-d", str(max(1, round(seconds))), "-r", "500",
               "-f", "raw", "-o", str(out), "--nonblocking", *(["--gil"] if gil else [])]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _summary(raw: Path, top: int = 40) -> None:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            incl[frame] = incl.get(frame, 0) + n
    print(f"py-spy: {total} samples")
    for title, table in (("self", own), ("inclusive", incl)):
        print(f"-- {title}")
        for frame, n in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
