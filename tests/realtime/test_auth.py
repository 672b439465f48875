"""Keys on the distributed gateway: a controller says whose they are, the answer is cached."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.edge import ControllerAuth, namespace_of
from pwsk.errors import ServiceUnavailable, Unauthenticated

pytestmark = pytest.mark.anyio
GOOD = "Basic Z29vZA=="


def controllers(calls: list[str], down: frozenset[str] = frozenset(),
                delay: float = 0.0) -> httpx.AsyncClient:
    async def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        if request.url.host in down:
            raise httpx.ConnectError("refused", request=request)
        await asyncio.sleep(delay)
        assert request.url.path == "/api/v1/namespaces"
        if request.headers.get("authorization") != GOOD:
            return httpx.Response(401, json={"error": "nope", "code": "x"})
        return httpx.Response(200, json=["guest"])

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def test_known_key_is_cached_and_unknown_is_refused() -> None:
    calls: list[str] = []
    async with controllers(calls) as client:
        auth = ControllerAuth(client, lambda: ["http://c1"])
        assert await auth(GOOD) == "guest"
        assert await auth(GOOD) == "guest"
        assert calls == ["c1"]
        for header in ("Basic bad", None, ""):
            with pytest.raises(Unauthenticated):
                await auth(header)
        assert calls == ["c1", "c1"]  # no request without a header
        auth._cache.clear()
        assert await auth(GOOD) == "guest" and len(calls) == 3


async def test_concurrent_misses_share_one_request() -> None:
    calls: list[str] = []
    async with controllers(calls, delay=0.05) as client:
        auth = ControllerAuth(client, lambda: ["http://c1"])
        assert await asyncio.gather(*(auth(GOOD) for _ in range(20))) == ["guest"] * 20
        assert calls == ["c1"]


async def test_a_controller_that_is_down_is_skipped() -> None:
    calls: list[str] = []
    async with controllers(calls, down=frozenset({"c1"})) as client:
        assert await ControllerAuth(client, lambda: ["http://c1", "http://c2"])(GOOD) == "guest"
        assert calls == ["c1", "c2"]
        with pytest.raises(ServiceUnavailable):
            await ControllerAuth(client, lambda: ["http://c1"])(GOOD)


async def test_identity_adapter() -> None:
    class Identity:
        namespace = "guest"

    async def authenticate(header: str | None) -> Identity:
        if header != GOOD:
            raise Unauthenticated()
        return Identity()

    assert await namespace_of(authenticate)(GOOD) == "guest"
    with pytest.raises(Unauthenticated):
        await namespace_of(authenticate)(None)
