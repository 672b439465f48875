"""dockerd killed (-9) and restarted under load (issue #10, item 4: the container engine).

The machine's one dockerd is shared by every other test, so this test starts a daemon of
its own (``PrivateDockerd``): its own data and exec roots, unix socket and pid file, no TCP,
no default bridge, no iptables rules (it must not touch the shared daemon's chains; the
invoker reaches containers by their bridge address, which needs no NAT), an address pool of
its own. The cgroup parent stays ``/docker``: container ids are unique and neither daemon
looks at the other's. The python runtime image comes from the shared daemon (``docker
save``, cached as a tarball under the cache dir by image id, ``docker load``). ``down``
removes what the daemon made (containers, networks and their bridges, mounts, the
directory), starting it again first if the test left it killed.

What a ``kill -9`` does here: dockerd's own containerd dies with it (parent-death signal);
the shims and the containers live on, so warm containers still answer. A restart without
``live-restore`` kills every container it finds. So: warm activations keep running during
the outage, new containers cannot start (those activations get a whisk error record), the
ones running at the restart die (a whisk error record: the engine killed their container);
afterwards the invoker must drop the dead containers and start new ones by itself.

With ``live-restore`` (the second variant) the containers outlive the restart too: the
invoker follows their log streams again, and keeps using them.

A ``pwsk standalone`` with ``PWSK_CONTAINERS=docker`` and ``DOCKER_HOST`` on the private
socket serves blocking and non-blocking callers throughout. Asserted: every accepted
activation has a record, no caller waits past its timeout, warm containers serve during the
outage, a paused or a cold action fails at once then (it does not wait on a frozen
container), ``/health`` says the container engine is down during the outage and up after,
invokes succeed again within a bounded time after the restart (and keep succeeding, logs
included), no dead container is left behind, and none at all once the server stopped.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from invoker.containers.docker import API, engine_available
from tests.api.helpers import NS, put_action
from tests.servers import GUEST, Server, start_server

pytestmark = [pytest.mark.slow, pytest.mark.docker]

IMAGE = "pwsk/action-python:3.11"
CACHE = Path(os.environ.get("PWSK_CACHE") or Path.home() / ".cache" / "pwsk")
WAIT_MS = 20_000  # the blocking callers' own timeout (?timeout=)
MARGIN_S = 25  # what a loaded 2-core machine may add before we call it a hang
OUTAGE_S = 4  # how long dockerd stays dead
RECOVERY_S = 60  # invokes must succeed again within this long after the restart


def _shared(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The docker CLI on the shared daemon."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=True, stdin=subprocess.DEVNULL, **kwargs)


def _image_tarball(image: str) -> Path:
    """``image`` saved from the shared daemon, cached by image id (idempotent)."""
    image_id = _shared("image", "inspect", "-f", "{{.Id}}", image).stdout.strip()
    folder = CACHE / "docker" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    stem = image.replace("/", "_").replace(":", "_")
    tarball = folder / f"{stem}-{image_id.removeprefix('sha256:')[:16]}.tar"
    if not tarball.exists():
        partial = tarball.with_suffix(f".{os.getpid()}.part")
        _shared("save", "-o", str(partial), image)
        partial.rename(tarball)
        for stale in folder.glob(f"{stem}-*.tar"):  # other versions of the image
            if stale != tarball:
                stale.unlink(missing_ok=True)
    return tarball


@dataclass
class PrivateDockerd:
    """A dockerd of one test's own, which the test may kill; ``down`` leaves nothing."""

    live_restore: bool = False  # containers outlive a restart of the daemon
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pwsk-dockerd-")))
    proc: subprocess.Popen[bytes] | None = None
    pool: ipaddress.IPv4Network | None = None  # its networks' addresses

    @property
    def socket(self) -> str:
        return str(self.root / "docker.sock")

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def engine(self) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=self.socket),
                            base_url=f"http://docker{API}", timeout=60)

    def up(self) -> None:
        """Start it (again) and wait until it answers. A restart soon after a kill may find
        the old containerd still exiting and give up: it is tried again then."""
        for attempt in range(3):
            self._spawn()
            assert self.proc is not None
            deadline = time.monotonic() + 60
            while not engine_available(self.socket) and self.proc.poll() is None:
                assert time.monotonic() < deadline, f"dockerd did not answer\n{self.log()}"
                time.sleep(0.2)
            if self.proc.poll() is None:
                _restore_default_bridge()
                return
            assert attempt < 2, f"dockerd exited\n{self.log()}"
            time.sleep(1)

    def _spawn(self) -> None:
        if self.pool is None:
            self.pool = _free_pool()
        with open(self.root / "dockerd.log", "ab") as out:
            self.proc = subprocess.Popen(
                ["dockerd", "--data-root", str(self.root / "data"),
                 "--exec-root", str(self.root / "exec"), "-H", self.host,
                 "--pidfile", str(self.root / "docker.pid"), "--bridge=none",
                 "--iptables=false", "--ip-masq=false", "--ip-forward=false",
                 "--storage-driver=overlay2", "--default-address-pool",
                 f"base={self.pool},size={self.pool.prefixlen}",
                 *(["--live-restore"] if self.live_restore else [])],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def load(self, image: str) -> None:
        with self.engine() as engine:
            if engine.get(f"/images/{image}/json").status_code == 200:
                return
        subprocess.run(["docker", "-H", self.host, "load", "-q", "-i",
                        str(_image_tarball(image))], capture_output=True, text=True,
                       timeout=300, check=True, stdin=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def containers(self) -> list[dict[str, Any]]:
        with self.engine() as engine:
            r = engine.get("/containers/json", params={"all": "1"})
        r.raise_for_status()
        found: list[dict[str, Any]] = r.json()
        return found

    def down(self) -> None:
        """Remove its containers and networks and stop it (started again first if a failed
        test left it killed); then whatever a daemon that could not do that left: its
        shims and containers' processes, cgroups, mounts, bridges, and the directory."""
        if self.proc is not None and not engine_available(self.socket):
            with contextlib.suppress(Exception):
                self.up()
        if engine_available(self.socket):
            with contextlib.suppress(httpx.HTTPError), self.engine() as engine:
                for c in engine.get("/containers/json", params={"all": "1"}).json():
                    engine.delete(f"/containers/{c['Id']}", params={"force": "1", "v": "1"})
                for net in engine.get("/networks").json():
                    if net["Driver"] == "bridge":
                        engine.delete(f"/networks/{net['Id']}")
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in _pids_mentioning(str(self.root)):  # shims
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        made = self.root / "data" / "containers"
        for container in made.iterdir() if made.is_dir() else []:
            _kill_cgroup(container.name)
        for point in reversed(_mounts_under(self.root)):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        for bridge in _bridges_in(self.pool):
            subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", str(self.root)], check=False)
        _restore_default_bridge()

    def log(self) -> str:
        path = self.root / "dockerd.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""


# dockerd deletes the host's docker0 when it starts with any bridge setting but the default
# (libnetwork removes "the default bridge" it does not use), and the default would be shared
# with the machine's daemon. So the private daemon runs with --bridge=none and the shared
# daemon's docker0 is put back (same name and address: the shared daemon finds its bridge by
# name, and its NAT rules name it) after each start of the private one.
SHARED_BRIDGE = "docker0"


def _bridge_address(name: str) -> str | None:
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", name], capture_output=True,
                           text=True, check=False).stdout.split()
    return shown[shown.index("inet") + 1] if "inet" in shown else None


_SHARED_ADDRESS = _bridge_address(SHARED_BRIDGE)


def _restore_default_bridge() -> None:
    if _SHARED_ADDRESS is None or Path(f"/sys/class/net/{SHARED_BRIDGE}").exists():
        return
    for command in (["link", "add", "name", SHARED_BRIDGE, "type", "bridge"],
                    ["addr", "add", _SHARED_ADDRESS, "dev", SHARED_BRIDGE],
                    ["link", "set", SHARED_BRIDGE, "up"]):
        subprocess.run(["ip", *command], capture_output=True, text=True, check=True)


def _free_pool() -> ipaddress.IPv4Network:
    """A /24 in 10.231.0.0/16 that no host route covers (the shared daemon's bridges are
    172.x): the private daemon's networks come from it."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True,
                            check=True).stdout
    taken = [ipaddress.ip_network(line.split()[0], strict=False)
             for line in routes.splitlines() if line and line.split()[0][0].isdigit()]
    for third in range(secrets.randbelow(200), 256):
        net = ipaddress.IPv4Network(f"10.231.{third}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise AssertionError(f"no free /24 in 10.231.0.0/16:\n{routes}")


def _kill_cgroup(container_id: str) -> None:
    """Kill what still runs in a container's cgroups (cgroup v1, parent ``/docker``; a
    paused one is thawed, else the kill waits) and remove them."""
    groups = list(Path("/sys/fs/cgroup").glob(f"*/docker/{container_id}"))
    for group in groups:
        with contextlib.suppress(OSError):
            for pid in (group / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
    for group in groups:
        with contextlib.suppress(OSError):
            if (group / "freezer.state").exists():
                (group / "freezer.state").write_text("THAWED")
    for _ in range(50):
        for group in groups:
            with contextlib.suppress(OSError):
                group.rmdir()
        if not any(g.exists() for g in groups):
            return
        time.sleep(0.1)


def _bridges_in(pool: ipaddress.IPv4Network | None) -> list[str]:
    """Bridge interfaces holding an address of ``pool``."""
    if pool is None:
        return []
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True,
                           text=True, check=False).stdout
    found = []
    for line in shown.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[1].startswith("br-") and ipaddress.ip_interface(
                fields[3]).ip in pool:
            found.append(fields[1])
    return found


def _pids_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
    return pids


def _mounts_under(root: Path) -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == str(root) or point.startswith(f"{root}/"):
            points.append(point)
    return points


@pytest.fixture(params=[False, True], ids=["restart-kills", "live-restore"])
def dockerd(request: pytest.FixtureRequest) -> Iterator[PrivateDockerd]:
    daemon = PrivateDockerd(live_restore=request.param)
    shared = {link.name for link in Path("/sys/class/net").iterdir()}
    try:
        daemon.up()
        daemon.load(IMAGE)
        yield daemon
    finally:
        daemon.down()
    assert not daemon.root.exists() and not _mounts_under(daemon.root)
    # The host's interfaces are as they were: the shared daemon's docker0 in particular
    # (builds on the shared daemon fail without it).
    after = {link.name for link in Path("/sys/class/net").iterdir()}
    assert shared <= after, f"network interfaces removed: {sorted(shared - after)}"


@dataclass
class Load:
    """What the callers saw, per phase."""

    accepted: list[tuple[str, str, float]] = field(default_factory=list)  # (id, phase, at)
    codes: Counter[str] = field(default_factory=Counter)
    slowest_s: float = 0.0
    hangs: list[str] = field(default_factory=list)
    phase: str = "steady"
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)


def _client(server: Server, timeout: float) -> httpx.Client:
    user, _, key = GUEST.partition(":")
    return httpx.Client(base_url=server.url, auth=(user, key), timeout=timeout)


def _caller(server: Server, load: Load, blocking: bool, n: int) -> None:
    params = {"blocking": "true", "timeout": str(WAIT_MS)} if blocking else {}
    kind = "blocking" if blocking else "async"
    with _client(server, WAIT_MS / 1000 + MARGIN_S) as api:
        i = 0
        while not load.done.is_set():
            i += 1
            started = time.monotonic()
            try:
                r = api.post(f"{NS}/actions/work", params=params, json={"n": n, "i": i})
            except httpx.TimeoutException as exc:
                load.hangs.append(f"{kind}: {exc!r} after {time.monotonic() - started:.1f} s")
                continue
            took = time.monotonic() - started
            activation = None
            if r.status_code in (200, 202, 500, 502):  # 500: a whisk error's record
                activation = r.json().get("activationId") or r.headers.get(
                    "x-openwhisk-activation-id")
                assert activation or r.status_code == 500, (r.status_code, r.text)
            with load.lock:
                load.codes[f"{load.phase}: {kind} {r.status_code}"] += 1
                load.slowest_s = max(load.slowest_s, took)
                if activation:
                    load.accepted.append((activation, load.phase, started))
            # A steady load the machine keeps up with (not a growing backlog).
            time.sleep(0.3 if r.status_code in (200, 202) else 0.5)


def _health(server: Server) -> tuple[int, dict[str, Any]]:
    try:
        r = httpx.get(server.url + "/health", timeout=5)
        return r.status_code, r.json()
    except httpx.HTTPError as exc:
        return 0, {"error": repr(exc)}


def _until(check: Callable[[], bool], what: str, within: float, server: Server) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, \
            f"{what} not within {within} s\n{server.log()[-6000:]}"
        time.sleep(0.2)
    return time.monotonic() - started


def _works(server: Server, action: str = "work") -> bool:
    with _client(server, WAIT_MS / 1000 + MARGIN_S) as api:
        r = api.post(f"{NS}/actions/{action}", params={
            "blocking": "true", "result": "true", "timeout": str(WAIT_MS)},
                     json={"n": -9, "name": action})
    return r.status_code == 200 and r.json() in ({"n": -9, "i": None}, {"name": action})


def _probe(server: Server, action: str) -> tuple[int, float, dict[str, Any]]:
    """One blocking invoke of ``action``: its status, how long it took, its record."""
    started = time.monotonic()
    with _client(server, WAIT_MS / 1000 + MARGIN_S) as api:
        r = api.post(f"{NS}/actions/{action}", params={
            "blocking": "true", "timeout": str(WAIT_MS)}, json={"name": action})
    return r.status_code, time.monotonic() - started, r.json()


@pytest.mark.timeout(400)
def test_dockerd_killed_under_load(dockerd: PrivateDockerd, tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", env={
        "PWSK_CONTAINERS": "docker", "DOCKER_HOST": dockerd.host, "PWSK_LOG_LEVEL": "info",
        # Idle containers are paused after a second: some are paused when dockerd dies.
        "PWSK_PAUSE_GRACE_S": "1", "PWSK_PREWARM": "python:3.11=1",
        "PWSK_LOG_SENTINEL_WAIT_S": "5"})  # a loaded machine's log delivery is no fault here
    try:
        _chaos(server, dockerd)
    finally:
        server.stop()
    left = dockerd.containers()
    assert left == [], f"containers left on the engine after the server stopped: {left}"


def _chaos(server: Server, dockerd: PrivateDockerd) -> None:
    with _client(server, 60) as api:
        put_action(api, "work", "import time\n"
                                "def main(a):\n"
                                "    print('working', a.get('i'))\n"
                                "    time.sleep(0.2)\n"
                                "    return {'n': a.get('n'), 'i': a.get('i')}\n")
        assert _works(server), server.log()
        for name in ("paused", "cold"):  # 384 MB: no stem cell can serve them
            put_action(api, name, "def main(a):\n    return {'name': a.get('name')}\n",
                       limits={"memory": 384})
        assert _works(server, "paused"), server.log()  # then idle: paused a second later
    status, healthy = _health(server)
    assert status == 200 and healthy["containers"]["status"] == "up", healthy

    load = Load()
    threads = [threading.Thread(target=_caller, args=(server, load, blocking, n))
               for n, blocking in enumerate((True, True, False, False))]
    for t in threads:
        t.start()
    figures: dict[str, Any] = {}
    probes: dict[str, Any] = {}
    try:
        time.sleep(5)  # the pool grows to the load's size
        load.phase = "outage"
        dockerd.kill()
        killed_at = time.monotonic()
        figures["health_degraded_s"] = round(_until(
            lambda: _health(server)[0] == 503, "/health degraded without dockerd", 30,
            server), 1)
        degraded = _health(server)[1]
        assert degraded["containers"]["status"] == "down", degraded
        # An action whose container is paused (it cannot be resumed now) and one with no
        # container (none can start now) fail at once with a whisk error record; neither
        # waits for its timeout on a frozen container.
        for action in ("paused", "cold"):
            status, took, record = _probe(server, action)
            probes[action] = (status, round(took, 1), record.get("response"))
            load.accepted.append((record["activationId"], "outage", time.monotonic()))
            assert status == 500 and took < 10, probes
            assert record["response"]["status"] == "whisk internal error", probes
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - killed_at)))

        load.phase = "restart"
        dockerd.up()
        restarted_at = time.monotonic()
        figures["health_up_s"] = round(_until(
            lambda: _health(server)[0] == 200, "/health ok after the restart", 60, server), 1)
        _until(lambda: _works(server), "invokes succeeding again", RECOVERY_S, server)
        figures["recovered_s"] = round(time.monotonic() - restarted_at, 1)
        for action in ("paused", "cold"):
            assert _works(server, action), server.log()[-6000:]
        load.phase = "after"
        after_at = time.monotonic()
        time.sleep(4)
    finally:
        load.done.set()
        for t in threads:
            t.join(timeout=WAIT_MS / 1000 + MARGIN_S + 10)
    assert not [t for t in threads if t.is_alive()], "a caller hung"
    assert load.hangs == [], f"callers got no answer within their timeout: {load.hangs}"
    assert load.slowest_s < WAIT_MS / 1000 + MARGIN_S, load.slowest_s
    assert server.proc.poll() is None, server.log()[-6000:]

    # Every accepted activation has its record; after the recovery every one succeeded.
    records: dict[str, dict[str, Any]] = {}
    with _client(server, 60) as api:
        deadline = time.monotonic() + 120
        missing = {a for a, _, _ in load.accepted}
        while missing and time.monotonic() < deadline:
            for a in list(missing):
                r = api.get(f"{NS}/activations/{a}")
                if r.status_code == 200:
                    records[a] = r.json()
                    missing.discard(a)
            if missing:
                time.sleep(1)
        assert not missing, f"{len(missing)} of {len(load.accepted)} accepted activations " \
                            f"have no record: {sorted(missing)[:10]}\n{server.log()[-6000:]}"
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    late_failures = []
    for a, phase, at in load.accepted:
        response = records[a]["response"]
        if at > after_at:  # its own logs are all there: the log streams came back
            logs = records[a]["logs"]
            working = [line for line in logs if "stdout: working" in line]
            assert len(working) == 1 and working[0].endswith(
                f"stdout: working {response['result'].get('i')}"), records[a]
            assert not any("issue while collecting" in line for line in logs), records[a]
        outcomes[f"{phase}: {response['status']}"] += 1
        if response["status"] != "success":
            assert isinstance(response["result"].get("error"), str), records[a]
            errors[f"{response['status']}: {response['result']['error'][:90]}"] += 1
            if at > after_at:
                late_failures.append(records[a])
    assert not late_failures, f"failures after the recovery: {late_failures[:3]}"
    assert outcomes["after: success"] >= 10, outcomes
    assert outcomes["steady: success"] >= 10, outcomes
    # The containers outlived dockerd: the warm ones kept serving while it was down.
    assert outcomes["outage: success"] >= 5, outcomes

    # The invoker removed the containers that died at the restart: what is left on the
    # engine is running (or paused: idle).
    dead = [c for c in dockerd.containers() if c["State"] not in ("running", "paused")]
    assert dead == [], f"dead containers left behind: {json.dumps(dead)[:2000]}"
    print(f"\ndockerd chaos (live restore {dockerd.live_restore}): {figures}; "
          f"activations accepted {len(load.accepted)}, all "
          f"recorded: {sorted(outcomes.items())}; answers {sorted(load.codes.items())}; "
          f"errors {sorted(errors.items())}; slowest answer {load.slowest_s:.1f} s; "
          f"/health while down {degraded}; during the outage {probes}")
