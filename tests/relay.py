"""A TCP relay, so that actions running in Docker reach a service bound to the host's loopback.

In a container, ``127.0.0.1`` is the container's own. The distributed stack listens on the
host's address on the ``pwsk`` Docker bridge (``urlsplit(server.url).hostname``); a relay
bound there forwards each connection to the loopback service::

    with Relay(bridge_host, ("127.0.0.1", 5984)) as relay:
        url = relay.rewrite("http://127.0.0.1:5984")   # http://<bridge>:<port>

``reachable(url, host)`` does that only when it is needed (a loopback URL and a non-loopback
host); otherwise it yields the URL unchanged.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost")


class _Pipe(socketserver.BaseRequestHandler):
    """Copies one TCP connection to ``server.target`` and back."""

    def handle(self) -> None:
        upstream = socket.create_connection(self.server.target, timeout=30)  # type: ignore[attr-defined]

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
        back.start()
        pump(self.request, upstream)
        back.join(timeout=30)
        upstream.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    target: tuple[str, int]


class Relay:
    """Listens on ``(host, port or a free one)`` and forwards to ``target`` until closed."""

    def __init__(self, host: str, target: tuple[str, int], port: int = 0) -> None:
        self._server = _Server((host, port), _Pipe)
        self._server.target = target
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def rewrite(self, url: str) -> str:
        """``url`` with its host and port replaced by the relay's."""
        return urlsplit(url)._replace(netloc=f"{self.host}:{self.port}").geturl()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def reachable(url: str, host: str) -> Iterator[str]:
    """``url`` as seen from where ``host`` is reachable: relayed when ``url`` is on loopback
    and ``host`` is not (actions in Docker), else unchanged (actions as local processes)."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK or host in LOOPBACK:
        yield url
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with Relay(host, (parts.hostname or "127.0.0.1", port)) as relay:
        yield relay.rewrite(url)
