"""The distributed stack for tests: gateway, 2 controllers, 2 invokers on real engines.

Engines (Kafka, Consul, a CouchDB-compatible store, Docker) come from ``scripts/services``;
each stack gets its own Kafka topic prefix, CouchDB database prefix and Consul prefix, so
stacks never see each other's data. The gateway listens on the Docker bridge's address so
that actions in containers reach the API (``__OW_API_HOST``) as well as the tests do.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.servers import GUEST, ROOT, SYSTEM, free_port

ENGINES = ("kafka", "consul", "couchdb", "docker")


def engines() -> dict[str, str]:
    """``{engine: url}`` of the running engines, started if need be (fails loudly)."""
    done = subprocess.run([str(ROOT / "scripts" / "services"), "up", *ENGINES],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/services up failed:\n{done.stderr[-4000:]}")
    urls = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    missing = [e for e in ENGINES if e not in urls]
    if missing:
        raise RuntimeError(f"engines not ready: {missing}\n{done.stderr[-4000:]}")
    return urls


@dataclass
class PrivateKafka:
    """A Kafka broker of one test's own (KRaft, its own ports, pid file and data dir under
    ``run_dir``), started and stopped through ``scripts/services`` from the cached jars, so a
    test can stop it without disturbing the shared broker the other tests use."""

    run_dir: Path
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    def _services(self, command: str) -> None:
        env = {**os.environ, "PWSK_RUN": str(self.run_dir), "PWSK_KAFKA_PORT": str(self.port),
               "PWSK_KAFKA_CONTROLLER_PORT": str(self.controller_port),
               "PWSK_KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m"}
        done = subprocess.run([str(ROOT / "scripts" / "services"), command, "kafka"], env=env,
                              capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/services {command} kafka (private) failed:\n"
                               f"{done.stderr[-4000:]}")

    def up(self) -> None:
        """Start it (again: same data dir, so the same cluster) and wait until it serves."""
        self._services("up")

    def down(self) -> None:
        """Stop it (SIGTERM, as ``scripts/services down`` does)."""
        self._services("down")


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are all free now."""
    while True:
        first = free_port()
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first


@dataclass
class PrivateConsul:
    """A Consul dev agent of one test's own (its own run dir and ports, through
    ``scripts/services``), which the test may kill. A dev agent keeps everything in memory:
    after a restart it is an empty cluster of one."""

    run_dir: Path
    port: int = field(default_factory=lambda: _free_ports(4))

    @property
    def url(self) -> str:
        return f"consul://127.0.0.1:{self.port}"

    def _services(self, command: str) -> None:
        env = {**os.environ, "PWSK_RUN": str(self.run_dir),
               "PWSK_CONSUL_PORT": str(self.port)}
        done = subprocess.run([str(ROOT / "scripts" / "services"), command, "consul"], env=env,
                              capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/services {command} consul (private) failed:\n"
                               f"{done.stderr[-4000:]}")

    def up(self) -> None:
        self._services("up")

    def down(self) -> None:
        self._services("down")

    def kill(self) -> None:
        """``kill -9`` the agent (the pid file holds ``pid starttime``)."""
        pid = int((self.run_dir / "consul.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # a zombie until its parent reaps it; it serves nothing


@dataclass
class PrivateStore:
    """A pouchdb-server of one test's own on a data directory (not ``--in-memory``, unlike
    the shared one), so a killed and restarted store still has its data."""

    run_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"couchdb://127.0.0.1:{self.port}"

    def up(self) -> None:
        from tests.store.couch import pouchdb_server

        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "pouchdb.log", "ab") as out:
            self.proc = subprocess.Popen(
                [str(pouchdb_server()), "--dir", str(self.run_dir / "data"), "--host",
                 "127.0.0.1", "--port", str(self.port), "--config",
                 str(self.run_dir / "config.json")],
                cwd=self.run_dir, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("private pouchdb-server did not start:\n" +
                                   (self.run_dir / "pouchdb.log").read_text(errors="replace"))
            time.sleep(0.2)

    def kill(self) -> None:
        """``kill -9``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def down(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def bridge_address() -> str:
    """The host's address on the ``pwsk`` Docker network (created if missing)."""
    from invoker.containers.docker import DockerFactory

    async def find() -> str:
        factory = DockerFactory("http://127.0.0.1:1")
        try:
            return urlsplit(await factory.container_api_host()).hostname or "127.0.0.1"
        finally:
            await factory.aclose()

    return asyncio.run(find())


@dataclass
class Stack:
    url: str
    data_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    specs: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    argv: dict[str, list[str]] = field(default_factory=dict)
    auth: str = GUEST
    system_auth: str = SYSTEM
    env: dict[str, str] = field(default_factory=dict)

    def client(self, auth: str | None = GUEST, base_url: str | None = None,
               **kwargs: Any) -> httpx.Client:
        """A client of the gateway (or of ``base_url``, e.g. one controller's own URL)."""
        basic = tuple(auth.split(":", 1)) if auth else None
        kwargs.setdefault("timeout", 90)
        return httpx.Client(base_url=base_url or self.url, auth=basic, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> int:
        # Invokers first (they drain and remove their containers), then the rest.
        order = sorted(self.procs, key=lambda n: not n.startswith("invoker"))
        for name in order:
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        return 0

    def spawn(self, name: str, module: str | None = None,
              env: dict[str, str] | None = None, args: list[str] | None = None) -> None:
        """Start (or restart) one service; without module/env, as it was started before."""
        if module is None or env is None:
            module, env = self.specs[name]
            args = self.argv.get(name, [])
        self.specs[name] = (module, env)
        self.argv[name] = list(args or [])
        with open(self.data_dir / f"{name}.log", "ab") as out:
            self.procs[name] = subprocess.Popen([sys.executable, "-m", module, *self.argv[name]],
                                                cwd=ROOT, env=env, stdout=out,
                                                stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        """``kill -9`` one service."""
        proc = self.procs[name]
        proc.kill()
        proc.wait()

    def invoker_name(self, name: str) -> str:
        """The registry name (and container label) of invoker service ``name``."""
        return self.specs[name][1]["PWSK_INVOKER_NAME"]

    def controller_url(self, name: str) -> str:
        """A controller's own URL (bypassing the gateway)."""
        return f"http://127.0.0.1:{self.specs[name][1]['PWSK_PORT']}"

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.data_dir.glob("*.log")))


def start_stack(data_dir: Path, controllers: int = 2, invokers: int = 2,
                extra_env: dict[str, str] | None = None, kafka: str | None = None,
                consul: str | None = None, couchdb: str | None = None) -> Stack:
    """Start the stack on the shared engines; ``kafka``, ``consul`` or ``couchdb`` (urls)
    replace a shared engine, e.g. with a ``PrivateKafka`` the test may stop."""
    urls = engines()
    for engine, url in (("kafka", kafka), ("consul", consul), ("couchdb", couchdb)):
        if url is not None:
            urls[engine] = url
    tag = f"t{secrets.token_hex(3)}"
    host = bridge_address()
    gw_port = free_port()
    gateway = f"http://{host}:{gw_port}"
    couch = urlsplit(urls["couchdb"])
    common = {
        **os.environ,
        "PWSK_LOG_LEVEL": "warning",
        "PWSK_STORE": f"couchdb://{couch.netloc}?prefix={tag}_",
        "PWSK_BUS": f"{urls['kafka']}?prefix={tag}-",
        "PWSK_REGISTRY": f"{urls['consul']}?prefix={tag}",
        "PWSK_CLUSTER_SIZE": str(controllers),
        "PWSK_CONTAINERS": "docker",
        "PWSK_API_HOST": gateway,
        "PWSK_INVOCATIONS_PER_MINUTE": "100000",
        "PWSK_CONCURRENT_INVOCATIONS": "1000",
        "PWSK_FIRES_PER_MINUTE": "100000",
        **(extra_env or {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(gateway, data_dir, env=common)
    ports = [free_port() for _ in range(controllers)]

    spawn = stack.spawn
    try:
        for i, port in enumerate(ports):
            system = {"PWSK_SYSTEM_SERVICES": "true", "PWSK_SYSTEM_HOST": host} if i == 0 else {}
            spawn(f"controller{i}", "controller",
                  {**common, "PWSK_CONTROLLER_ID": str(i), "PWSK_PORT": str(port), **system})
        for i in range(invokers):
            spawn(f"invoker{i}", "invoker", {**common, "PWSK_INVOKER_NAME": f"{tag}-inv{i}"})
        spawn("gateway", "gateway", {**common, "PWSK_HOST": host, "PWSK_PORT": str(gw_port),
                                     "PWSK_CONTROLLERS": ",".join(
                                         f"http://127.0.0.1:{p}" for p in ports)})
        _wait_ready(stack, ports, invokers)
    except BaseException:
        stack.stop()
        raise
    return stack


def _wait_ready(stack: Stack, ports: list[int], invokers: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        dead = [n for n, p in stack.procs.items() if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{dead} exited during start-up:\n{stack.log()}")
        try:
            ready = all(_healthy(f"http://127.0.0.1:{p}", invokers) for p in ports)
            ready = ready and httpx.get(stack.url + "/ping", timeout=2).status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the distributed stack did not get ready:\n{stack.log()}")
        time.sleep(0.2)


def _healthy(controller: str, invokers: int) -> bool:
    r = httpx.get(controller + "/invokers/healthy/count", auth=tuple(GUEST.split(":", 1)),  # type: ignore[arg-type]
                  timeout=2)
    return r.status_code == 200 and r.json() >= invokers
