"""What every benchmark shares: the deployment under test, timing, floors, tables, JSON.

A figure is a set of samples (milliseconds, activations/s or MB) summarised as p50/p90/p99,
printed next to the floor measured in the same run on the same machine: a noisy machine
moves both, so the ratio figure / floor is what compares across machines.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.servers import GUEST, ROOT, Server, start_server

NS = "/api/v1/namespaces/_"
NOOP_PY = "def main(args):\n    return {{}}\n# {tag}\n"
NOOP_JS = "function main(args) {{ return {{}}; }}\n// {tag}\n"
NOOP_SH = "#!/bin/sh\n# {tag}\necho '{{}}'\n"
# No throttle gets in the way of a benchmark.
UNTHROTTLED = {
    "PWSK_INVOCATIONS_PER_MINUTE": "10000000",
    "PWSK_CONCURRENT_INVOCATIONS": "100000",
    "PWSK_FIRES_PER_MINUTE": "10000000",
    # Room for the warm containers one benchmark keeps (ten rules' actions, the stem cells):
    # with the default 2 GB (8 containers), LRU eviction turns warm figures into cold ones.
    # Not more: a flood of non-blocking invokes would start as many containers as it allows,
    # and on two cores those cold starts starve everything else.
    "PWSK_USER_MEMORY_MB": "4096",
    # The floors call a warm container directly for a while after the platform's series:
    # the invoker must not pause it meanwhile (no figure here measures an unpause).
    "PWSK_PAUSE_GRACE_S": "300",
}


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class Figure:
    name: str
    unit: str
    samples: list[float]
    floor: str = ""
    floor_p50: float | None = None
    note: str = ""
    higher_is_better: bool = False
    target: str = ""

    def stats(self) -> dict[str, float]:
        s = sorted(self.samples)
        return {"p50": statistics.median(s) if s else float("nan"),
                "p90": quantile(s, 0.90), "p99": quantile(s, 0.99)}

    def json_stats(self) -> dict[str, float | None]:
        return {k: (None if v != v else round(v, 4)) for k, v in self.stats().items()}

    def ratio(self) -> float | None:
        if not self.floor_p50 or not self.samples:
            return None
        p50 = self.stats()["p50"]
        return p50 / self.floor_p50

    def to_json(self) -> dict[str, Any]:
        ratio = self.ratio()
        return {"figure": self.name.strip(), "unit": self.unit, **self.json_stats(),
                "runs": len(self.samples),
                "floor": self.floor, "floor_p50": self.floor_p50,
                "ratio": None if ratio is None else round(ratio, 3),
                "target": self.target, "note": self.note}


@dataclass
class Report:
    benchmark: str
    deployment: str
    quick: bool
    figures: list[Figure] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def table(self) -> str:
        rows = [f"== {self.benchmark} ({self.deployment}{', quick' if self.quick else ''})",
                f"{'figure':<46} {'unit':<6} {'runs':>5} {'p50':>9} {'p90':>9} {'p99':>9}"
                f"  {'floor':<34} {'floor p50':>9} {'ratio':>6}"]
        for f in self.figures:
            st = f.stats()
            ratio = f.ratio()
            floor_p50 = "" if f.floor_p50 is None else _num(f.floor_p50)
            rows.append(f"{f.name:<46} {f.unit:<6} {len(f.samples):>5} {_num(st['p50']):>9} "
                        f"{_num(st['p90']):>9} {_num(st['p99']):>9}  {f.floor:<34} "
                        f"{floor_p50:>9} {'' if ratio is None else f'x{ratio:.1f}':>6}")
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "deployment": self.deployment, "quick": self.quick,
                "started": self.started, "seconds": round(time.time() - self.started, 1),
                "machine": machine(), "commit": commit(),
                "figures": [f.to_json() for f in self.figures]}

    def write(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{self.benchmark}-{self.deployment}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, allow_nan=False,
                                   default=_finite) + "\n")
        return path


def _finite(value: object) -> object:
    raise TypeError(f"not JSON: {value!r}")


def _num(value: float) -> str:
    if value != value:  # nan
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "load": [round(x, 2) for x in load],
            "memory_mb": psutil.virtual_memory().total // 2**20,
            "platform": platform.platform(), "python": platform.python_version(),
            "host": platform.node()}


def commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10)
    except OSError:
        return "unknown"
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def timed(call: Callable[[], object], n: int) -> list[float]:
    """``n`` calls, each timed in milliseconds."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def check(response: httpx.Response, *codes: int) -> httpx.Response:
    if response.status_code not in (codes or (200,)):
        raise RuntimeError(f"{response.request.method} {response.request.url.path} → "
                           f"{response.status_code}: {response.text[:300]}")
    return response


# --- the deployment under test --------------------------------------------------------------


@dataclass
class Target:
    """A running deployment: its URL, a client factory, and its service processes."""

    deployment: str  # standalone | distributed
    backend: str  # process | docker
    url: str
    services: dict[str, int]  # service name → pid
    handle: Any
    data_dir: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        user, key = GUEST.split(":", 1)
        return httpx.Client(base_url=self.url, auth=(user, key), timeout=120, **kwargs)

    def async_client(self, connections: int) -> httpx.AsyncClient:
        user, key = GUEST.split(":", 1)
        limits = httpx.Limits(max_connections=connections,
                              max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.url, auth=(user, key), timeout=120,
                                 limits=limits)


@contextlib.contextmanager
def deployment(kind: str, data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Target]:
    env = {**UNTHROTTLED, **(env or {})}
    if kind == "standalone":
        server: Server = start_server(data_dir, env=env)
        try:
            backend = env.get("PWSK_CONTAINERS", "process")
            yield Target("standalone", backend, server.url, {"standalone": server.proc.pid},
                         server, data_dir)
        finally:
            server.stop()
    elif kind == "distributed":
        from tests.distributed import start_stack  # imports Docker helpers: only when asked

        stack = start_stack(data_dir, extra_env=env)
        try:
            yield Target("distributed", "docker", stack.url,
                         {name: p.pid for name, p in stack.procs.items()}, stack, data_dir)
        finally:
            stack.stop()
    else:
        raise ValueError(f"unknown deployment {kind!r}")


class RawClient:
    """A minimal keep-alive HTTP/1.1 client, one connection, one request at a time.

    For load generation: httpx's async pool costs the client more CPU per request than the
    server spends on a trivial GET, and collapses at 100+ connections on two cores; with this
    the throughput figures measure the server.
    """

    def __init__(self, url: str) -> None:
        parts = httpx.URL(url)
        self.host, self.port = parts.host, parts.port or 80
        user, key = GUEST.split(":", 1)
        token = base64.b64encode(f"{user}:{key}".encode()).decode()
        self._head = f"Host: {self.host}:{self.port}\r\nAuthorization: Basic {token}\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None = None,
                      ) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            sock = self._writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self._reader is not None
        extra = (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 if body is not None else "")
        self._writer.write(f"{method} {path} HTTP/1.1\r\n{self._head}{extra}\r\n".encode()
                           + (body or b""))
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            data = await self._reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            chunks = []
            while size := int((await self._reader.readline()).strip() or b"0", 16):
                chunks.append(await self._reader.readexactly(size))
                await self._reader.readline()
            await self._reader.readline()
            data = b"".join(chunks)
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return status, data

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class SyncRawClient:
    """``RawClient`` for one-at-a-time timing loops: a blocking keep-alive socket.

    The latency figures time one request after another; httpx's sync client spent ~0.3 ms
    of CPU per request on this machine (a third of a warm invoke's wall time), so the
    figures measured the client as much as the server.
    """

    def __init__(self, url: str, auth: bool = True) -> None:
        parts = httpx.URL(url)
        self.host, self.port = parts.host, parts.port or 80
        head = f"Host: {self.host}:{self.port}\r\n"
        if auth:
            user, key = GUEST.split(":", 1)
            token = base64.b64encode(f"{user}:{key}".encode()).decode()
            head += f"Authorization: Basic {token}\r\n"
        self._head = head
        self._sock: socket.socket | None = None
        self._file: Any = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=120)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._file = self._sock.makefile("rb")
        extra = (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 if body is not None else "")
        self._sock.sendall(f"{method} {path} HTTP/1.1\r\n{self._head}{extra}\r\n".encode()
                           + (body or b""))
        status = int(self._file.readline().split()[1])
        length, chunked, close = None, False, False
        while (line := self._file.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            chunks = []
            while size := int(self._file.readline().strip() or b"0", 16):
                chunks.append(self._file.read(size))
                self._file.readline()
            self._file.readline()
            data = b"".join(chunks)
        else:
            data = self._file.read(length or 0)
        if close:
            self.close()
        return status, data

    def checked(self, method: str, path: str, body: bytes | None = None) -> bytes:
        status, data = self.request(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path} → {status}: {data[:300]!r}")
        return data

    def close(self) -> None:
        if self._sock is not None:
            self._file.close()
            self._sock.close()
        self._sock = self._file = None


def put_action(api: httpx.Client, name: str, exec_: dict[str, Any],
               limits: dict[str, Any] | None = None) -> None:
    body: dict[str, Any] = {"exec": exec_}
    if limits:
        body["limits"] = limits
    check(api.put(f"{NS}/actions/{name}?overwrite=true", json=body))


def noop_exec(kind: str, tag: str) -> dict[str, Any]:
    """A no-op action of ``kind`` (python, nodejs or native), its code marked with ``tag``."""
    import base64
    import io
    import zipfile

    if kind == "python":
        return {"kind": "python:3.11", "code": NOOP_PY.format(tag=tag)}
    if kind == "nodejs":
        return {"kind": "nodejs:20", "code": NOOP_JS.format(tag=tag)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("exec")
        info.external_attr = 0o755 << 16
        zf.writestr(info, NOOP_SH.format(tag=tag))
    return {"kind": "blackbox", "image": "openwhisk/dockerskeleton", "binary": True,
            "code": base64.b64encode(buf.getvalue()).decode()}


def annotation(record: dict[str, Any], key: str, default: Any = None) -> Any:
    for item in record.get("annotations", []):
        if item.get("key") == key:
            return item.get("value")
    return default


def wait_record(api: httpx.Client, activation_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        r = api.get(f"{NS}/activations/{activation_id}")
        if r.status_code == 200:
            record: dict[str, Any] = r.json()
            return record
        if time.monotonic() > deadline:
            raise RuntimeError(f"activation {activation_id} not recorded: {r.status_code}")
        time.sleep(0.01)


# --- finding the warm proxy of an action, for the direct /run floor ------------------------


def find_proxy(target: Target, action: str, tag: str, family: str = "",
               probe: Callable[[], object] | None = None) -> str | None:
    """``http://host:port`` of the warm proxy that runs ``action`` (code marked ``tag``).

    Processes: the proxy whose action directory holds the tagged code; the Node proxy keeps
    code in memory, so for ``family="nodejs"`` the Node proxy that burns CPU while ``probe``
    invokes the action. Docker (action files live on a tmpfs the engine does not show): the
    container named after the action, else (a stem cell keeps its own name) the one of this
    deployment's containers of that kind whose CPU time grows while ``probe`` runs.
    """
    if target.backend != "process":
        return _find_docker_proxy(target, action, family, probe)
    found = _find_process_proxy(target, tag)
    if found is None and family == "nodejs" and probe is not None:
        found = _find_process_proxy(target, tag, "proxy.js", probe)
    return found


def _listening(proc: psutil.Process) -> str | None:
    for conn in proc.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN:
            return f"http://{conn.laddr.ip}:{conn.laddr.port}"
    return None


def _find_process_proxy(target: Target, tag: str, script: str = "",
                        probe: Callable[[], object] | None = None) -> str | None:
    procs: list[psutil.Process] = []
    for pid in target.services.values():
        with contextlib.suppress(psutil.Error):
            procs += psutil.Process(pid).children(recursive=True)
    if script and probe is not None:
        node = [p for p in procs if _quiet(lambda p=p: any(a.endswith(script)
                                                            for a in p.cmdline()), False)]

        def cpu(p: psutil.Process) -> float:
            return _quiet(lambda: sum(p.cpu_times()[:2]), 0.0)

        before = {p.pid: cpu(p) for p in node}
        probe()
        busiest = max(node, key=lambda p: cpu(p) - before[p.pid], default=None)
        return _listening(busiest) if busiest is not None else None
    for proc in procs:
        with contextlib.suppress(psutil.Error, OSError):
            cwd = Path(proc.cwd())
            files = [p for p in cwd.iterdir() if p.is_file()]
            if any(tag in p.read_text(errors="replace") for p in files):
                return _listening(proc)
    return None


def _quiet(call: Callable[[], Any], default: Any) -> Any:
    try:
        return call()
    except (psutil.Error, OSError):
        return default


def docker_api() -> httpx.Client:
    from invoker.containers.docker import socket_path

    return httpx.Client(transport=httpx.HTTPTransport(uds=socket_path()),
                        base_url="http://docker", timeout=30)


def _docker_containers(target: Target) -> list[dict[str, Any]]:
    """This deployment's action containers (labelled with its invokers' names), oldest first."""
    invokers = {env.get("PWSK_INVOKER_NAME") for _, env in
                getattr(target.handle, "specs", {}).values()}
    with docker_api() as docker:
        listed: list[dict[str, Any]] = docker.get(
            "/containers/json", params={"filters": json.dumps({"label": ["pwsk.invoker"]})}
        ).json()
    mine = [c for c in listed if c.get("Labels", {}).get("pwsk.invoker") in invokers]
    return sorted(mine, key=lambda c: c.get("Created", 0))


KIND_LABELS = {"python": "python:3.11", "nodejs": "nodejs:20", "native": "blackbox"}


def _cpu_ns(container: dict[str, Any]) -> int:
    with docker_api() as docker:
        # Not one-shot: that answer can be stale.
        stats = docker.get(f"/containers/{container['Id']}/stats",
                           params={"stream": "false"}).json()
    return int(stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage", 0))


def _docker_container(target: Target, action: str, family: str,
                      probe: Callable[[], object] | None) -> dict[str, Any] | None:
    containers = _docker_containers(target)
    for c in containers:
        if any(n.endswith(f"_{action}") for n in c.get("Names", [])):
            return c
    kind = KIND_LABELS.get(family or "python")
    candidates = [c for c in containers if c.get("Labels", {}).get("pwsk.kind") == kind]
    if probe is None or not candidates:
        return None
    before = {c["Id"]: _cpu_ns(c) for c in candidates}
    probe()
    grown = {c["Id"]: _cpu_ns(c) - before[c["Id"]] for c in candidates}
    busiest = max(candidates, key=lambda c: grown[c["Id"]])
    return busiest if grown[busiest["Id"]] > 0 else None


def _find_docker_proxy(target: Target, action: str, family: str,
                       probe: Callable[[], object] | None) -> str | None:
    c = _docker_container(target, action, family, probe)
    for net in (c or {}).get("NetworkSettings", {}).get("Networks", {}).values():
        if net.get("IPAddress"):
            return f"http://{net['IPAddress']}:8080"
    return None


def proxy_rss_mb(target: Target, action: str, tag: str,
                 probe: Callable[[], object] | None = None) -> float | None:
    """Memory of the warm container of ``action``: PSS of its proxy process, or the
    container's cgroup usage under Docker."""
    if target.backend == "process":
        url = _find_process_proxy(target, tag)
        if url is None:
            return None
        port = int(url.rsplit(":", 1)[1])
        for pid in target.services.values():
            for proc in psutil.Process(pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN
                           for c in proc.net_connections(kind="tcp")):
                        # PSS: a forked proxy shares its interpreter's pages with the fork
                        # server, which RSS would count once per proxy.
                        return float(proc.memory_full_info().pss) / 2**20
        return None
    container = _docker_container(target, action, "python", probe)
    if container is None:
        return None
    with docker_api() as docker:
        stats = docker.get(f"/containers/{container['Id']}/stats",
                           params={"stream": "false"}).json()
    mem = stats.get("memory_stats", {})
    usage = mem.get("usage", 0) - mem.get("stats", {}).get("inactive_file", 0)
    return float(usage) / 2**20


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def direct_run(url: str, n: int) -> list[float]:
    """The floor: ``n`` calls of ``/run`` straight to a warm proxy, one keep-alive link."""
    body = json.dumps({"value": {}, "namespace": "guest", "action_name": "/guest/floor",
                       "action_version": "0.0.1", "activation_id": "0" * 32,
                       "transaction_id": "t",
                       "deadline": str(int(time.time() * 1000) + 3_600_000)}).encode()
    proxy = SyncRawClient(url, auth=False)
    try:
        for _ in range(10):
            proxy.checked("POST", "/run", body)
        return timed(lambda: proxy.checked("POST", "/run", body), n)
    finally:
        proxy.close()


def trivial_get(api: httpx.Client, n: int) -> list[float]:
    """The floor: the server's own trivial GET (``/ping``), timed like the invokes (a raw
    keep-alive connection, ``SyncRawClient``)."""
    raw = SyncRawClient(str(api.base_url))
    try:
        for _ in range(10):
            raw.checked("GET", "/ping")
        return timed(lambda: raw.checked("GET", "/ping"), n)
    finally:
        raw.close()


__all__ = ["GUEST", "NS", "ROOT", "Figure", "Report", "SyncRawClient", "Target", "annotation",
           "check", "deployment", "direct_run", "find_proxy", "noop_exec", "proxy_rss_mb",
           "put_action", "rss_mb", "timed", "trivial_get", "wait_record"]
