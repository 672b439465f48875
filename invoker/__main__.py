"""``python -m invoker``: one invoker process of the distributed stack.

It claims a stable id from the registry for its name (``PWSK_INVOKER_NAME``, default the
host name), consumes ``invoker{id}``, registers with a TTL check it keeps passing, and on
SIGTERM/SIGINT deregisters, drains running activations and removes its containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket

from pwsk import log
from pwsk.bus import open_bus
from pwsk.malloc import return_big_blocks
from pwsk.registry import InvokerInfo, open_registry
from pwsk.settings import Settings
from pwsk.store import open_store

from .containers import open_factory
from .service import Invoker

logger = log.get("pwsk.invoker.main")
TTL_S = 2.0


async def serve(settings: Settings) -> None:
    store, bus, registry = (open_store(settings.store), open_bus(settings.bus),
                            open_registry(settings.registry))
    await store.start()
    await bus.start()
    await registry.start()
    name = settings.invoker_name or socket.gethostname()
    instance = await registry.claim_invoker_id(name)
    settings = settings.model_copy(update={"invoker_id": instance})
    # Containers are labelled with the invoker's name, unique on a shared engine (ids are
    # only unique within one deployment): a restart's cleanup removes its own leftovers only.
    factory = open_factory(settings.containers, settings.api_host, invoker=name,
                           user_memory_mb=settings.user_memory_mb,
                           network=settings.docker_network)
    invoker = Invoker(settings, store, bus, factory)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await invoker.start()
        await registry.register_invoker(
            InvokerInfo(instance, name, settings.user_memory_mb), ttl_s=TTL_S)
        logger.info("invoker registered", instance=instance, name=name)
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await registry.heartbeat(instance)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TTL_S / 4)
    finally:
        with contextlib.suppress(Exception):
            await registry.deregister_invoker(instance)
        await invoker.stop()
        await registry.stop()
        await bus.stop()
        await store.stop()


def main() -> None:
    log.configure(os.environ.get("PWSK_LOG_LEVEL", "info"))
    return_big_blocks()  # freed results go back to the system (pwsk/malloc.py)
    asyncio.run(serve(Settings()))


if __name__ == "__main__":
    main()
