"""Small async helpers for the bridge tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiomqtt
import httpx
import orjson

from bridge import Bridge
from bridge.metrics import parse_metrics


async def wait_until(check: Callable[[], bool], what: str = "condition",
                     within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_for_count(client: httpx.Client, name: str, count: int,
                         within: float = 30.0) -> list[dict[str, Any]]:
    """Poll the activations API until ``name`` has ``count`` activations (never more)."""
    deadline = time.monotonic() + within
    while True:
        found = await asyncio.to_thread(activations, client, name)
        assert len(found) <= count, f"{len(found)} activations of {name}, expected {count}"
        if len(found) == count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} activations of {name} after {within}s, "
                                 f"expected {count}")
        await asyncio.sleep(0.1)


def activations(client: httpx.Client, name: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/namespaces/_/activations",
                          params={"name": name, "limit": 200, "docs": "true"})
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def reading(value: float, unit: str = "C", timestamp: int | None = None) -> bytes:
    return orjson.dumps({"value": value, "unit": unit,
                         "timestamp": timestamp or int(time.time() * 1000)})


async def publish(host: str, port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 (each awaits its PUBACK from the broker)."""
    async with aiomqtt.Client(host, port) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


async def scrape(bridge: Bridge) -> dict[str, float]:
    assert bridge.metrics_server is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(bridge.metrics_server.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse_metrics(response.text)
