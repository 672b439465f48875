"""The brewery as a user runs it, on the deployment the ``server`` fixture gives.

- **MQTT broker**: standalone: the embedded amqtt broker (``bridge.EmbeddedBroker``);
  distributed: Mosquitto from ``scripts/services up mosquitto``.
- **Telegram**: the local fake Bot API (``tests/functions/telegram.py``) on the server's
  address, which actions reach as processes (loopback) and in Docker (the bridge address).
- **Store**: standalone: the embedded one (the manifest's default); distributed: the stack's
  CouchDB, relayed onto the bridge address for the actions (``tests/relay.py``).
- ``pwsk deploy functions/brewery/manifest.yaml``, then ``python -m bridge --config ...`` and
  ``python -m functions.simulator ...``, as processes, as the README tells a user.

Every rig gets its own topic prefix, bridge client id and database, so rigs (and other
helpers' tests on the shared Mosquitto and CouchDB) never see each other's data. An observer
subscribed to the prefix records every message the broker delivered, with its timestamp:
what the store must hold. One rig is shared by every test of a session (``shared_rig``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from functions.brewery.common import HYSTERESIS, Db
from tests.functions.telegram import FakeTelegram
from tests.relay import reachable
from tests.servers import ROOT, Server, free_port

MANIFEST = ROOT / "functions" / "brewery" / "manifest.yaml"
UNITS = {"temperature": "C", "level": "%"}
T = TypeVar("T")

# The compressed brew: the whole of it (mash-in to the fermenter, 300 simulated minutes) in
# 18 s, a reading set every 20 simulated minutes (16 sets of 10 readings, 1.2 s apart), and
# two 10-minute overheats of the mash heater, each seen well above the 67 °C maximum and then
# well below it. Seeded, so it is the same brew every time.
# Each reading fires ``measurement``, whose three rules start save-measurement, the alarm
# sequence (two more) and publish-realtime: ~800 activations in 18 s, which a loaded 2-core
# machine runs well after they come. A rule's activation refused by the namespace's concurrency
# throttle is dropped (logged in the trigger activation, as OpenWhisk does) and its reading is
# never stored, so the rig needs a server that allows the whole brew in flight.
BREW_ACTIVATIONS = 5 * 160
TIME_SCALE = 1000.0
INTERVAL_S = 1200.0
FAULTS = ("overheat@40+10", "overheat@80+10")
SEED = 3
MASH_MAX_C = 67.0


class Loop:
    """An asyncio loop on a thread, for the test's own MQTT clients and embedded broker."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class Observer:
    """Subscribed to ``<prefix>/#`` at QoS 1: every message the broker delivered."""

    def __init__(self, loop: Loop, broker: str, topics: str) -> None:
        self.loop = loop
        self.broker = urlsplit(broker)
        self.topics = topics
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._ready = threading.Event()
        self._task = asyncio.run_coroutine_threadsafe(self._watch(), loop.loop)
        if not self._ready.wait(30):
            raise RuntimeError(f"the observer could not subscribe at {broker}: "
                               f"{self._task.exception(0) if self._task.done() else 'timeout'}")

    async def _watch(self) -> None:
        import aiomqtt

        async with aiomqtt.Client(self.broker.hostname or "127.0.0.1", self.broker.port or 1883,
                                  identifier=f"obs-{secrets.token_hex(4)}") as client:
            await client.subscribe(self.topics, qos=1)
            self._ready.set()
            async for message in client.messages:
                payload = message.payload
                body = bytes(payload) if isinstance(payload, bytes | bytearray) else b"{}"
                self.messages.append((message.topic.value, json.loads(body)))

    def close(self) -> None:
        self._task.cancel()


@dataclass
class Brew:
    """One compressed brew, and what the platform made of it once it settled."""

    reported: int  # messages the simulator says it published (its log)
    skipped: int  # reading sets it skipped for lack of a broker (must be 0)
    published: list[dict[str, Any]]  # every reading the observer saw, deduplicated
    duplicates: int  # QoS 1 deliveries the observer saw twice
    brew_s: float  # the simulator's run
    settle_s: float  # from its end until every reading was stored
    stored: list[str]  # reading document ids in the store once settled
    telegram: list[dict[str, Any]]  # sendMessage bodies the fake received
    bridge: dict[str, float]  # the bridge's /metrics
    simulator_log: str
    events: list[tuple[int, int, Any, Any]] = field(default_factory=list)  # check-threshold
    missing: str = ""  # what the platform recorded of each reading not stored (diagnostics)

    def series(self, tank: str, sensor: str) -> list[tuple[int, float]]:
        return sorted((r["timestamp"], r["value"]) for r in self.published
                      if r["tank"] == tank and r["sensor"] == sensor)

    def episodes(self, tank: str = "mash", limit: float = MASH_MAX_C) -> int:
        """Overheat episodes in the published series: above ``limit``, until back below it by
        the hysteresis (as check-threshold decides)."""
        count, alarmed = 0, False
        for _, value in self.series(tank, "temperature"):
            if not alarmed and value > limit:
                count, alarmed = count + 1, True
            elif alarmed and value <= limit - HYSTERESIS:
                alarmed = False
        return count


@dataclass
class Rig:
    server: Server
    work: Path
    tag: str = field(default_factory=lambda: f"e2e{secrets.token_hex(3)}")
    loop: Loop = field(default_factory=Loop)
    broker_url: str = ""
    telegram_url: str = ""
    metrics_url: str = ""
    db: Db | None = None  # the store as the test process reaches it
    brew: Brew | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _bridge: subprocess.Popen[bytes] | None = None

    @property
    def distributed(self) -> bool:
        return self.server.env.get("PWSK_STORE", "").startswith("couchdb://")

    @property
    def host(self) -> str:
        """Where actions reach the test process: loopback, or the Docker bridge address."""
        return urlsplit(self.server.url).hostname or "127.0.0.1"

    @property
    def prefix(self) -> str:
        return f"brewery-{self.tag}"

    @property
    def db_name(self) -> str:
        return f"brewery_{self.tag}"

    # setting up ----------------------------------------------------------------------------

    def start(self) -> None:
        with self.server.client() as api:
            limits = api.get("/api/v1/namespaces/_/limits").json()
        if limits.get("concurrentInvocations", 0) < BREW_ACTIVATIONS:
            raise RuntimeError(
                f"the brew needs {BREW_ACTIVATIONS} concurrent invocations; the server allows "
                f"{limits.get('concurrentInvocations')}: start it with "
                f"PWSK_CONCURRENT_INVOCATIONS={BREW_ACTIVATIONS} or more")
        try:
            self._start_broker()
            self._start_telegram()
            self._deploy()
            self._start_bridge()
        except BaseException:
            self.stop()
            raise

    def _start_broker(self) -> None:
        if self.distributed:
            done = subprocess.run([str(ROOT / "scripts" / "services"), "up", "mosquitto"],
                                  capture_output=True, text=True, timeout=300)
            urls = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
            if done.returncode != 0 or "mosquitto" not in urls:
                raise RuntimeError(f"scripts/services up mosquitto failed:\n{done.stderr}")
            self.broker_url = urls["mosquitto"]
            return
        from bridge import EmbeddedBroker

        broker = EmbeddedBroker()
        self.loop.run(broker.start())
        self._stack.callback(lambda: self.loop.run(broker.stop()))
        self.broker_url = broker.url

    def _start_telegram(self) -> None:
        class Telegram(FakeTelegram):  # its own list: tests/functions resets FakeTelegram's
            sent: list[dict[str, Any]] = []

        self.telegram_sent = Telegram.sent
        srv = ThreadingHTTPServer((self.host, 0), Telegram)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self._stack.callback(srv.server_close)
        self._stack.callback(srv.shutdown)
        self.telegram_url = f"http://{self.host}:{srv.server_address[1]}"

    def _deploy(self) -> None:
        env = {**os.environ, "WSK_CONFIG_FILE": str(self.work / "wskprops"),
               "WHISK_APIHOST": self.server.url, "WHISK_AUTH": self.server.auth,
               "TELEGRAM_TOKEN": "TOKEN", "TELEGRAM_CHAT_ID": "42",
               "TELEGRAM_API": self.telegram_url, "BREWERY_DB_NAME": self.db_name}
        for name in ("BREWERY_DB_URL", "BREWERY_DB_AUTH"):
            env.pop(name, None)
        if self.distributed:
            couch = f"http://{urlsplit(self.server.env['PWSK_STORE']).netloc}"
            env["BREWERY_DB_URL"] = self._stack.enter_context(reachable(couch, self.host))
            self.db = Db(couch, self.db_name, None)
        else:
            self.db = Db(f"{self.server.url}/couch/_", self.db_name, self.server.auth)
        (self.work / "wskprops").write_text("")
        # The console script the venv installs (python -m pwsk.cli.main is the same).
        pwsk = Path(sys.executable).with_name("pwsk")
        command = [str(pwsk)] if pwsk.exists() else [sys.executable, "-m", "pwsk.cli.main"]
        done = subprocess.run([*command, "deploy", str(MANIFEST)], env=env, cwd=self.work,
                              capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"pwsk deploy failed:\n{done.stdout}\n{done.stderr}")
        self.deploy_output = done.stdout

    def _start_bridge(self) -> None:
        port = free_port()
        config = self.work / "bridge.yaml"
        config.write_text(
            f"broker: {{url: '{self.broker_url}', client_id: {self.tag}-bridge}}\n"
            f"api: {{host: '{self.server.url}', key: '${{PWSK_AUTH}}'}}\n"
            f"routes:\n"
            f"  - topic: {self.prefix}/+/+\n"
            f"    trigger: measurement\n"
            f"    params: {{tank: '{{1}}', sensor: '{{2}}'}}\n"
            f"state_dir: {self.work / 'bridge-state'}\n"
            f"metrics: {{host: 127.0.0.1, port: {port}}}\n")
        log = open(self.work / "bridge.log", "ab")  # noqa: SIM115 (the process keeps it)
        self._stack.callback(log.close)
        self._bridge = subprocess.Popen(
            [sys.executable, "-m", "bridge", "--config", str(config)], cwd=ROOT,
            env={**os.environ, "PWSK_AUTH": self.server.auth}, stdout=log,
            stderr=subprocess.STDOUT)
        self.metrics_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # /healthz answers 200 once connected and subscribed
            if self._bridge.poll() is not None:
                raise RuntimeError(f"the bridge exited:\n{self.bridge_log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.metrics_url}/healthz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bridge did not connect:\n{self.bridge_log()}")
            time.sleep(0.1)

    def bridge_log(self) -> str:
        path = self.work / "bridge.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self._bridge is not None and self._bridge.poll() is None:
            self._bridge.terminate()
            try:
                self._bridge.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._bridge.kill()
                self._bridge.wait()
        self._stack.close()
        self.loop.close()

    # using it ----------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        from bridge.metrics import parse_metrics

        return parse_metrics(httpx.get(f"{self.metrics_url}/metrics", timeout=10).text)

    def stored_readings(self) -> list[str]:
        assert self.db is not None
        status, body = self.db.request("GET", "/_all_docs?limit=10000")
        if status == 404:
            return []
        assert status == 200, body
        return [row["id"] for row in body["rows"] if row["id"].startswith("reading:")]

    def get_latest(self, minutes: float = 60) -> dict[str, Any]:
        """``get-latest`` as the dashboard calls it (a 429 is waited out: rule activations
        share the namespace's throttle)."""
        url = f"{self.server.url}/api/v1/web/guest/brewery/get-latest.json"
        for _ in range(60):
            answer = httpx.get(url, params={"minutes": minutes}, timeout=60)
            if answer.status_code != 429:
                break
            time.sleep(0.5)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def publish(self, readings: list[tuple[str, str, float]], ts: int | None = None) -> int:
        """Publish (tank, sensor, value) readings over MQTT at QoS 1, as the sensors do;
        returns their timestamp (now, or ``ts``)."""
        import aiomqtt

        stamp = ts or int(time.time() * 1000)
        broker = urlsplit(self.broker_url)

        async def send() -> None:
            async with aiomqtt.Client(broker.hostname or "127.0.0.1", broker.port or 1883,
                                      identifier=f"{self.tag}-pub") as client:
                for tank, sensor, value in readings:
                    payload = {"value": value, "unit": UNITS.get(sensor, "state"),
                               "timestamp": stamp}
                    await client.publish(f"{self.prefix}/{tank}/{sensor}",
                                         json.dumps(payload), qos=1)

        self.loop.run(send())
        return stamp

    def simulate(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """``python -m functions.simulator`` against the rig's broker and prefix."""
        return subprocess.run(
            [sys.executable, "-m", "functions.simulator", "--broker", self.broker_url,
             "--prefix", self.prefix, *args],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout)

    def simulate_in_background(self, *args: str) -> subprocess.Popen[bytes]:
        """The same, left running (its output in ``simulator.log``)."""
        log = open(self.work / "simulator.log", "ab")  # noqa: SIM115 (the process keeps it)
        self._stack.callback(log.close)
        return subprocess.Popen(
            [sys.executable, "-m", "functions.simulator", "--broker", self.broker_url,
             "--prefix", self.prefix, *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def run_brew(self) -> Brew:
        """The compressed brew with its two overheats, then wait until the platform is done
        with it: every reading stored (or 300 s), every Telegram message sent."""
        observer = Observer(self.loop, self.broker_url, f"{self.prefix}/#")
        since_ms = int(time.time() * 1000)
        try:
            started = time.monotonic()
            args = ["--time-scale", str(TIME_SCALE), "--interval", str(INTERVAL_S),
                    "--seed", str(SEED)]
            for fault in FAULTS:
                args += ["--fault", fault]
            done = self.simulate(*args)
            brew_s = time.monotonic() - started
            if done.returncode != 0:
                raise RuntimeError(f"the simulator failed:\n{done.stderr}")
            found = re.search(r"brew 1 done: (\d+) messages, (\d+) reading set", done.stderr)
            if found is None:
                raise RuntimeError(f"the simulator did not say what it sent:\n{done.stderr}")
            reported, skipped = int(found[1]), int(found[2])
            wait_until(lambda: len(observer.messages) >= reported, 30)
        finally:
            observer.close()
        published: dict[tuple[str, int], dict[str, Any]] = {}
        for topic, payload in observer.messages:
            _, tank, sensor = topic.split("/")
            published[(f"{tank}:{sensor}", payload["timestamp"])] = {
                "tank": tank, "sensor": sensor, **payload}
        readings = list(published.values())
        wanted = {doc_id(r) for r in readings}
        settled = time.monotonic()
        wait_until(lambda: wanted <= set(self.stored_readings()), 300)
        settle_s = time.monotonic() - settled
        brew = Brew(reported, skipped, readings, len(observer.messages) - len(readings), brew_s,
                    settle_s, [], [], {}, done.stderr)
        # Two messages (alarm, then clear) per episode; then a moment for any extra one.
        wait_until(lambda: len(self.telegram_sent) >= 2 * brew.episodes(), 60)
        time.sleep(2)
        wait_until(lambda: self.metrics()["pending"] == 0, 30)
        brew.stored = self.stored_readings()
        brew.telegram = list(self.telegram_sent)
        brew.events = threshold_events(self.server, since_ms)
        lost = [r for r in readings if doc_id(r) not in set(brew.stored)]
        brew.missing = explain_missing(self.server, since_ms, lost) if lost else ""
        brew.bridge = self.metrics()
        self.brew = brew
        return brew


def threshold_events(server: Server, since_ms: int) -> list[tuple[int, int, Any, Any]]:
    """What check-threshold decided since ``since_ms``, in the order it ran: (start, reading
    timestamp, value, event) for each activation that did not answer "none" (diagnostics)."""
    out = []
    with server.client() as api:
        answer = api.get("/api/v1/namespaces/_/activations",
                         params={"name": "brewery/check-threshold", "since": since_ms,
                                 "limit": 200, "docs": "true"})
        for act in answer.json() if answer.status_code == 200 else []:
            result = act.get("response", {}).get("result", {})
            if result.get("event") != "none":
                out.append((act.get("start", 0), result.get("timestamp", 0),
                            result.get("value"), result.get("event") or result.get("error")))
    return sorted(out)


def activations(server: Server, name: str, since_ms: int) -> list[dict[str, Any]]:
    """Every activation record of ``name`` since ``since_ms`` (all pages, with their docs)."""
    out: list[dict[str, Any]] = []
    with server.client() as api:
        while True:
            answer = api.get("/api/v1/namespaces/_/activations",
                             params={"name": name, "since": since_ms, "limit": 200,
                                     "skip": len(out), "docs": "true"})
            page = answer.json() if answer.status_code == 200 else []
            out += page
            if len(page) < 200:
                return out


def explain_missing(server: Server, since_ms: int, lost: list[dict[str, Any]]) -> str:
    """For each reading not stored, what the platform recorded of it: the trigger
    activation(s) the bridge's fire made (one log line per rule), then the record of each
    rule's activation (status and result), or that there is none."""
    fires = activations(server, "measurement", since_ms)
    lines = [f"{len(fires)} trigger activations since the brew began"]
    with server.client() as api:
        for reading in lost[:10]:
            lines.append(f"{doc_id(reading)}:")
            mine = [a for a in fires if all(
                a.get("response", {}).get("result", {}).get(k) == reading[k]
                for k in ("tank", "sensor", "timestamp"))]
            if not mine:
                lines.append("  no trigger activation: the fire never reached the platform")
            for fire in mine:
                lines.append(f"  trigger activation {fire.get('activationId')}:")
                for log in fire.get("logs", []):
                    lines.append(f"    {log}")
                    try:
                        rule = json.loads(log)
                    except ValueError:
                        continue
                    if not rule.get("activationId"):
                        continue
                    record = api.get(f"/api/v1/namespaces/_/activations/{rule['activationId']}")
                    if record.status_code != 200:
                        lines.append(f"      no record of {rule['activationId']} "
                                     f"({record.status_code})")
                        continue
                    act = record.json()
                    response = act.get("response", {})
                    lines.append(f"      {act.get('name')}: status {response.get('status')!r}, "
                                 f"result {json.dumps(response.get('result'))[:300]}, "
                                 f"duration {act.get('duration')} ms")
                    lines += [f"        {x}" for x in act.get("logs", [])[-5:]]
    return "\n".join(lines)


def doc_id(reading: dict[str, Any]) -> str:
    return f"reading:{reading['tank']}:{reading['sensor']}:{reading['timestamp']:013d}"


def wait_until(check: Callable[[], Any], limit_s: float) -> bool:
    """Poll ``check`` every 0.2 s until it is true or ``limit_s`` passed; its last answer."""
    deadline = time.monotonic() + limit_s
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


_shared: dict[int, tuple[Rig, int]] = {}
_lock = threading.Lock()


@contextlib.contextmanager
def shared_rig(server: Server, work: Path) -> Iterator[Rig]:
    """One rig (deployed, bridged, brewed once) per server, whichever fixture asks first;
    stopped when the last one is done with it."""
    with _lock:
        rig, users = _shared.get(id(server), (None, 0))
        if rig is None:
            rig = Rig(server, work)
            rig.start()
            try:
                rig.run_brew()
            except BaseException:
                rig.stop()
                raise
        _shared[id(server)] = (rig, users + 1)
    try:
        yield rig
    finally:
        with _lock:
            rig, users = _shared[id(server)]
            if users == 1:
                del _shared[id(server)]
                rig.stop()
            else:
                _shared[id(server)] = (rig, users - 1)
