"""The part of the runtime contract that every proxy family shares, run against each of them."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.runtimes.proxy_harness import ECHO_ACTIONS, SENTINEL, Proxy

SHOW = ["FOO", "__OW_NAMESPACE", "__OW_ACTIVATION_ID"]


def init_echo(proxy: Proxy) -> None:
    response = proxy.init(ECHO_ACTIONS[proxy.family], env={"FOO": "from-init"})
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_readiness_probe(proxy: Proxy) -> None:
    response = proxy.client.get("/")
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert response.headers["content-type"] == "application/json"


def test_init_then_run(proxy: Proxy) -> None:
    init_echo(proxy)
    response = proxy.run({"name": "Ada", "show": SHOW}, activation_id="b" * 32)

    assert response.status_code == 200
    assert response.json() == {
        "args": {"name": "Ada", "show": SHOW},
        "env": {"FOO": "from-init", "__OW_NAMESPACE": "guest", "__OW_ACTIVATION_ID": "b" * 32},
    }
    assert int(response.headers["content-length"]) == len(response.content)


def test_logs_come_before_one_sentinel_per_activation(proxy: Proxy) -> None:
    init_echo(proxy)
    for _ in range(3):
        assert proxy.run({"show": []}).status_code == 200

    assert proxy.activations("stdout") == ["", "out-line\n", "out-line\n", "out-line\n"]
    assert proxy.activations("stderr") == ["", "err-line\n", "err-line\n", "err-line\n"]


def test_runs_reuse_one_keep_alive_connection(proxy: Proxy) -> None:
    init_echo(proxy)
    with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        stream = sock.makefile("rb")
        body = b'{"value": {"n": 1}}'
        request = (
            b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        for _ in range(3):
            sock.sendall(request)
            status = stream.readline()
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            payload = stream.read(int(headers["content-length"]))
            assert status.startswith(b"HTTP/1.1 200"), status
            assert json.loads(payload)["args"] == {"n": 1}
            assert headers.get("connection", "keep-alive").lower() != "close"


def test_second_init_is_refused(proxy: Proxy) -> None:
    init_echo(proxy)
    response = proxy.init(ECHO_ACTIONS[proxy.family])

    assert response.status_code == 403
    assert response.json() == {"error": "Cannot initialize the action more than once."}
    assert proxy.run({"show": []}).status_code == 200  # the first action is still there


@pytest.mark.parametrize("path", ["/init", "/run"])
def test_malformed_json_is_a_400(proxy: Proxy, path: str) -> None:
    if path == "/run":
        init_echo(proxy)
    response = proxy.client.post(path, content=b'{"value": {')

    assert response.status_code == 400
    assert response.json()["error"].startswith("Malformed JSON request body")
    assert proxy.activations("stdout")[-1] == ""  # a sentinel is still written


def test_a_body_that_is_not_an_object_is_a_400(proxy: Proxy) -> None:
    response = proxy.client.post("/init", json=[1, 2])
    assert response.status_code == 400
    assert response.json() == {"error": "The request body must be a JSON object."}


def test_a_body_over_50_mb_is_refused_and_the_connection_closed(proxy: Proxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        sock.sendall(b"POST /init HTTP/1.1\r\nHost: x\r\nContent-Length: 52428801\r\n\r\n{}")
        reply = b""
        while chunk := sock.recv(65536):  # the proxy closes the connection after its answer
            reply += chunk

    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"exceeds 52428800 bytes" in body
    assert proxy.client.get("/").status_code == 200  # and the proxy lives on


def test_a_chunked_body_is_read(proxy: Proxy) -> None:
    init = json.dumps({"value": {"code": ECHO_ACTIONS[proxy.family]}}).encode()

    def chunks() -> Iterator[bytes]:
        for at in range(0, len(init), 7):
            yield init[at : at + 7]

    response = proxy.client.post("/init", content=chunks())  # httpx sends it chunked
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_an_unknown_path_is_a_404(proxy: Proxy) -> None:
    response = proxy.client.post("/nope", json={})
    assert response.status_code == 404
    assert "error" in response.json()


def test_the_action_directory_is_created(proxy: Proxy) -> None:
    assert proxy.action_dir.is_dir()


def test_sentinels_are_whole_lines_on_both_streams(proxy: Proxy) -> None:
    proxy.run({})
    init_echo(proxy)
    proxy.run({"show": []})
    for text in (proxy.stdout(), proxy.stderr()):
        assert text.count(SENTINEL) == 3
        assert all(line == SENTINEL for line in text.splitlines() if SENTINEL in line)
