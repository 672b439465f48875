"""The registry under test: every behaviour test runs on the local registry and on Consul."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from pwsk.registry import Registry
from pwsk.registry.consul import ConsulRegistry
from pwsk.registry.local import LocalRegistry
from tests.bus import engines


def pytest_collection_finish(session: pytest.Session) -> None:
    engines.start_for(session.items, "consul")


@pytest.fixture(scope="session")
def consul_url() -> str:
    return engines.url("consul")


RegistryFactory = Callable[[], Registry]


@pytest.fixture(params=["local", pytest.param("consul", marks=pytest.mark.consul)])
async def new_registry(request: pytest.FixtureRequest) -> AsyncIterator[RegistryFactory]:
    """Makes started registries that share one state (one agent and prefix on Consul), as
    processes of one deployment would; everything they made is removed afterwards."""
    if request.param == "local":
        shared = LocalRegistry()
        yield lambda: shared
        return
    url = f"{request.getfixturevalue('consul_url')}?prefix=t{secrets.token_hex(4)}"
    made: list[ConsulRegistry] = []

    def make() -> Registry:
        made.append(ConsulRegistry(url))
        return made[-1]

    yield make
    for registry in made:
        await registry.stop()
    await _clean_consul(ConsulRegistry(url))


async def _clean_consul(registry: ConsulRegistry) -> None:
    async with httpx.AsyncClient(base_url=registry.base_url) as client:
        services = (await client.get("/v1/agent/services")).json()
        for service_id, service in services.items():
            if service["Service"] == registry.service:
                await client.put(f"/v1/agent/service/deregister/{service_id}")
        await client.delete(f"/v1/kv/{registry.kv_root}", params={"recurse": "true"})


@pytest.fixture
async def registry(new_registry: RegistryFactory) -> Registry:
    instance = new_registry()
    await instance.start()
    return instance
