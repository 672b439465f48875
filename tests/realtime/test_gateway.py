"""The realtime channel on the distributed gateway: keys checked by a controller."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.test_gateway import _gateway
from tests.realtime.sse import Reader
from tests.servers import GUEST, Server


@pytest.fixture
def gateway(server: Server, tmp_path: Path) -> Iterator[str]:
    yield from _gateway([server.url], tmp_path)


def test_gateway_publishes_and_streams(gateway: str, name: str) -> None:
    user, key = GUEST.split(":", 1)
    with httpx.Client(base_url=gateway, timeout=httpx.Timeout(10, read=5)) as http, \
            http.stream("GET", f"/realtime/guest/{name}/events") as response:
        sse = Reader(response)
        assert sse.next().event == "hello"
        answer = http.post(f"/realtime/{name}", json={"via": "gateway"}, auth=(user, key))
        assert answer.status_code == 202 and answer.json()["namespace"] == "guest"
        assert answer.headers["x-request-id"]
        assert sse.next().json() == {"via": "gateway"}
        # Cached identity: a second publish does not need the controller's answer again.
        assert http.post(f"/realtime/{name}", json=2, auth=(user, key)).status_code == 202
        assert sse.next().json() == 2
        for auth in (None, (user, "wrong")):
            refused = http.post(f"/realtime/{name}", json={}, auth=auth)
            assert refused.status_code == 401 and set(refused.json()) == {"error", "code"}
        # Everything else still goes to the controller.
        assert http.get("/api/v1/namespaces", auth=(user, key)).json() == ["guest"]


def test_gateway_serves_the_dashboard(gateway: str) -> None:
    page = httpx.get(f"{gateway}/dashboard", follow_redirects=True)
    assert page.status_code == 200 and "data-testid" in page.text
    config = httpx.get(f"{gateway}/dashboard/config.json").json()
    assert config["namespace"] == "guest" and config["channel"] == "brewery"


def test_gateway_stops_promptly_with_streams_open(server: Server, tmp_path: Path,
                                                  name: str) -> None:
    gateway = _gateway([server.url], tmp_path)
    url = next(gateway)
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=10)) as http, \
            http.stream("GET", f"/realtime/guest/{name}/events") as response:
        sse = Reader(response)
        assert sse.next().event == "hello"
        started = time.monotonic()
        next(gateway, None)  # SIGTERM, and wait for the process (at most 10 s)
        # uvicorn waits for open responses before it stops; the streams end at the signal.
        assert time.monotonic() - started < 5
        with pytest.raises((EOFError, httpx.RemoteProtocolError)):
            sse.next()
