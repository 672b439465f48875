"""``pwsk standalone``: gateway, controller and invoker in one process (spec §6.6).

Embedded defaults: a SQLite file under the data directory (entities and activations survive
restarts), the in-process bus, and actions in Docker containers when an engine answers and
has the runtime images, else in local processes (it says which). Port 3233, the ``guest``
and ``whisk.system`` namespaces ready. Ctrl-C drains running activations, then stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from controller.app import create_app
from gateway.edge import Edge, namespace_of
from invoker.containers import open_factory
from invoker.containers.docker import socket_path
from invoker.service import Invoker

from . import log
from .bus import open_bus
from .demo import Demo
from .docstore import DocStore
from .malloc import return_big_blocks
from .settings import Settings
from .store import open_store
from .system import SystemServices

DEFAULT_PORT = 3233
# A development box runs demos and test loops: OpenWhisk's deployment throttles (60 per
# minute) would get in the way, so standalone starts generous. PWSK_* variables still win.
STANDALONE_THROTTLES = {"invocations_per_minute": 6000, "concurrent_invocations": 100,
                        "fires_per_minute": 6000}


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` owns shutdown for all services."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(os.environ.get("PWSK_DATA_DIR", str(Path(base) / "pwsk")))


async def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                data_dir: Path | None = None, demo: bool = False) -> None:
    data_dir = data_dir or default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    api_host = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    throttles: dict[str, Any] = {k: v for k, v in STANDALONE_THROTTLES.items()
                 if f"PWSK_{k.upper()}" not in os.environ}
    settings = Settings(store=os.environ.get("PWSK_STORE", f"sqlite://{data_dir / 'pwsk.db'}"),
                        api_host=os.environ.get("PWSK_API_HOST", api_host), **throttles)
    store = open_store(settings.store)
    bus = open_bus(settings.bus)
    await store.start()
    await bus.start()
    factory, listen, system_host = await _containers(settings, host, data_dir)
    invoker = Invoker(settings, store, bus, factory)
    system = SystemServices(settings, store, host=system_host)
    docstore = DocStore(data_dir / "userdata.db")
    await docstore.start()
    app = create_app(settings, store, bus, docstore=docstore, manage_engines=False)
    app.state.containers = factory  # /health reports its engine (Docker's)
    edge = Edge(bus, namespace_of(app.state.controller.auth.authenticate))  # realtime, dashboard
    edge.install(app)
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", log_level="warning",
                            http="httptools", access_log=False, timeout_graceful_shutdown=10)
    server = _Server(config)
    brewery = Demo(settings.api_host, data_dir) if demo else None  # see pwsk.demo

    def on_signal() -> None:
        # First Ctrl-C: graceful (drain, then stop); a second one: stop now.
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True
        edge.close_streams()  # event streams never end by themselves
        if brewery:
            brewery.stop_soon()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await edge.start()
        await invoker.start()
        await system.start()
        if brewery:
            await brewery.start()  # comes up once the server answers
        sockets = [socket.create_server((address, port), family=socket.AF_INET6
                                        if ":" in address else socket.AF_INET)
                   for address in listen]
        await server.serve(sockets=sockets)
    finally:
        if brewery:
            await brewery.stop()
        await edge.stop()
        await system.stop()
        await invoker.stop()
        await docstore.stop()
        await bus.stop()
        await store.stop()


async def _containers(settings: Settings, host: str,
                      data_dir: Path) -> tuple[Any, list[str], str]:
    """The container backend, the addresses to listen on, and the alarms provider's host.

    ``PWSK_CONTAINERS``: ``auto`` (the default: Docker when an engine answers and has the
    runtime images, else processes), ``docker`` or ``process``; it says which. Containers
    are labelled with a name derived from the data directory, so that a restart removes its
    own leftovers and never another server's on the same engine. Actions in containers call
    back to the API through the host's address on the ``pwsk`` network, so the server
    listens there too when it is bound to loopback.
    """
    kind = os.environ.get("PWSK_CONTAINERS") or "auto"  # empty: the default too
    where = os.path.abspath(data_dir)  # noqa: ASYNC240 - no I/O beyond getcwd
    digest = hashlib.sha1(where.encode()).hexdigest()[:8]
    factory = open_factory(kind, settings.api_host, user_memory_mb=settings.user_memory_mb,
                           invoker=f"standalone{digest}", network=settings.docker_network)
    listen, system_host = [host], "127.0.0.1"
    if getattr(factory, "runs_images", False):
        missing = await factory.missing_runtime_images()  # type: ignore[attr-defined]
        if missing and kind == "auto":
            await factory.aclose()  # type: ignore[attr-defined]
            print(f"containers: local processes (Docker lacks {', '.join(missing)}; "
                  "scripts/lib/docker.sh builds them)", flush=True)
            return open_factory("process", settings.api_host), listen, system_host
        bridge = urlsplit(await factory.container_api_host()).hostname  # type: ignore[attr-defined]
        if bridge and host in ("127.0.0.1", "localhost"):
            listen.append(bridge)
            system_host = bridge
        print(f"containers: Docker (actions reach the API at {bridge})", flush=True)
    elif kind == "auto":
        print(f"containers: local processes (no Docker engine answers on {socket_path()}; "
              "no isolation: for development)", flush=True)
    else:
        print("containers: local processes (no isolation: for development)", flush=True)
    return factory, listen, system_host


def run(host: str = "127.0.0.1", port: int = DEFAULT_PORT, data_dir: Path | None = None,
        demo: bool = True) -> None:
    """Serve until Ctrl-C (blocking); with ``demo``, the live brewery too (``pwsk.demo``)."""
    log.configure(os.environ.get("PWSK_LOG_LEVEL", "info"))
    return_big_blocks()  # freed results go back to the system (pwsk/malloc.py)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency, but not essential
        pass
    print(f"pwsk standalone on http://{host}:{port} (data in {data_dir or default_data_dir()})",
          flush=True)
    asyncio.run(serve(host, port, data_dir, demo))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pwsk standalone", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--data-dir", type=Path, default=None)
    # Off here (tests start ``python -m pwsk.standalone``); ``pwsk standalone`` turns it on.
    parser.add_argument("--demo", action=argparse.BooleanOptionalAction, default=False,
                        help="start the live brewery demo (default: off)")
    args = parser.parse_args(argv)
    run(args.host, args.port, args.data_dir, demo=args.demo)


if __name__ == "__main__":
    main()
