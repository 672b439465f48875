"""Action proxy for blackbox and native actions: the docker skeleton contract (standard library).

    GET  /      readiness probe, always 200 {"ok": true}
    POST /init  write `code` to <action dir>/exec, or extract a base64 zip holding an `exec`
    POST /run   spawn `exec '<json args>'` and answer with the last line it printed on stdout

Every run is a fresh process: the arguments go in argv[1] (left out above MAX_ARG_STRLEN)
and on stdin, the environment is the proxy's plus the init `env` plus `__OW_<KEY>` for each
run key. Stdout lines before the last one and all of stderr are the activation's logs; they are
copied to the proxy's own streams, followed by the sentinel line on each. Status codes and
messages follow apache/openwhisk-runtime-docker's actionproxy.py; `PROXY_ALLOW_REINIT=1`
allows a second /init. The HTTP server is threaded, but /init and /run go one at a time through
the serial executor, so that the logs and sentinels of two activations never interleave.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import io
import json
import os
import queue
import socket
import socketserver
import stat
import subprocess
import sys
import threading
import traceback
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
MAX_BODY_BYTES = 50 * 1024 * 1024
MAX_ARG_STRLEN = 131071  # linux/binfmts.h: a longer argv[1] makes execve fail

REINIT = "Cannot initialize the action more than once."
NO_BINARY = "The action failed to generate or locate a binary. See logs for details."
NO_BINARY_AT_RUN = "The action failed to locate a binary. See logs for details."
NOT_A_DICT = "The action did not return a dictionary or array."
BAD_ARGUMENT = "The action did not receive a dictionary or array as an argument."

Response = tuple[int, bytes]


class ProxyError(Exception):
    """A request that ends with an error status and an {"error": message} body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> Response:
        return self.status, _json({"error": self.message})


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _parse(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProxyError(400, f"Malformed JSON request body: {exc}") from None
    if not isinstance(message, dict):
        raise ProxyError(400, "The request body must be a JSON object.")
    return message


def _env_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value)


def _set_env(env: Any, key: str, value: str) -> None:
    """Set one variable, or say in the logs why it cannot be one (``=`` or NUL in the name,
    NUL in the value, text the file system encoding cannot carry)."""
    try:
        if not key or "=" in key:
            raise ValueError("illegal environment variable name")
        if "\0" in key or "\0" in value:
            raise ValueError("embedded null byte")
        os.fsencode(key), os.fsencode(value)
        env[key] = value
    except (ValueError, UnicodeError) as exc:
        _log(f"The environment variable {key[:40]!r} was not set: {exc}")


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def _write(stream: Any, data: bytes) -> None:
    """Copy the action's output byte for byte, after whatever the text layer still holds."""
    stream.flush()
    stream.buffer.write(data)


class Runtime:
    """The action's executable. Its methods run on the executor thread only."""

    def __init__(self, action_dir: Path, allow_reinit: bool) -> None:
        self.action_dir = action_dir
        self.binary = action_dir / "exec"
        self.allow_reinit = allow_reinit
        self.initialized = False

    def init(self, body: bytes) -> Response:
        if self.initialized and not self.allow_reinit:
            raise ProxyError(403, REINIT)
        value = _parse(body).get("value") or {}
        if not isinstance(value, dict):
            raise ProxyError(400, "The init 'value' must be a JSON object.")
        env = value.get("env") or {}
        if not isinstance(env, dict):
            raise ProxyError(400, "The init 'env' must be a JSON object.")
        for key, val in env.items():
            _set_env(os.environ, str(key), _env_string(val))

        # Without code, an `exec` already in the image (a blackbox action) is used as it is.
        code = value.get("code")
        if isinstance(code, str) and code:
            if value.get("binary"):
                self._unzip(code)
            else:
                self.binary.write_text(code, encoding="utf-8")
            if self.binary.is_file():
                self.binary.chmod(self.binary.stat().st_mode | 0o755)
        if not self._verify():
            _log(f"The action has no executable file {self.binary}.")
            raise ProxyError(502, NO_BINARY)
        self.initialized = True
        return 200, _json({"ok": True})

    def run(self, body: bytes) -> Response:
        if not self._verify():
            raise ProxyError(502, NO_BINARY_AT_RUN)
        message = _parse(body)
        args = message.get("value")
        if args is None:
            args = {}
        if not isinstance(args, dict | list):
            raise ProxyError(404, BAD_ARGUMENT)
        env = dict(os.environ)
        for key, val in message.items():
            if key != "value":
                _set_env(env, f"__OW_{key.upper()}", _env_string(val))

        payload = json.dumps(args)  # ASCII, so its length in characters is its length in bytes
        argv = [str(self.binary)]
        if len(payload) <= MAX_ARG_STRLEN:
            argv.append(payload)
        try:
            process = subprocess.run(
                argv, input=payload.encode(), capture_output=True, env=env, cwd=self.action_dir
            )
        except OSError as exc:
            _log(f"Cannot run the action: {exc}")
            raise ProxyError(502, NOT_A_DICT) from None

        # The last stdout line is the result; a trailing newline does not start a new line.
        out = process.stdout
        cut = out.rfind(b"\n", 0, len(out) - 1)
        logs, last = (out[: cut + 1], out[cut + 1 :]) if cut != -1 else (b"", out)
        errors = process.stderr
        if errors and not errors.endswith(b"\n"):
            errors += b"\n"  # the sentinel must start a line of its own
        _write(sys.stdout, logs)
        _write(sys.stderr, errors)
        try:
            result = json.loads(last)
        except (UnicodeDecodeError, json.JSONDecodeError):
            result = None
        if not isinstance(result, dict | list):
            if last.strip():  # like upstream, the rejected line stays visible in the logs
                _write(sys.stdout, last.strip() + b"\n")
            raise ProxyError(502, NOT_A_DICT)
        return 200, _json(result)

    def _verify(self) -> bool:
        return self.binary.is_file() and os.access(self.binary, os.X_OK)

    def _unzip(self, code: str) -> None:
        try:
            with zipfile.ZipFile(io.BytesIO(base64.b64decode(code))) as archive:
                for member in archive.infolist():
                    path = Path(archive.extract(member, self.action_dir))
                    # zipfile drops the permission bits; executables need them back.
                    mode = stat.S_IMODE(member.external_attr >> 16)
                    if mode and not member.is_dir():
                        path.chmod(mode | 0o600)
        except (binascii.Error, ValueError, zipfile.BadZipFile, OSError) as exc:
            _log(f"The action's zip file could not be extracted: {exc}")
            raise ProxyError(502, NO_BINARY) from None


class _Job:
    def __init__(self, work: Callable[[], Response]) -> None:
        self.work = work
        self.done = threading.Event()
        self.response: Response = (500, b"")


class Executor:
    """Runs jobs one at a time on the thread that calls ``serve``."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()

    def submit(self, work: Callable[[], Response]) -> Response:
        job = _Job(work)
        self._jobs.put(job)
        job.done.wait()
        return job.response

    def serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job.response = job.work()
            except ProxyError as exc:
                job.response = exc.response()
            except Exception as exc:  # a bug in the proxy must not stop it
                traceback.print_exc()
                job.response = ProxyError(500, f"Internal error: {exc}").response()
            _write_sentinels()
            job.done.set()


def _write_sentinels() -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    for stream in (sys.stdout, sys.stderr):
        stream.write(SENTINEL + "\n")
        stream.flush()


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], runtime: Runtime, executor: Executor) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.routes: dict[str, Callable[[bytes], Response]] = {
            "/init": runtime.init,
            "/run": runtime.run,
        }
        self.executor = executor
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can hang without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        # Without it a keep-alive client waits ~40 ms (Nagle + delayed ACK) on every response.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # stderr belongs to the action's logs; a dropped client is not worth a traceback


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ProxyServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/":
            self._send(200, _json({"ok": True}))
        else:
            self._send(*ProxyError(404, "Not found.").response())

    def do_POST(self) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        failure: ProxyError | None = None
        try:
            body = self._read_body()
        except ProxyError as exc:
            body, failure = b"", exc
            self.close_connection = True  # the rest of the body is still on the wire
        if route is None:
            self._send(*(failure or ProxyError(404, "Not found.")).response())
            return

        def work() -> Response:
            if failure is not None:
                raise failure
            assert route is not None
            return route(body)

        self._send(*self.server.executor.submit(work))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        header = self.headers.get("Content-Length")
        if header is None:
            return b""
        try:
            length = int(header)
            if length < 0:
                raise ValueError(header)
        except ValueError:
            raise ProxyError(400, f"Invalid Content-Length: {header!r}.") from None
        if length > MAX_BODY_BYTES:
            raise ProxyError(413, f"The request body exceeds {MAX_BODY_BYTES} bytes.")
        body = self.rfile.read(length)
        if len(body) < length:
            raise ProxyError(400, "The request body is incomplete.")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProxyError(400, "Invalid chunked request body.") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise ProxyError(413, f"The request body exceeds {MAX_BODY_BYTES} bytes.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # stdout and stderr carry the action's logs only


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    port = parser.parse_args(argv).port
    host = os.environ.get("PWSK_PROXY_HOST", "0.0.0.0")
    action_dir = Path(os.environ.get("PWSK_ACTION_DIR", "/action")).resolve()
    action_dir.mkdir(parents=True, exist_ok=True)
    os.chdir(action_dir)

    runtime = Runtime(action_dir, allow_reinit=os.environ.get("PROXY_ALLOW_REINIT") == "1")
    executor = Executor()
    server = ProxyServer((host, port), runtime, executor)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        executor.serve()


if __name__ == "__main__":
    main()
