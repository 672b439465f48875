"""Container backends: local processes (dev, standalone) and Docker (``open_factory``)."""

from __future__ import annotations

from typing import Any

from .base import Container, ContainerFactory, ContainerSpec, LogLine

__all__ = ["Container", "ContainerFactory", "ContainerSpec", "LogLine", "open_factory"]


def open_factory(kind: str, api_host: str, **options: Any) -> ContainerFactory:
    """The backend named by ``PWSK_CONTAINERS``: ``process``, ``docker`` or ``auto``.

    ``auto`` takes Docker when an engine answers ``/_ping`` on its socket, else processes.
    ``options`` go to the Docker factory (``invoker``, ``user_memory_mb``,
    ``api_host_for_containers``, ``publish``, ...); the process backend needs none.
    """
    if kind == "auto":
        from .docker import engine_available

        kind = "docker" if engine_available(options.get("socket")) else "process"
    if kind == "docker":
        from .docker import DockerFactory

        return DockerFactory(api_host, **options)
    if kind == "process":
        from .process import ProcessFactory

        return ProcessFactory(api_host)
    raise ValueError(f"unsupported container backend {kind!r}")
