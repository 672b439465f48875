"""What only the Consul registry has: its URL, the agent forgetting us, the agent gone."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from pwsk.errors import ServiceUnavailable
from pwsk.registry import InvokerInfo, open_registry
from pwsk.registry.consul import ConsulRegistry
from tests.registry.conftest import RegistryFactory
from tests.servers import free_port

pytestmark = pytest.mark.anyio
consul_only = pytest.mark.parametrize("new_registry", ["consul"], indirect=True)


def test_url_settings() -> None:
    registry = open_registry("consul://127.0.0.1:8500")
    assert isinstance(registry, ConsulRegistry)
    assert (registry.base_url, registry.service, registry.kv_root) == (
        "http://127.0.0.1:8500", "pwsk-invoker", "pwsk/invokers")
    assert registry.service_id(4) == "invoker4"
    prefixed = ConsulRegistry("consul://h:1?prefix=t1&deregister_after=2m")
    assert (prefixed.service, prefixed.service_id(0), prefixed.kv_root) == (
        "t1-pwsk-invoker", "t1-invoker0", "t1/pwsk/invokers")
    assert prefixed.deregister_after == "2m"


async def test_agent_down_is_service_unavailable_fast() -> None:
    registry = ConsulRegistry(f"consul://127.0.0.1:{free_port()}?timeout=1")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        await registry.claim_invoker_id("x")
    with pytest.raises(ServiceUnavailable):
        await registry.heartbeat(0)
    assert time.monotonic() - started < 2
    await registry.stop()


async def test_health_says_down_while_the_watch_finds_no_agent() -> None:
    registry = ConsulRegistry(f"consul://127.0.0.1:{free_port()}?timeout=1")
    assert registry.health() == {"status": "up"}
    watch = registry.watch()
    with pytest.raises(TimeoutError):  # the watch keeps retrying, yielding nothing
        async with asyncio.timeout(0.5):
            await anext(watch)
    assert registry.health()["status"] == "down"
    await watch.aclose()
    await registry.stop()


@pytest.mark.consul
@consul_only
async def test_registration_as_consul_sees_it(new_registry: RegistryFactory) -> None:
    registry = new_registry()
    assert isinstance(registry, ConsulRegistry)
    await registry.register_invoker(InvokerInfo(7, "host-7", 4096), ttl_s=2)
    async with httpx.AsyncClient(base_url=registry.base_url) as client:
        service = (await client.get(f"/v1/agent/service/{registry.service_id(7)}")).json()
        checks = (await client.get("/v1/agent/checks")).json()
    assert service["Service"] == registry.service
    assert service["Meta"] == {"instance": "7", "unique_name": "host-7",
                               "user_memory_mb": "4096"}
    check = checks[registry.check_id(7)]
    assert (check["ServiceID"], check["Type"], check["Status"]) == (
        registry.service_id(7), "ttl", "passing")


@pytest.mark.consul
@consul_only
async def test_heartbeat_registers_again_when_the_agent_forgot(
        new_registry: RegistryFactory) -> None:
    registry = new_registry()
    assert isinstance(registry, ConsulRegistry)
    info = InvokerInfo(2, "host-2", 1024)
    await registry.register_invoker(info, ttl_s=5)
    async with httpx.AsyncClient(base_url=registry.base_url) as client:
        await client.put(f"/v1/agent/service/deregister/{registry.service_id(2)}")
    assert await registry.invokers() == []
    await registry.heartbeat(2)
    assert await registry.invokers() == [info]


@pytest.mark.consul
@consul_only
async def test_heartbeat_restores_the_id_claim_an_agent_restart_lost(
        new_registry: RegistryFactory) -> None:
    """A dev agent keeps its KV store in memory: after a restart the invoker writes its id
    claim back, so a newcomer does not take a live invoker's id."""
    registry = new_registry()
    assert isinstance(registry, ConsulRegistry)
    first = await registry.claim_invoker_id("host-a")
    info = InvokerInfo(first, "host-a", 1024)
    await registry.register_invoker(info, ttl_s=5)
    async with httpx.AsyncClient(base_url=registry.base_url) as client:  # the restart
        await client.delete(f"/v1/kv/{registry.kv_root}", params={"recurse": ""})
        await client.put(f"/v1/agent/service/deregister/{registry.service_id(first)}")
    await registry.heartbeat(first)
    assert await registry.invokers() == [info]
    assert await registry.claim_invoker_id("newcomer") == first + 1
    assert await registry.claim_invoker_id("host-a") == first
