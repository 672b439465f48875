"""``python -m controller``: one controller process of the distributed stack.

Configured by ``PWSK_*`` variables (see ``pwsk.settings``), e.g.::

    PWSK_STORE=couchdb://127.0.0.1:5984 PWSK_BUS=kafka://127.0.0.1:9092 \\
    PWSK_REGISTRY=consul://127.0.0.1:8500 PWSK_CONTROLLER_ID=0 PWSK_CLUSTER_SIZE=2 \\
    PWSK_PORT=10001 python -m controller

With ``PWSK_SYSTEM_SERVICES=true`` (one controller per deployment) it also installs the
system packages and runs the alarms feed's provider on ``PWSK_SYSTEM_HOST``.
"""

from __future__ import annotations

import asyncio
import os

import uvicorn

from pwsk import log
from pwsk.bus import open_bus
from pwsk.malloc import return_big_blocks
from pwsk.settings import Settings
from pwsk.store import open_store

from .app import create_app
from .auth import KeySettingError, default_subjects


async def serve(settings: Settings) -> None:
    store = open_store(settings.store)
    bus = open_bus(settings.bus)
    await store.start()
    await bus.start()
    system = None
    if settings.system_services:
        from pwsk.system import SystemServices

        system = SystemServices(settings, store, host=settings.system_host)
        await system.start()
    app = create_app(settings, store, bus, manage_engines=False)
    config = uvicorn.Config(app, host=os.environ.get("PWSK_HOST", "127.0.0.1"),
                            port=settings.port, log_level="warning", access_log=False,
                            http="httptools", timeout_graceful_shutdown=10)
    try:
        await uvicorn.Server(config).serve()
    finally:
        if system is not None:
            await system.stop()
        await bus.stop()
        await store.stop()


def main() -> None:
    log.configure(os.environ.get("PWSK_LOG_LEVEL", "info"))
    return_big_blocks()  # freed results go back to the system (pwsk/malloc.py)
    settings = Settings()
    try:
        default_subjects(settings)  # refuse missing or well-known keys before anything starts
    except KeySettingError as exc:
        raise SystemExit(f"pwsk controller: {exc}") from None
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
