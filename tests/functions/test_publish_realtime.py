"""publish-realtime keeps its connection to the channel between activations of a warm
container, and replaces one the server closed while it was idle without losing the reading."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from functions.brewery import common, publish_realtime


class _KeepAliveChannel(BaseHTTPRequestHandler):
    """An HTTP/1.1 channel noting which client connection each event came on; it closes a
    connection after answering when ``close_after`` is set (as an idle timeout would)."""

    protocol_version = "HTTP/1.1"
    got: list[tuple[int, dict[str, Any]]] = []
    close_after = False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).got.append((self.client_address[1], body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if type(self).close_after:
            self.close_connection = True  # without saying so: the client finds out later

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def channel() -> Iterator[str]:
    _KeepAliveChannel.got, _KeepAliveChannel.close_after = [], False
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveChannel)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/realtime/brewery"
    finally:
        srv.shutdown()
        srv.server_close()
        while common._kept:
            common._kept.popitem()[1].close()


def _reading(ts: int, url: str) -> dict[str, Any]:
    return {"tank": "boil", "sensor": "temperature", "value": 99.5, "unit": "C",
            "timestamp": ts, "realtime_url": url}


def test_one_connection_serves_many_readings(channel: str) -> None:
    for ts in range(1, 6):
        assert publish_realtime.main(_reading(ts, channel))["published"] is True
    ports = {port for port, _ in _KeepAliveChannel.got}
    assert [body["timestamp"] for _, body in _KeepAliveChannel.got] == [1, 2, 3, 4, 5]
    assert len(ports) == 1, ports


def test_a_connection_closed_while_idle_is_replaced_at_once(
        channel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # One attempt: a stale connection must not use it up.
    monkeypatch.setattr(publish_realtime, "ATTEMPTS", 1)
    _KeepAliveChannel.close_after = True
    for ts in range(1, 4):
        out = publish_realtime.main(_reading(ts, channel))
        assert out["published"] is True and out["timestamp"] == ts
    got = _KeepAliveChannel.got
    assert [body["timestamp"] for _, body in got] == [1, 2, 3]  # each once, none lost
    assert len({port for port, _ in got}) == 3


def test_a_url_that_is_not_http_is_an_error_not_a_crash() -> None:
    out = publish_realtime.main(_reading(1, "ftp://example.invalid/realtime/brewery"))
    assert out["error"].startswith("the realtime channel's URL is not usable")


def test_a_broken_answer_is_unreachable_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish_realtime, "ATTEMPTS", 2)
    monkeypatch.setattr(publish_realtime, "PAUSE_S", 0.01)
    server = socket.create_server(("127.0.0.1", 0))

    def answer_garbage() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"this is not HTTP\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/realtime/brewery"
        out = publish_realtime.main(_reading(1, url))
    finally:
        server.close()
    assert out["error"].startswith("the realtime channel is unreachable: a broken answer"), out
