"""The benchmarks. Each takes the running deployment and its sizes, and returns a Report.

Sizes come in two sets: the full one (for figures worth quoting) and ``--quick`` (tiny, for
the CI smoke: it keeps the code working, its numbers mean nothing).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from .core import (
    NS,
    Figure,
    RawClient,
    Report,
    SyncRawClient,
    Target,
    annotation,
    check,
    direct_run,
    find_proxy,
    noop_exec,
    proxy_rss_mb,
    put_action,
    rss_mb,
    timed,
    trivial_get,
    wait_record,
)


@dataclass(frozen=True)
class Sizes:
    invokes: int = 1000  # timed calls per latency series
    warmup: int = 50
    levels: tuple[int, ...] = (1, 8, 32, 128)  # concurrent clients
    seconds: float = 5.0  # per throughput level
    cold: int = 5  # cold starts per variant
    sequence: int = 200
    fires: int = 50
    fanout_fires: int = 20
    activations: int = 20_000  # memory growth
    floor: int = 1000  # floor calls
    settle_s: float = 1.5  # between cold starts
    readings: int = 300  # MQTT readings, paced at `rate` per second
    rate: float = 10.0


FULL = Sizes()
QUICK = Sizes(invokes=10, warmup=3, levels=(1, 8), seconds=0.5, cold=1, sequence=3, fires=2,
              fanout_fires=1, activations=40, floor=10, settle_s=0.5,
              readings=5, rate=20.0)

KINDS = ("python", "nodejs", "native")


def _tag() -> str:
    return secrets.token_hex(4)


def _blocking(api: httpx.Client, name: str, result: bool = True) -> httpx.Response:
    query = "?blocking=true&result=true" if result else "?blocking=true"
    return check(api.post(f"{NS}/actions/{name}{query}", json={}))


# --- warm invoke latency ------------------------------------------------------------------


def latency(target: Target, sizes: Sizes, report: Report) -> None:
    """Warm blocking invoke of a no-op, one client, per kind; floors: /ping and direct /run."""
    with target.client() as api:
        ping = trivial_get(api, sizes.floor)
        ping_p50 = Figure("floor", "ms", ping).stats()["p50"]
        report.add(Figure("server's trivial GET /ping", "ms", ping))
        for kind in KINDS:
            tag = _tag()
            name = f"bench-lat-{kind}-{tag}"
            put_action(api, name, noop_exec(kind, tag))
            for _ in range(sizes.warmup):
                _blocking(api, name)
            raw = SyncRawClient(target.url)  # timed like the floors: a raw keep-alive link
            path = f"{NS}/actions/{name}?blocking=true&result=true"
            try:
                ms = timed(lambda raw=raw, path=path: raw.checked(  # type: ignore[misc]
                    "POST", path, b"{}"), sizes.invokes)
            finally:
                raw.close()
            if kind == "python":
                _split(target.url, name, max(5, sizes.invokes // 10), report)
            # Measured after the platform's series: direct calls add sentinels to the
            # container's log stream, so the platform never uses this container again. The
            # Node proxy is found by the CPU it burns while the action runs: on a busy
            # machine another proxy may look busier, so a proxy that refuses is looked for
            # again.
            floor: list[float] = []
            for _ in range(3):
                proxy = find_proxy(target, name, tag, kind,
                                   lambda name=name: [_blocking(api, name) for _ in range(20)])
                try:
                    floor = direct_run(proxy, sizes.floor) if proxy else []
                except (RuntimeError, OSError, ValueError, IndexError) as exc:  # not the action's
                    print(f"floor for {kind} not measured on {proxy}: {exc}", file=sys.stderr)
                if floor:
                    break
            floor_p50 = Figure("floor", "ms", floor).stats()["p50"] if floor else None
            report.add(Figure(f"direct /run, warm {kind} proxy", "ms", floor))
            report.add(Figure(f"warm blocking invoke, {kind} no-op", "ms", ms,
                              floor=f"direct /run ({kind})", floor_p50=floor_p50,
                              target="p50 <= 1.5 ms standalone, <= 6 ms distributed"
                              if kind == "python" else ""))
            report.add(Figure(f"warm blocking invoke, {kind} / GET", "ms", ms,
                              floor="GET /ping", floor_p50=ping_p50,
                              target="<= 5x GET" if kind == "python" else ""))


def _split(url: str, name: str, n: int, report: Report) -> None:
    """Where a warm invoke's time goes, from its record: waitTime (controller accepted →
    the invoker starts it: publish, bus, consume), duration (proxy hop and run), the rest
    (result ack back over the bus, HTTP, gateway)."""
    parts: dict[str, list[float]] = {"waitTime (to the invoker)": [],
                                     "duration (proxy /run)": [], "the rest (ack, HTTP)": []}
    raw = SyncRawClient(url)
    for _ in range(n):
        t0 = time.perf_counter()
        record = json.loads(raw.checked("POST", f"{NS}/actions/{name}?blocking=true", b"{}"))
        total = (time.perf_counter() - t0) * 1000
        wait = float(annotation(record, "waitTime", 0))
        duration = float(record.get("duration", 0))
        parts["waitTime (to the invoker)"].append(wait)
        parts["duration (proxy /run)"].append(duration)
        parts["the rest (ack, HTTP)"].append(total - wait - duration)
    raw.close()
    for part, values in parts.items():
        report.add(Figure(f"  python warm invoke: {part}", "ms", values,
                          note="1 ms grain (record times)"))


# --- throughput ---------------------------------------------------------------------------


async def _load(target: Target, clients: int, seconds: float, request: Any,
                ) -> tuple[list[float], list[Any], float]:
    """``clients`` loops, each on its own connection, calling ``request(conn)`` for
    ``seconds``: latencies (ms), results, elapsed seconds."""
    latencies: list[float] = []
    results: list[Any] = []
    conns = [RawClient(target.url) for _ in range(clients)]
    stop = time.perf_counter() + seconds

    async def worker(conn: RawClient) -> None:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            results.append(await request(conn))
            latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        await asyncio.gather(*(c.aclose() for c in conns))
    return latencies, results, time.perf_counter() - t0


async def _drain(target: Target, ids: list[str], timeout_s: float = 300) -> float:
    """Wait until every activation in ``ids`` is recorded; when (perf_counter) it was.

    The last id submitted is polled alone (activations of one action finish in about the
    order they were accepted); once it is there, the time is taken and every other id is
    checked, untimed (any still missing are waited for, and the time moves on).
    """
    pending = list(ids)
    deadline = time.monotonic() + timeout_s
    finished = time.perf_counter()
    async with target.async_client(8) as client:
        async def done(aid: str) -> bool:
            r = await client.get(f"{NS}/activations/{aid}")
            return r.status_code == 200

        while pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} activations never recorded")
            if not await done(pending[-1]):
                await asyncio.sleep(0.005)
                continue
            finished = time.perf_counter()
            pending.pop()
            flags = []
            for i in range(0, len(pending), 64):
                flags += await asyncio.gather(*(done(a) for a in pending[i:i + 64]))
            # Any still missing: the loop polls the last of them, and the time moves on.
            pending = [a for a, ok in zip(pending, flags, strict=True) if not ok]
    return finished


def throughput(target: Target, sizes: Sizes, report: Report) -> None:
    """Warm no-op invokes at several concurrencies, blocking and non-blocking."""
    tag = _tag()
    name = f"bench-tput-{tag}"
    with target.client() as api:
        put_action(api, name, noop_exec("python", tag))
        _blocking(api, name)
    url = f"{NS}/actions/{name}"

    async def ping(conn: RawClient) -> int:
        return (await conn.request("GET", "/ping"))[0]

    async def blocking(conn: RawClient) -> int:
        return (await conn.request("POST", url + "?blocking=true&result=true", b"{}"))[0]

    async def nonblocking(conn: RawClient) -> str:
        status, body = await conn.request("POST", url, b"{}")
        if status != 202:
            raise RuntimeError(f"non-blocking invoke → {status}: {body[:200]!r}")
        return str(orjson.loads(body)["activationId"])

    for clients in sizes.levels:
        floor_lat, _, floor_s = asyncio.run(_load(target, clients, sizes.seconds / 2, ping))
        floor_rate = len(floor_lat) / floor_s
        # Warm-up at this concurrency: the pool grows to it before the timed run.
        asyncio.run(_load(target, clients, min(1.0, sizes.seconds), blocking))
        lat, codes, secs = asyncio.run(_load(target, clients, sizes.seconds, blocking))
        bad = [c for c in codes if c != 200]
        if len(bad) > len(codes) // 10:
            raise RuntimeError(f"{len(bad)} of {len(codes)} blocking invokes failed: {bad[:5]}")
        report.add(Figure(f"throughput blocking, {clients} clients", "act/s",
                          [(len(codes) - len(bad)) / secs],
                          floor=f"GET /ping rate, {clients} clients",
                          floor_p50=floor_rate, higher_is_better=True,
                          target=">= 2000/s standalone" if clients >= 8 else "",
                          note=f"{len(bad)} failed: {sorted(set(bad))}" if bad else ""))
        report.add(Figure(f"  latency blocking, {clients} clients", "ms", lat,
                          floor=f"GET /ping, {clients} clients",
                          floor_p50=Figure("", "", floor_lat).stats()["p50"]))

        async def fire_and_drain(clients: int = clients) -> tuple[list[float], float]:
            t0 = time.perf_counter()
            lat, ids, _ = await _load(target, clients, sizes.seconds, nonblocking)
            finished = await _drain(target, ids)
            return lat, len(ids) / (finished - t0)

        lat, rate = asyncio.run(fire_and_drain())
        report.add(Figure(f"throughput non-blocking, {clients} clients", "act/s", [rate],
                          floor=f"GET /ping rate, {clients} clients", floor_p50=floor_rate,
                          higher_is_better=True, note="accepted until every record is stored"))
        report.add(Figure(f"  accept latency non-blocking, {clients} cl.", "ms", lat,
                          floor=f"GET /ping, {clients} clients",
                          floor_p50=Figure("", "", floor_lat).stats()["p50"]))


# --- cold start ---------------------------------------------------------------------------


def cold(target: Target, sizes: Sizes, report: Report) -> None:
    """First invoke of a never-seen action, split with the record's annotations.

    waitTime (controller accept → container ready at the invoker: the container start, or
    taking a stem cell), initTime (/init), run = duration - initTime; the rest of the client's
    time is the platform's hops (HTTP, bus, ack). The floor: a warm invoke of the same action.
    """
    # 256 MB matches the stem cells (python:3.11, nodejs:20); 384 MB matches none.
    variants = [("python, prewarmed stem cell", "python", 256),
                ("python, no stem cell", "python", 384),
                ("nodejs, prewarmed stem cell", "nodejs", 256),
                ("native, no stem cell", "native", 256)]
    with target.client() as api:
        for label, kind, memory in variants:
            totals: list[float] = []
            parts: dict[str, list[float]] = {"waitTime (start)": [], "initTime (/init)": [],
                                             "first /run": [], "platform hops": []}
            warm: list[float] = []
            for _ in range(sizes.cold):
                tag = _tag()
                name = f"bench-cold-{kind}-{tag}"
                put_action(api, name, noop_exec(kind, tag), {"memory": memory})
                time.sleep(sizes.settle_s)  # the stem cell taken last time is replaced
                t0 = time.perf_counter()
                record = _blocking(api, name, result=False).json()
                total = (time.perf_counter() - t0) * 1000
                if record["response"]["status"] != "success":
                    raise RuntimeError(f"cold start of {name} failed: {record['response']}")
                wait = float(annotation(record, "waitTime", 0))
                init = float(annotation(record, "initTime", 0))
                duration = float(record.get("duration", record["end"] - record["start"]))
                totals.append(total)
                parts["waitTime (start)"].append(wait)
                parts["initTime (/init)"].append(init)
                parts["first /run"].append(duration - init)
                parts["platform hops"].append(total - wait - duration)
                t0 = time.perf_counter()
                _blocking(api, name, result=False)
                warm.append((time.perf_counter() - t0) * 1000)
            warm_p50 = Figure("", "", warm).stats()["p50"]
            report.add(Figure(f"cold start, {label}", "ms", totals,
                              floor="warm invoke of the same action", floor_p50=warm_p50,
                              target=("<= 30 ms process backend" if target.backend == "process"
                                      and kind == "python" else
                                      "<= 40 ms" if memory == 256 and kind != "native" else "")))
            for part, values in parts.items():
                report.add(Figure(f"  {part}", "ms", values))


# --- sequences ----------------------------------------------------------------------------


def sequences(target: Target, sizes: Sizes, report: Report) -> None:
    """Sequences of 1, 5 and 20 no-ops; overhead per component = marginal cost of one more."""
    tag = _tag()
    noop = f"bench-seq-noop-{tag}"
    with target.client() as api:
        put_action(api, noop, noop_exec("python", tag))
        for _ in range(sizes.warmup):
            _blocking(api, noop)
        single = timed(lambda: _blocking(api, noop), sizes.sequence)
        single_p50 = Figure("", "", single).stats()["p50"]
        report.add(Figure("warm invoke, the no-op alone", "ms", single))
        p50s: dict[int, float] = {}
        for n in (1, 5, 20):
            seq = f"bench-seq{n}-{tag}"
            put_action(api, seq, {"kind": "sequence", "components": [f"/guest/{noop}"] * n})
            for _ in range(max(2, sizes.warmup // 5)):
                _blocking(api, seq)
            ms = timed(lambda seq=seq: _blocking(api, seq), sizes.sequence)  # type: ignore[misc]
            p50s[n] = Figure("", "", ms).stats()["p50"]
            report.add(Figure(f"sequence of {n} no-ops", "ms", ms,
                              floor="the no-op alone", floor_p50=single_p50))
        for n in (5, 20):
            per = (p50s[n] - p50s[1]) / (n - 1)
            report.add(Figure(f"sequence overhead per component (1→{n})", "ms", [per],
                              floor="the no-op alone", floor_p50=single_p50,
                              target="<= 1.5 ms"))


# --- triggers and rules -------------------------------------------------------------------


def _rule_ids(api: httpx.Client, trigger_activation: str) -> list[str]:
    record = wait_record(api, trigger_activation)
    ids = []
    for line in record.get("logs", []):
        entry = orjson.loads(line)
        if not entry.get("success"):
            raise RuntimeError(f"rule failed: {entry}")
        ids.append(entry["activationId"])
    return ids


def _fire(api: httpx.Client, trigger: str) -> tuple[float, list[float]]:
    """Fire; the client's clock before the POST, and each rule's action start (epoch ms)."""
    t0 = time.time() * 1000
    aid = check(api.post(f"{NS}/triggers/{trigger}", json={"n": 1}), 202).json()["activationId"]
    starts = [float(wait_record(api, a)["start"]) for a in _rule_ids(api, aid)]
    return t0, starts


def triggers(target: Target, sizes: Sizes, report: Report) -> None:
    """Trigger fire → rule → action start (the action record's start), one rule and ten."""
    tag = _tag()
    with target.client() as api:
        ping_p50 = Figure("", "", trivial_get(api, sizes.floor)).stats()["p50"]
        for fan in (1, 10):
            trigger = f"bench-trig{fan}-{tag}"
            check(api.put(f"{NS}/triggers/{trigger}?overwrite=true", json={}))
            for i in range(fan):
                action = f"bench-rule-{fan}-{i}-{tag}"
                put_action(api, action, noop_exec("python", f"{tag}{fan}{i}"))
                check(api.put(f"{NS}/rules/{action}-rule?overwrite=true",
                              json={"trigger": f"/_/{trigger}", "action": f"/_/{action}"}))
            for _ in range(2):
                _fire(api, trigger)  # warm every action
            first, last = [], []
            for _ in range(sizes.fires if fan == 1 else sizes.fanout_fires):
                t0, starts = _fire(api, trigger)
                if len(starts) != fan:
                    raise RuntimeError(f"{len(starts)} of {fan} rules fired")
                first.append(min(starts) - t0)
                last.append(max(starts) - t0)
            if fan == 1:
                report.add(Figure("fire → rule → action start", "ms", first,
                                  floor="GET /ping", floor_p50=ping_p50,
                                  note="clock: client epoch ms vs record start (1 ms grain)"))
            else:
                report.add(Figure("fan-out to 10 rules: first action start", "ms", first,
                                  floor="GET /ping", floor_p50=ping_p50))
                report.add(Figure("fan-out to 10 rules: last action start", "ms", last,
                                  floor="GET /ping", floor_p50=ping_p50))


# --- memory -------------------------------------------------------------------------------


def _bare_python() -> tuple[float, float]:
    """RSS and PSS (MB) of an idle Python interpreter: the floor of every Python process."""
    import psutil

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        info = psutil.Process(proc.pid).memory_full_info()
        return float(info.rss) / 2**20, float(info.pss) / 2**20
    finally:
        proc.kill()
        proc.wait()


def memory(target: Target, sizes: Sizes, report: Report) -> None:
    """Idle RSS of each service and of a warm container; growth over many activations.

    Run first, on a fresh deployment: "idle" is after start-up, with only the stem cells.
    """
    bare, bare_pss = _bare_python()
    idle = {name: rss_mb(pid) for name, pid in target.services.items()}
    for name, mb in idle.items():
        report.add(Figure(f"idle RSS, {name}", "MB", [mb], floor="bare python interpreter",
                          floor_p50=bare))
    tag = _tag()
    name = f"bench-mem-{tag}"
    with target.client() as api:
        put_action(api, name, noop_exec("python", tag))
        for _ in range(sizes.warmup):
            _blocking(api, name)
        warm = proxy_rss_mb(target, name, tag,
                            lambda: [_blocking(api, name) for _ in range(20)])
        if warm is not None:
            process = target.backend == "process"
            report.add(Figure("warm python container", "MB", [warm],
                              floor="bare python interpreter" + (" (PSS)" if process else ""),
                              floor_p50=bare_pss if process else bare,
                              note="proxy PSS" if process
                              else "cgroup usage less inactive file cache"))
    before = {n: rss_mb(pid) for n, pid in target.services.items()}
    url = f"{NS}/actions/{name}?blocking=true&result=true"

    async def run_all(total: int, clients: int = 8) -> None:
        left = [total]

        async def worker(conn: RawClient) -> None:
            try:
                while left[0] > 0:
                    left[0] -= 1
                    status, body = await conn.request("POST", url, b"{}")
                    if status != 200:
                        raise RuntimeError(f"invoke → {status}: {body[:200]!r}")
            finally:
                await conn.aclose()

        await asyncio.gather(*(worker(RawClient(target.url)) for _ in range(clients)))

    t0 = time.perf_counter()
    asyncio.run(run_all(sizes.activations))
    secs = time.perf_counter() - t0
    for n, pid in target.services.items():
        after = rss_mb(pid)
        report.add(Figure(f"RSS after {sizes.activations} activations, {n}", "MB", [after],
                          floor="RSS after warm-up", floor_p50=before[n],
                          note=f"growth {after - before[n]:+.1f} MB in {secs:.0f} s"))


# --- MQTT → dashboard ---------------------------------------------------------------------


def realtime(target: Target, sizes: Sizes, report: Report) -> None:
    """MQTT publish → bridge → trigger → publish-realtime → SSE (bench/realtime_latency.py)."""
    from pwsk.demo import deploy_brewery

    from .realtime_latency import measure

    deploy_brewery(target.url)
    full, floor = asyncio.run(measure(target.url, sizes.readings, sizes.rate, sizes.warmup))
    if len(full) < sizes.readings:
        raise RuntimeError(f"{sizes.readings - len(full)} readings never reached the stream")
    floor_p50 = Figure("", "", floor).stats()["p50"]
    report.add(Figure("POST /realtime → SSE (floor)", "ms", floor))
    report.add(Figure("MQTT publish → dashboard SSE", "ms", full,
                      floor="POST /realtime → SSE", floor_p50=floor_p50,
                      target="p99 <= 50 ms"))


BENCHMARKS = {
    "memory": memory,
    "latency": latency,
    "throughput": throughput,
    "cold": cold,
    "sequences": sequences,
    "triggers": triggers,
    "realtime": realtime,
}
