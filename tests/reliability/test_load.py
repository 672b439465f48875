"""A sustained load (issue #10, item 5) on a standalone of its own (process backend): several
clients mix blocking invokes (200, and 502 from an action that fails), non-blocking invokes
and trigger fires with two rules each, as fast as the server answers them (closed loops, the
benchmarks' throughput on this machine), for ``PWSK_LOAD_SECONDS`` (default 90 s).

Meanwhile the server's RSS, open descriptors and child processes are sampled every second;
after a warm-up, the second half's peak RSS may not exceed the first half's by more than
``RSS_MARGIN_MB``, nor its descriptors by more than ``FD_MARGIN`` beyond those that new child
processes hold. Every activation id the
platform accepted (200/502 records, 202 ids, each fire's rule activations) must end with a
stored record: nothing lost.

Alongside the load, three namespaces with low limits (their ``<ns>/limits`` documents, as an
operator writes them) show the throttles answering 429 exactly at their limits, with
OpenWhisk's messages: ``invocationsPerMinute`` N accepts the first N of a calendar minute and
refuses the rest (and accepts again the next minute), ``concurrentInvocations`` C refuses the
C+1st while C slow activations run and accepts again once they finish, ``firesPerMinute``
likewise. ``python -m bench.soak --minutes N`` runs the same load for longer and writes its
figures as JSON.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bench.core import RawClient
from pwsk.store.base import ACTIVATIONS, SUBJECTS
from pwsk.store.sqlite import SqliteStore
from tests.api.helpers import NS, put_action
from tests.reliability.conftest import FIGURES, assert_alive
from tests.servers import SYSTEM, Server, start_server

pytestmark = [pytest.mark.slow]

SECONDS = float(os.environ.get("PWSK_LOAD_SECONDS", "90"))
CLIENTS = int(os.environ.get("PWSK_LOAD_CLIENTS", "8"))
WARMUP_S = min(20.0, SECONDS / 4)
# Flat means: after the warm-up, the second half's peak is within this of the first half's.
# The allocator and the bounded caches (recent activations, entities, identities) settle
# within ~10 s (~10k activations: 68 -> 78 MB here); a leak of 1 KB per activation would add
# more than this over the second half of a CI run (30-50k activations at 700-1,000 req/s).
RSS_MARGIN_MB = 12.0
# Descriptors: the pool grows with the throttle checks' containers (each holds up to 4 of the
# server's: 2 pipes, its socket, a pidfd); beyond those, the second half's peak may exceed the
# first half's by this much (a leak of one per 2,000 activations would exceed it in CI).
FDS_PER_CHILD = 4
FD_MARGIN = 8

# Three namespaces with low limits (and only that one limit low).
RATE_NS, RATE_N = "load-rate", 12
CONC_NS, CONC_C = "load-conc", 3
FIRE_NS, FIRE_N = "load-fire", 4
HIGH = 1_000_000
LIMITS = {
    RATE_NS: {"invocationsPerMinute": RATE_N, "concurrentInvocations": HIGH,
              "firesPerMinute": HIGH},
    CONC_NS: {"invocationsPerMinute": HIGH, "concurrentInvocations": CONC_C,
              "firesPerMinute": HIGH},
    FIRE_NS: {"invocationsPerMinute": HIGH, "concurrentInvocations": HIGH,
              "firesPerMinute": FIRE_N},
}
PER_MINUTE = "Too many requests in the last minute (count: {count}, allowed: {allowed})."
CONCURRENT = "Too many concurrent requests in flight (count: {count}, allowed: {allowed})."

NOOP = "def main(args):\n    return {'ok': True}\n"
FAIL = "def main(args):\n    return {'error': 'refused on purpose'}\n"
SLOW = "import time\ndef main(args):\n    time.sleep(6)\n    return {}\n"


# --- the server and its samples ------------------------------------------------------------


def write_limits(data_dir: Path, limits: dict[str, dict[str, int]]) -> None:
    """Each namespace's ``<ns>/limits`` document in the subjects database, as an operator
    writes it (OpenWhisk has no REST API for them), before the server starts."""
    async def put() -> None:
        store = SqliteStore(data_dir / "pwsk.db")
        await store.start()
        try:
            for ns, values in limits.items():
                await store.put(SUBJECTS, {"_id": f"{ns}/limits", **values})
        finally:
            await store.stop()

    asyncio.run(put())


@dataclass
class Sample:
    t: float  # seconds since the load started
    rss_mb: float
    fds: int
    children: int


def _children(pid: int) -> int:
    """Processes below ``pid`` (containers, fork servers), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(b")") + 2:].split()[1])
    below, frontier = 0, {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier}
        below += len(frontier)
    return below


def sample(pid: int, t: float) -> Sample:
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return Sample(t, rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd")), _children(pid))


class Sampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.samples: list[Sample] = []
        self.t0 = time.monotonic()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            self.samples.append(sample(self.pid, time.monotonic() - self.t0))


@dataclass
class Flatness:
    """The samples after the warm-up, in two halves."""

    first: list[Sample]
    second: list[Sample]

    @classmethod
    def of(cls, samples: list[Sample], warmup_s: float) -> Flatness:
        steady = [s for s in samples if s.t >= warmup_s]
        half = len(steady) // 2
        return cls(steady[:half], steady[half:])

    def rss_growth_mb(self) -> float:
        return max(s.rss_mb for s in self.second) - max(s.rss_mb for s in self.first)

    def fd_growth(self) -> int:
        """How many more descriptors the second half's peak holds than the first half's,
        less those its extra child processes may hold."""
        children = max(s.children for s in self.second) - max(s.children for s in self.first)
        return (max(s.fds for s in self.second) - max(s.fds for s in self.first)
                - FDS_PER_CHILD * max(0, children))


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Tally:
    codes: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)  # activation ids of invokes
    fires: list[str] = field(default_factory=list)  # trigger activation ids
    unexpected: list[str] = field(default_factory=list)


def _id(body: bytes) -> str:
    aid = orjson.loads(body).get("activationId")
    assert isinstance(aid, str) and len(aid) == 32, body[:300]
    return aid


async def run_load(url: str, seconds: float, clients: int, tally: Tally) -> float:
    """``clients`` closed loops of a fixed mix for ``seconds``; the elapsed time."""
    mix = (["blocking"] * 5 + ["nonblocking"] * 3 + ["fail"] + ["fire"])
    paths = {"blocking": f"{NS}/actions/load-noop?blocking=true",
             "nonblocking": f"{NS}/actions/load-noop",
             "fail": f"{NS}/actions/load-fail?blocking=true",
             "fire": f"{NS}/triggers/load-t"}
    expected = {"blocking": {200, 202}, "nonblocking": {202}, "fail": {202, 502},
                "fire": {202}}
    stop = time.monotonic() + seconds

    async def client(n: int) -> None:
        conn = RawClient(url)
        i = n  # the clients start at different places in the mix
        try:
            while time.monotonic() < stop:
                kind = mix[i % len(mix)]
                i += 1
                status, body = await conn.request("POST", paths[kind], b'{"n": %d}' % i)
                tally.codes[f"{kind} {status}"] += 1
                if status not in expected[kind]:
                    tally.unexpected.append(f"{kind} {status}: {body[:200]!r}")
                    continue
                (tally.fires if kind == "fire" else tally.accepted).append(_id(body))
        finally:
            await conn.aclose()

    t0 = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return time.monotonic() - t0


def setup_load(api: httpx.Client) -> None:
    put_action(api, "load-noop", NOOP)
    put_action(api, "load-fail", FAIL)
    assert api.put(f"{NS}/triggers/load-t", json={}).status_code == 200
    for r in ("load-r1", "load-r2"):
        assert api.put(f"{NS}/rules/{r}", json={"trigger": "/_/load-t",
                                                 "action": "/_/load-noop"}).status_code == 200


def rule_ids_of(record: dict[str, Any]) -> list[str]:
    """The activation ids a fire's rules started, from its record's log lines (each rule's
    line must say it succeeded)."""
    lines = [orjson.loads(line) for line in record.get("logs", [])]
    assert lines and all(line.get("success") for line in lines), (record, lines)
    return [str(line["activationId"]) for line in lines]


def listed(api: httpx.Client, **params: str) -> dict[str, dict[str, Any]]:
    """Every activation record the namespace's list shows (200 a page), by id."""
    found: dict[str, dict[str, Any]] = {}
    skip = 0
    while True:
        r = api.get(f"{NS}/activations", params={**params, "limit": "200", "skip": str(skip)})
        assert r.status_code == 200, r.text
        page = r.json()
        found.update((a["activationId"], a) for a in page)
        if len(page) < 200:
            return found
        skip += len(page)


def stored(api: httpx.Client, ids: list[str], timeout_s: float = 120,
           **params: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The records of ``ids`` the namespace's list shows (read from the store, where a GET
    by id may answer from the controller's memory), and the ids still missing when
    ``timeout_s`` has passed (in-flight ones are waited for)."""
    deadline = time.monotonic() + timeout_s
    while True:
        shown = listed(api, **params)
        missing = [a for a in ids if a not in shown]
        if not missing or time.monotonic() > deadline:
            return {a: shown[a] for a in ids if a in shown}, missing
        time.sleep(2)


def in_store(data_dir: Path, ids: list[str], timeout_s: float = 120,
             ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Like ``stored``, reading the standalone's SQLite store itself (one query, where the
    list pages each sort the namespace's records: ~60 ms a page at 40k records)."""
    async def read() -> list[dict[str, Any]]:
        store = SqliteStore(data_dir / "pwsk.db")
        await store.start()
        try:
            return await store.all_docs(ACTIVATIONS)
        finally:
            await store.stop()

    deadline = time.monotonic() + timeout_s
    while True:
        docs = {str(d.get("activationId")): d for d in asyncio.run(read())}
        missing = [a for a in ids if a not in docs]
        if not missing or time.monotonic() > deadline:
            return {a: docs[a] for a in ids if a in docs}, missing
        time.sleep(2)


# --- the throttles, beside the load ---------------------------------------------------------


def _minute() -> int:
    return int(time.time() // 60)


def _at_least_s_left_in_minute(seconds: float) -> None:
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.2)


def _burst(api: httpx.Client, path: str, n: int) -> list[httpx.Response]:
    """``n`` posts within one calendar minute, the namespace's first posts of that minute."""
    while True:
        _at_least_s_left_in_minute(15)
        minute = _minute()
        answers = [api.post(path, json={}) for _ in range(n)]
        if _minute() == minute:
            return answers
        while _minute() <= minute + 1:  # the burst's tail counted in the next one: skip it
            time.sleep(0.5)


def check_rate(api: httpx.Client) -> dict[str, Any]:
    """invocationsPerMinute N: the first N of a minute are accepted, the rest refused with
    429 and OpenWhisk's message (counting every request tried); the next minute accepts."""
    put_action(api, "noop", NOOP)
    path = f"{NS}/actions/noop"
    answers = _burst(api, path, RATE_N + 3)
    minute = _minute()
    codes = [r.status_code for r in answers]
    assert codes == [202] * RATE_N + [429] * 3, [(r.status_code, r.text) for r in answers]
    assert [r.json()["error"] for r in answers[RATE_N:]] == [
        PER_MINUTE.format(count=RATE_N + k, allowed=RATE_N) for k in (1, 2, 3)]
    while _minute() == minute:
        time.sleep(0.5)
    again = api.post(path, json={})
    assert again.status_code == 202, again.text
    return {"ids": [r.json()["activationId"] for r in answers[:RATE_N]]
            + [again.json()["activationId"]], "refused": 3}


def check_concurrency(api: httpx.Client) -> dict[str, Any]:
    """concurrentInvocations C: C slow activations in flight, the next is 429; once they
    have finished, an invoke is accepted again."""
    put_action(api, "slow", SLOW)
    path = f"{NS}/actions/slow"
    running = [api.post(path, json={}) for _ in range(CONC_C)]
    assert [r.status_code for r in running] == [202] * CONC_C, [r.text for r in running]
    refused = api.post(path, json={})
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == CONCURRENT.format(count=CONC_C, allowed=CONC_C)
    ids = [r.json()["activationId"] for r in running]
    assert stored(api, ids)[1] == []
    deadline = time.monotonic() + 30  # the slot frees with the result; the record follows it
    while True:
        again = api.post(path, json={})
        if again.status_code == 202 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert again.status_code == 202, again.text
    return {"ids": [*ids, again.json()["activationId"]], "refused": 1}


def check_fires(api: httpx.Client) -> dict[str, Any]:
    """firesPerMinute F: the first F fires of a minute are accepted (their rules run), the
    rest refused with 429."""
    put_action(api, "noop", NOOP)
    assert api.put(f"{NS}/triggers/t", json={}).status_code == 200
    assert api.put(f"{NS}/rules/r", json={"trigger": "/_/t",
                                           "action": "/_/noop"}).status_code == 200
    answers = _burst(api, f"{NS}/triggers/t", FIRE_N + 2)
    codes = [r.status_code for r in answers]
    assert codes == [202] * FIRE_N + [429] * 2, [(r.status_code, r.text) for r in answers]
    assert [r.json()["error"] for r in answers[FIRE_N:]] == [
        PER_MINUTE.format(count=FIRE_N + k, allowed=FIRE_N) for k in (1, 2)]
    fires = [r.json()["activationId"] for r in answers[:FIRE_N]]
    records, missing = stored(api, fires, name="t", docs="true")
    assert missing == [], missing
    return {"ids": fires + [aid for record in records.values() for aid in rule_ids_of(record)],
            "refused": 2}


class Checker(threading.Thread):
    """Runs one throttle check in its namespace; keeps its outcome or its failure."""

    def __init__(self, server: Server, key: str, check: Any) -> None:
        super().__init__(daemon=True)
        self.server, self.key, self.check = server, key, check
        self.outcome: dict[str, Any] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.server.client(auth=self.key) as api:
                self.outcome = self.check(api)
                self.outcome["lost"] = stored(api, self.outcome["ids"])[1]
        except BaseException as exc:  # reported by the test
            self.error = exc


# --- the test ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def load_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("load")
    write_limits(data_dir, LIMITS)
    # The guest namespace carries the load: no throttle of its own gets in the way.
    srv = start_server(data_dir, env={"PWSK_INVOCATIONS_PER_MINUTE": str(HIGH),
                                      "PWSK_CONCURRENT_INVOCATIONS": str(HIGH),
                                      "PWSK_FIRES_PER_MINUTE": str(HIGH)})
    yield srv
    srv.stop()


def new_key(server: Server, namespace: str) -> str:
    with server.client(auth=SYSTEM) as admin:
        r = admin.post("/admin/keys", json={"subject": namespace, "namespace": namespace})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])  # uuid:secret


@pytest.mark.timeout(SECONDS + 600)
def test_sustained_load(load_server: Server) -> None:
    server = load_server
    with server.client() as api:
        setup_load(api)
        for _ in range(20):  # warm the actions
            assert api.post(f"{NS}/actions/load-noop?blocking=true", json={}).status_code == 200
    checkers = [Checker(server, new_key(server, ns), check) for ns, check in
                ((RATE_NS, check_rate), (CONC_NS, check_concurrency), (FIRE_NS, check_fires))]
    sampler = Sampler(server.proc.pid)
    sampler.samples.append(sample(server.proc.pid, 0.0))
    sampler.start()
    for checker in checkers:
        checker.start()
    tally = Tally()
    elapsed = asyncio.run(run_load(server.url, SECONDS, CLIENTS, tally))
    sampler.stopped.set()
    sampler.join()
    t_load = time.monotonic()
    for checker in checkers:
        checker.join(timeout=300)
    t_checks = time.monotonic()

    fired, lost = in_store(server.data_dir, tally.fires)
    rule_ids = [aid for record in fired.values() for aid in rule_ids_of(record)]
    ids = tally.accepted + tally.fires + rule_ids
    lost += in_store(server.data_dir, tally.accepted + rule_ids)[1]
    print(f"\nafter the load: throttle checks {t_checks - t_load:.1f} s, records checked "
          f"{time.monotonic() - t_checks:.1f} s")
    samples = sampler.samples
    flat = Flatness.of(samples, WARMUP_S)
    requests = sum(tally.codes.values())
    figures = {
        "load requests": requests,
        "load requests/s": round(requests / elapsed, 1),
        "load activations (incl. rule activations)": len(ids),
        "load lost": len(lost),
        "load RSS MB first/last/max": "/".join(f"{mb:.1f}" for mb in (
            samples[0].rss_mb, samples[-1].rss_mb, max(s.rss_mb for s in samples))),
        "load RSS growth MB (2nd half max - 1st half max)": round(flat.rss_growth_mb(), 1),
        "load fds first/max/last": "/".join(str(n) for n in (
            samples[0].fds, max(s.fds for s in samples), samples[-1].fds)),
        "load fds growth beyond children (2nd half max - 1st half max)": flat.fd_growth(),
        "load children max": max(s.children for s in samples),
        "load 429s from the throttled namespaces": sum(c.outcome.get("refused", 0)
                                                       for c in checkers),
        "load seconds": round(elapsed, 1),
    }
    print("\n" + "\n".join(f"{k}: {v}" for k, v in figures.items()))
    print("codes:", dict(sorted(tally.codes.items())))
    print("every 5 s (t s, RSS MB, fds, children):", [
        (round(x.t), round(x.rss_mb, 1), x.fds, x.children) for x in samples[::5]])
    FIGURES.update({k: v for k, v in figures.items() if isinstance(v, int)})

    for checker in checkers:
        if checker.error is not None:
            raise checker.error
        assert checker.is_alive() is False, "a throttle check did not finish"
        assert checker.outcome["lost"] == [], checker.outcome
    assert tally.unexpected == [], tally.unexpected[:10]
    assert lost == [], f"{len(lost)} of {len(ids)} accepted activations have no record"
    assert requests / elapsed > 50, figures  # a load, not a trickle
    assert flat.rss_growth_mb() <= RSS_MARGIN_MB, ([round(s.rss_mb, 1) for s in samples],
                                                   figures)
    assert flat.fd_growth() <= FD_MARGIN, ([(s.fds, s.children) for s in samples], figures)
    assert_alive(server)


BIG = "def main(args):\n    return {'blob': 'x' * 500_000}\n"


def test_big_results_are_not_pinned(load_server: Server) -> None:
    """Blocking results stay in the controller only until their record is stored, and freed
    big blocks go back to the system: 300 results of 500 kB leave the RSS where it was, not
    150 MB higher (the cache of finished activations, by count alone, held 2,048 of them;
    glibc kept freed big blocks, see pwsk/malloc.py)."""
    server = load_server
    with server.client() as api:
        put_action(api, "big", BIG)
        for _ in range(5):
            assert api.post(f"{NS}/actions/big?blocking=true", json={}).status_code == 200
        before = sample(server.proc.pid, 0).rss_mb

        async def invoke_all(total: int = 300, clients: int = 4) -> None:
            left = [total]

            async def client() -> None:
                conn = RawClient(server.url)
                try:
                    while left[0] > 0:
                        left[0] -= 1
                        status, body = await conn.request(
                            "POST", f"{NS}/actions/big?blocking=true&result=true", b"{}")
                        assert status == 200 and len(body) > 500_000, (status, body[:200])
                finally:
                    await conn.aclose()

            await asyncio.gather(*(client() for _ in range(clients)))

        asyncio.run(invoke_all())
        deadline = time.monotonic() + 60  # the records are written after the results
        while api.get(f"{NS}/activations", params={"name": "big", "count": "true"}).json()[
                "activations"] < 305 and time.monotonic() < deadline:
            time.sleep(0.5)
        deadline = time.monotonic() + 15  # the grace after the last record was stored
        while True:
            after = sample(server.proc.pid, 0).rss_mb
            if after - before < 20 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    print(f"\nRSS around 300 results of 500 kB: {before:.1f} -> {after:.1f} MB")
    assert after - before < 20, (before, after)
