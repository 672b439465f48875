"""The realtime channel over real HTTP on a ``pwsk standalone``: publish, stream, replay,
isolation, limits, slow readers, shutdown."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.realtime.sse import Reader
from tests.servers import GUEST, SYSTEM, Server, start_server

TUNED = {  # small limits so the tests see them quickly
    "PWSK_REALTIME_HEARTBEAT_S": "0.3",
    "PWSK_REALTIME_QUEUE_EVENTS": "8",
    "PWSK_REALTIME_RING_EVENTS": "20",
    "PWSK_REALTIME_WRITE_TIMEOUT_S": "5",
}


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("realtime"), env=TUNED)
    yield srv
    srv.stop()


@pytest.fixture
def channel() -> str:
    return f"ch{secrets.token_hex(4)}"


def publish(srv: Server, channel: str, body: object, auth: str = GUEST) -> httpx.Response:
    user, key = auth.split(":", 1)
    return httpx.post(f"{srv.url}/realtime/{channel}", json=body, auth=(user, key), timeout=10)


@contextmanager
def stream(srv: Server, namespace: str, channel: str, *, headers: dict[str, str] | None = None,
           params: dict[str, str] | None = None,
           client: httpx.Client | None = None) -> Iterator[Reader]:
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(10, read=5))
    try:
        with http.stream("GET", f"{srv.url}/realtime/{namespace}/{channel}/events",
                         headers=headers, params=params) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            yield Reader(response)
    finally:
        if own:
            http.close()


def test_publish_reaches_the_stream(rt: Server, channel: str) -> None:
    with stream(rt, "guest", channel) as sse:
        hello = sse.next()
        assert hello.event == "hello" and hello.retry == 2000
        assert hello.json() == {"namespace": "guest", "channel": channel, "last": hello.id,
                                "replay": 0, "reset": None, "heartbeat_s": 0.3}
        answer = publish(rt, channel, {"tank": "mash", "value": 65.2})
        assert answer.status_code == 202
        assert answer.json() == {"namespace": "guest", "channel": channel}
        event = sse.next()
        assert event.event == "message" and event.json() == {"tank": "mash", "value": 65.2}
        epoch, seq = event.id.rsplit("-", 1)  # type: ignore[union-attr]
        assert hello.id == f"{epoch}-0" and seq == "1"
        for value in ("a string", [1, 2], True, 3.5):
            assert publish(rt, channel, value).status_code == 202
        assert [m.json() for m in sse.events(4)] == ["a string", [1, 2], True, 3.5]


def test_heartbeats_keep_an_idle_stream_alive(rt: Server, channel: str) -> None:
    with stream(rt, "guest", channel) as sse:
        sse.next()
        started = time.monotonic()
        comment = sse.next(comments=True)
        assert comment.comment == "heartbeat" and time.monotonic() - started < 2


def test_namespaces_are_isolated(rt: Server, channel: str) -> None:
    with stream(rt, "guest", channel) as guest, stream(rt, "whisk.system", channel) as system:
        guest.next()
        system.next()
        assert publish(rt, channel, {"from": "guest"}).status_code == 202
        assert publish(rt, channel, {"from": "system"}, auth=SYSTEM).status_code == 202
        assert guest.next().json() == {"from": "guest"}
        assert system.next().json() == {"from": "system"}
        # Nothing else arrives on either: the next thing each sees is a heartbeat.
        assert guest.next(comments=True).comment == "heartbeat"
        assert system.next(comments=True).comment == "heartbeat"


def test_last_event_id_replays_what_was_missed(rt: Server, channel: str) -> None:
    with stream(rt, "guest", channel) as sse:
        sse.next()
        for i in range(5):
            publish(rt, channel, {"i": i})
        ids = [m.id for m in sse.events(5)]
    with stream(rt, "guest", channel, headers={"Last-Event-ID": ids[1]}) as sse:
        hello = sse.next()
        assert hello.json()["replay"] == 3 and hello.json()["reset"] is None
        assert hello.id is None  # the replayed events carry the ids
        replay = sse.events(3)
        assert [m.json()["i"] for m in replay] == [2, 3, 4]
        assert [m.id for m in replay] == ids[2:]
        publish(rt, channel, {"i": 5})
        assert sse.next().json() == {"i": 5}  # then live
    # The query parameter does the same (a page that opens a new EventSource), and the header,
    # which a browser sends when it reconnects by itself, wins over it.
    with stream(rt, "guest", channel, params={"lastEventId": ids[3]}) as sse:
        assert sse.next().json()["replay"] == 2
        assert [m.json()["i"] for m in sse.events(2)] == [4, 5]
    with stream(rt, "guest", channel, params={"lastEventId": ids[0]},
                headers={"Last-Event-ID": ids[4]}) as sse:
        assert sse.next().json()["replay"] == 1
        assert sse.next().json() == {"i": 5}


def test_replay_says_reset_when_events_are_gone_or_unknown(rt: Server, channel: str) -> None:
    with stream(rt, "guest", channel) as sse:
        first = sse.next().id
    for i in range(30):  # the ring holds 20
        publish(rt, channel, {"i": i})
    with stream(rt, "guest", channel, headers={"Last-Event-ID": first or ""}) as sse:
        hello = sse.next().json()
        assert hello["reset"] == "gap" and hello["replay"] == 20
        assert sse.next().json() == {"i": 10}
    with stream(rt, "guest", channel, headers={"Last-Event-ID": "another-gateway-7"}) as sse:
        assert sse.next().json()["reset"] == "unknown"


def test_publishing_needs_a_valid_key(rt: Server, channel: str) -> None:
    url = f"{rt.url}/realtime/{channel}"
    for auth in (None, ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "wrong"), ("nobody", "x")):
        answer = httpx.post(url, json={"x": 1}, auth=auth)
        assert answer.status_code == 401
        body = answer.json()
        assert set(body) == {"error", "code"} and body["code"]
        assert answer.headers["www-authenticate"].startswith("Basic")
    answer = httpx.post(url, json={}, headers={"Authorization": "Bearer token"})
    assert answer.status_code == 401


def test_size_and_shape_limits(rt: Server, channel: str) -> None:
    user, key = GUEST.split(":", 1)
    url = f"{rt.url}/realtime/{channel}"
    limit = 64 * 1024
    fits = b'"' + b"x" * (limit - 2) + b'"'
    assert httpx.post(url, content=fits, auth=(user, key)).status_code == 202
    answer = httpx.post(url, content=fits + b" ", auth=(user, key))
    assert answer.status_code == 413 and set(answer.json()) == {"error", "code"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        yield b'"'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"'

    assert httpx.post(url, content=chunks(), auth=(user, key)).status_code == 413
    assert httpx.post(url, auth=(user, key)).status_code == 400  # empty
    bad = httpx.post(url, content=b"{not json", auth=(user, key))
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    bad = httpx.post(f"{rt.url}/realtime/no%20spaces", json={}, auth=(user, key))
    assert bad.status_code == 400 and set(bad.json()) == {"error", "code"}
    bad = httpx.get(f"{rt.url}/realtime/guest/{'x' * 80}/events")
    assert bad.status_code == 400


def test_a_slow_reader_is_dropped_and_never_blocks_publishers(rt: Server, channel: str) -> None:
    # A reader with a small receive window (so the kernel buffers little) that stops
    # reading after the hello, while 12 MB are published.
    small = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 131072)])
    big = "x" * 60_000
    count = 200
    user, key = GUEST.split(":", 1)
    with httpx.Client(transport=small, timeout=httpx.Timeout(10, read=10)) as slow_http, \
            httpx.Client(base_url=rt.url, auth=(user, key)) as publisher, \
            stream(rt, "guest", channel, client=slow_http) as slow, \
            stream(rt, "guest", channel) as healthy:
        slow.next()
        healthy.next()
        slowest = 0.0
        for i in range(count):
            started = time.monotonic()
            answer = publisher.post(f"/realtime/{channel}", json={"i": i, "pad": big})
            assert answer.status_code == 202
            slowest = max(slowest, time.monotonic() - started)
            assert healthy.next().json()["i"] == i
        assert slowest < 1.0  # nobody waited for the slow reader
        info = httpx.get(f"{rt.url}/realtime/guest/{channel}").json()
        assert info["subscribers"] == 1  # only the healthy one is left
        # The slow reader gets what was already on its way, then the stream ends: at once
        # if it reads again soon, or when a write has waited too long (the server closes).
        got = []
        with pytest.raises((EOFError, httpx.RemoteProtocolError)):
            while True:
                got.append(slow.next().json()["i"])
        assert len(got) < count and got == list(range(len(got)))


def test_shutdown_ends_open_streams_at_once(tmp_path: Path, channel: str) -> None:
    srv = start_server(tmp_path)
    try:
        with stream(srv, "guest", channel) as sse:
            sse.next()
            started = time.monotonic()
            assert srv.stop() == 0
            assert time.monotonic() - started < 5  # not the 10 s graceful timeout
            with pytest.raises((EOFError, httpx.RemoteProtocolError)):
                sse.next()
    finally:
        srv.stop()
