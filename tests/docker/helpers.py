"""Docker pools and factories for tests, each with its own invoker id, cleaned up after."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from invoker.containers.docker import DockerFactory
from invoker.pool import ContainerPool
from pwsk.settings import Settings

from .conftest import engine

_ids = itertools.count()


def invoker_id() -> str:
    """Unique per test, so that one test's cleanup never removes another's containers."""
    return f"t{os.getpid()}x{next(_ids)}"


def factory(api_host: str = "http://127.0.0.1:1", **options: Any) -> DockerFactory:
    return DockerFactory(api_host, invoker=invoker_id(), **options)


class DockerPool(ContainerPool):
    """A pool that also closes its factory's engine client when it stops."""

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            assert isinstance(self.factory, DockerFactory)
            await self.factory.cleanup()
            await self.factory.aclose()


@asynccontextmanager
async def docker_pool(**settings: Any) -> AsyncIterator[ContainerPool]:
    opts: dict[str, Any] = {"prewarm": "", "pause_grace_s": 60.0, "idle_timeout_s": 600.0,
                            **settings}
    pool = DockerPool(factory(), Settings(**opts))
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop()


def with_docker_pool(test: Callable[[ContainerPool], Awaitable[None]], **settings: Any) -> None:
    async def main() -> None:
        async with docker_pool(**settings) as pool:
            await test(pool)

    asyncio.run(main())


def inspect(container_id: str) -> dict[str, Any] | None:
    """``docker inspect``, or None when the container is gone."""
    with engine() as client:
        resp = client.get(f"/containers/{container_id}/json")
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    info: dict[str, Any] = resp.json()
    return info


def labelled(invoker: str) -> list[str]:
    """Ids of the containers (running or not) labelled with ``invoker``."""
    with engine() as client:
        resp = client.get("/containers/json", params={
            "all": "1", "filters": f'{{"label": ["pwsk.invoker={invoker}"]}}'})
    resp.raise_for_status()
    return [c["Id"] for c in resp.json()]
