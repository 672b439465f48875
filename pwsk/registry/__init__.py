"""Invoker discovery: in-process for standalone, Consul for the distributed stack."""

from __future__ import annotations

from .base import InvokerInfo, Registry

__all__ = ["InvokerInfo", "Registry", "open_registry"]


def open_registry(url: str) -> Registry:
    """``local://`` or ``consul://host:port[?prefix=&token=&timeout=&deregister_after=]``."""
    if url.startswith("local://"):
        from .local import LocalRegistry

        return LocalRegistry()
    if url.startswith("consul://"):
        from .consul import ConsulRegistry

        return ConsulRegistry(url)
    raise ValueError(f"unsupported registry url {url!r}")
