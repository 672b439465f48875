"""Message buses: in-process for standalone, Kafka for the distributed stack (``open_bus``)."""

from __future__ import annotations

from .base import Bus, Subscription, topics

__all__ = ["Bus", "Subscription", "open_bus", "topics"]


def open_bus(url: str) -> Bus:
    """``memory://`` or ``kafka://host:port[,host:port]`` (later)."""
    if url.startswith("memory://"):
        from .memory import MemoryBus

        return MemoryBus()
    raise ValueError(f"unsupported bus url {url!r}")
