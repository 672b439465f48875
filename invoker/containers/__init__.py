"""Container backends: local processes (dev, standalone) and Docker (``open_factory``)."""

from __future__ import annotations

from .base import Container, ContainerFactory, ContainerSpec, LogLine

__all__ = ["Container", "ContainerFactory", "ContainerSpec", "LogLine", "open_factory"]


def open_factory(kind: str, api_host: str) -> ContainerFactory:
    if kind in ("process", "auto"):
        from .process import ProcessFactory

        return ProcessFactory(api_host)
    raise ValueError(f"unsupported container backend {kind!r}")
