"""The brewery, live, in one command: what ``pwsk standalone`` starts after the server is up.

1. an embedded MQTT broker (amqtt; on 1883 when that port is free),
2. the brewery deployed from ``functions/brewery/manifest.yaml`` with the guest key,
3. the MQTT bridge with the route ``brewery/+/+`` → trigger ``measurement``,
4. the simulator, brewing again and again at a pleasant pace (with a mash overheat in
   every brew, so the alarm shows), and the dashboard's address printed.

``start()`` returns at once (the demo comes up in the background once the server answers);
``stop()`` stops simulator, bridge and broker in that order and is idempotent;
``stop_soon()`` begins that from a signal handler. A demo that cannot start says why and
leaves the server running.

Settings, from the environment: ``PWSK_DEMO_TIME_SCALE`` (simulated seconds per second,
default 30: a brew in about ten minutes), ``PWSK_DEMO_INTERVAL`` (simulated seconds between
readings, default 60: a set of ten readings every two seconds, which a two-core machine
serves warm; one set a second makes its container pool thrash), ``PWSK_DEMO_FAULTS``
(comma-separated, default ``overheat@50``; empty for none).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from . import log
from .client import Client
from .deploy import deploy, load

if TYPE_CHECKING:  # imported when the demo starts: the broker stack costs ~0.25 s to load
    from bridge import Bridge, EmbeddedBroker

logger = log.get("pwsk.demo")

MANIFEST = Path(__file__).resolve().parent.parent / "functions" / "brewery" / "manifest.yaml"
GUEST_KEY = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
             "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
MQTT_PORT = 1883
READY_TIMEOUT_S = 60.0
DEMO_ACTION_MEMORY_MB = 128


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def deploy_brewery(api_host: str, auth: str = GUEST_KEY) -> None:
    """Deploy ``functions/brewery/manifest.yaml`` as the demo runs it (blocking)."""
    plan = load(MANIFEST)
    for body in plan.actions.values():
        # Readings come in bursts (a sensor set at a time); small actions in 128 MB give
        # the one-machine pool twice the containers, so a burst is served warm.
        body.setdefault("limits", {}).setdefault("memory", DEMO_ACTION_MEMORY_MB)
    client = Client(api_host, auth)
    try:
        deploy(client, plan, report=lambda _: None)
    finally:
        client.close()


class Demo:
    def __init__(self, api_host: str, data_dir: Path, *, auth: str = GUEST_KEY,
                 time_scale: float | None = None, interval: float | None = None,
                 faults: list[str] | None = None, say: Callable[[str], None] | None = None):
        self.api_host = api_host.rstrip("/")
        self.state_dir = data_dir / "demo"
        self.auth = auth
        self.time_scale = time_scale or _env_float("PWSK_DEMO_TIME_SCALE", 30.0)
        self.interval = interval or _env_float("PWSK_DEMO_INTERVAL", 60.0)
        specs = (faults if faults is not None
                 else os.environ.get("PWSK_DEMO_FAULTS", "overheat@50").split(","))
        self.faults = [s.strip() for s in specs if s.strip()]
        self.say = say or (lambda line: print(line, flush=True))
        self.broker: EmbeddedBroker | None = None
        self.bridge: Bridge | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None

    @property
    def dashboard_url(self) -> str:
        return f"{self.api_host}/dashboard/"

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pwsk-demo")

    def stop_soon(self) -> None:
        """Begin stopping (for a signal handler); ``stop()`` waits for it."""
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop())

    async def stop(self) -> None:
        self.stop_soon()
        assert self._stopping is not None
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            await bridge.stop()
        broker, self.broker = self.broker, None
        if broker is not None:
            await broker.stop()

    async def _run(self) -> None:
        try:
            await self._wait_for_server()
            await self._start_broker()
            assert self.broker is not None
            self.say(f"demo: MQTT broker on {self.broker.url}")
            await asyncio.to_thread(self._deploy)
            self.say("demo: deployed the brewery (functions/brewery/manifest.yaml)")
            await self._start_bridge()
            self.say("demo: bridge routes brewery/+/+ to trigger measurement")
            self.say(f"demo: simulator brewing at {self.time_scale:g}x; dashboard: "
                     f"{self.dashboard_url}")
            self.ready.set()
            await self._brew_forever()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("demo failed; the server keeps running", error=repr(exc))
            self.say(f"demo: could not start ({exc}); the server keeps running")

    async def _wait_for_server(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.api_host}/ping")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.api_host} did not answer")
                await asyncio.sleep(0.1)

    async def _start_broker(self) -> None:
        from bridge import EmbeddedBroker

        # The well-known port lets mosquitto_sub and friends watch; any free port otherwise.
        broker = EmbeddedBroker(port=MQTT_PORT if _port_free(MQTT_PORT) else 0)
        await broker.start()
        self.broker = broker

    def _deploy(self) -> None:
        deploy_brewery(self.api_host, self.auth)

    async def _start_bridge(self) -> None:
        from bridge import Bridge, parse_config

        assert self.broker is not None
        config = parse_config({
            "broker": {"url": self.broker.url, "client_id": "pwsk-demo-bridge"},
            "api": {"host": self.api_host, "key": self.auth},
            "routes": [{"topic": "brewery/+/+", "trigger": "measurement",
                        "params": {"tank": "{1}", "sensor": "{2}"}}],
            "state_dir": str(self.state_dir / "bridge"),
            "metrics": None,
            "drain_timeout": 2.0,
        }, "the demo's bridge configuration")
        bridge = Bridge(config)
        self.bridge = bridge
        await bridge.start()
        async with asyncio.timeout(30):
            await bridge.wait_ready()

    async def _brew_forever(self) -> None:
        from functions.simulator import Fault, Simulator
        from functions.simulator.publisher import BrokerAddress, publish

        assert self.broker is not None
        address = BrokerAddress.parse(self.broker.url)
        faults = [Fault.parse(spec) for spec in self.faults]
        brew = 0
        while True:
            simulator = Simulator(seed=brew, interval=self.interval, faults=faults)
            done = await publish(simulator, address, time_scale=self.time_scale,
                                 client_id="pwsk-demo-simulator")
            brew += 1
            logger.info("demo brew done", brew=brew, messages=done.messages)
