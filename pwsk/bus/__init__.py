"""Message buses: in-process for standalone, Kafka for the distributed stack (``open_bus``)."""

from __future__ import annotations

from .base import AckSubscription, Bus, Delivery, Subscription, topics

__all__ = ["AckSubscription", "Bus", "Delivery", "Subscription", "open_bus", "topics"]


def open_bus(url: str) -> Bus:
    """``memory://`` or ``kafka://host:port[,host:port...][?prefix=&timeout=&partitions=]``."""
    if url.startswith("memory://"):
        from .memory import MemoryBus

        return MemoryBus()
    if url.startswith("kafka://"):
        from .kafka import KafkaBus

        return KafkaBus(url)
    raise ValueError(f"unsupported bus url {url!r}")
