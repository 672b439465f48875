"""Compose health check of an invoker: exit 0 while the registry lists this invoker, by its
name, with its liveness check passing (the TTL the invoker keeps refreshing), else 1.

Run in the invoker's container with its environment (``PWSK_REGISTRY``, and
``PWSK_INVOKER_NAME`` or else the host name, as ``python -m invoker`` picks its name).
"""

from __future__ import annotations

import asyncio
import socket
import sys

from pwsk.registry import open_registry
from pwsk.settings import Settings


async def registered_and_live() -> bool:
    settings = Settings()
    name = settings.invoker_name or socket.gethostname()
    registry = open_registry(settings.registry)
    await registry.start()
    try:
        infos = await registry.invokers()
    finally:
        await registry.stop()
    return any(info.unique_name == name and info.live for info in infos)


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(registered_and_live()) else 1)
