"""Action proxy for the ``python:3.11`` kind (standard library only).

It speaks the OpenWhisk runtime contract on one port:

    GET  /      readiness probe, always 200 {"ok": true}
    POST /init  load the action: a source string, or a base64 zip with __main__.py at its root
    POST /run   call main(args) and answer with its JSON result

The HTTP server is threaded, but user code always runs on the main thread, one request at a
time: the serial executor below is the lock that serialises /init and /run, and the main
thread is where Python code expects to be (``signal.alarm``, ``sys.exit``). After every /init
and /run the sentinel line is written to stdout and stderr, after the action's own output and
before the response, so that the invoker can cut the logs of one activation from the next.

Status codes follow the upstream runtimes (the Go ActionLoop proxy, its python launcher and the
docker skeleton): 403 for a second init, a missing code or a run before init; 502 for a broken
action or a result that is not a JSON object or array; 200 with {"error": ...} when main raises.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import importlib.machinery
import importlib.util
import inspect
import io
import json
import os
import queue
import site
import socket
import socketserver
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
# The upstream launcher's name for the user module, so `if __name__ == "__main__":` stays off.
MODULE_NAME = "main__"

NOT_INITIALIZED = "System not initialized."
REINIT = "Cannot initialize the action more than once."
NO_CODE = "Missing main/no code to execute."
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
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


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


def _set_env(key: str, value: str) -> None:
    """Set one variable, or say in the logs why it cannot be one (``=`` or NUL in the name,
    NUL in the value, text the file system encoding cannot carry)."""
    try:
        if not key or "=" in key:
            raise ValueError("illegal environment variable name")
        os.environ[key] = value
    except (ValueError, UnicodeError) as exc:
        print(f"The environment variable {key[:40]!r} was not set: {exc}", file=sys.stderr)


def _print_user_traceback(exc: BaseException) -> None:
    """Print the traceback without the proxy's and importlib's own frames."""
    tb = exc.__traceback__
    while tb is not None and (
        tb.tb_frame.f_code.co_filename == __file__
        or tb.tb_frame.f_code.co_filename.startswith("<frozen importlib")
    ):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb, file=sys.stderr)


class Runtime:
    """The loaded action. Its methods run on the executor thread only."""

    def __init__(self, action_dir: Path) -> None:
        self.action_dir = action_dir
        self.main: Callable[[Any], Any] | None = None

    def init(self, body: bytes) -> Response:
        if self.main is not None:
            raise ProxyError(403, REINIT)
        value = _parse(body).get("value") or {}
        if not isinstance(value, dict):
            raise ProxyError(400, "The init 'value' must be a JSON object.")
        code = value.get("code")
        if not isinstance(code, str) or not code:
            raise ProxyError(403, NO_CODE)
        main = value.get("main") or "main"
        if not isinstance(main, str):
            raise ProxyError(400, "The init 'main' must be a string.")
        env = value.get("env") or {}
        if not isinstance(env, dict):
            raise ProxyError(400, "The init 'env' must be a JSON object.")
        for key, val in env.items():
            _set_env(str(key), _env_string(val))

        source = self._unzip(code) if value.get("binary") else self._write(code)
        self._activate_virtualenv()
        if str(self.action_dir) not in sys.path:
            sys.path.insert(0, str(self.action_dir))
        try:
            self.main = self._load(source, main)
        except ProxyError:
            self._forget_modules()  # a retried /init must not get the failed one's modules back
            raise
        return 200, _json({"ok": True})

    def run(self, body: bytes) -> Response:
        if self.main is None:
            raise ProxyError(403, NOT_INITIALIZED)
        message = _parse(body)
        args = message.get("value")
        if args is None:
            args = {}
        if not isinstance(args, dict | list):
            raise ProxyError(404, BAD_ARGUMENT)
        for key, val in message.items():
            if key != "value":
                _set_env(f"__OW_{key.upper()}", _env_string(val))

        # As in the upstream launcher: an exception is the action's own error (status 1),
        # while SystemExit and KeyboardInterrupt end the proxy.
        try:
            result = self.main(args)
            if inspect.iscoroutine(result):
                result = asyncio.run(result)
        except Exception as exc:
            _print_user_traceback(exc)
            result = {"error": str(exc)}
        if not isinstance(result, dict | list):
            print(f"The action returned {type(result).__name__}: {result!r:.200}", file=sys.stderr)
            raise ProxyError(502, NOT_A_DICT)
        try:
            return 200, _json(result)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ProxyError(502, f"The action returned a result that is not JSON: {exc}") from None

    def _write(self, code: str) -> Path:
        source = self.action_dir / "__main__.py"
        source.write_text(code, encoding="utf-8")
        return source

    def _unzip(self, code: str) -> Path:
        try:
            archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(code)))
            with archive:
                archive.extractall(self.action_dir)
        except (binascii.Error, ValueError, zipfile.BadZipFile, OSError) as exc:
            message = f"Invalid action: the code is not a valid zip file ({exc})."
            raise ProxyError(502, message) from None
        # The upstream compile script also accepts an `exec` file as the main module.
        for name in ("__main__.py", "exec"):
            if (self.action_dir / name).is_file():
                return self.action_dir / name
        raise ProxyError(502, "Invalid action: the zip file does not include __main__.py.")

    def _activate_virtualenv(self) -> None:
        venv = self.action_dir / "virtualenv"
        if not venv.is_dir():
            return
        before = list(sys.path)
        candidates = [*sorted(venv.glob("lib/python*/site-packages")), venv / "Lib/site-packages"]
        for packages in candidates:
            if packages.is_dir():
                site.addsitedir(str(packages))
        # Packages shipped with the action win over the ones installed in the image.
        added = [entry for entry in sys.path if entry not in before]
        sys.path[:] = added + before

    def _forget_modules(self) -> None:
        prefix = str(self.action_dir) + os.sep
        for name, module in list(sys.modules.items()):
            if (getattr(module, "__file__", None) or "").startswith(prefix):
                del sys.modules[name]

    def _load(self, source: Path, main: str) -> Callable[[Any], Any]:
        loader = importlib.machinery.SourceFileLoader(MODULE_NAME, str(source))
        spec = importlib.util.spec_from_loader(MODULE_NAME, loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module  # dataclasses and pickle look the module up here
        try:
            loader.exec_module(module)
        except SyntaxError as exc:
            _print_user_traceback(exc)
            raise ProxyError(
                502, f"Invalid action: syntax error in {source.name}, line {exc.lineno}: {exc.msg}"
            ) from None
        except Exception as exc:
            _print_user_traceback(exc)
            raise ProxyError(
                502, f"Invalid action: loading {source.name} failed: {type(exc).__name__}: {exc}"
            ) from None
        function = getattr(module, main, None)
        if function is None or not callable(function):
            what = "not found" if function is None else "not callable"
            raise ProxyError(502, f"Invalid action: function '{main}' is {what} in {source.name}.")
        return function  # type: ignore[no-any-return]


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


class _Stdio(io.TextIOWrapper):
    """A standard stream that remembers whether the last text written to it ended a line."""

    at_line_start = True

    def write(self, text: str) -> int:
        written = super().write(text)
        if text:
            self.at_line_start = text.endswith("\n")
        return written


_STDIO: list[_Stdio] = []


def _install_stdio() -> None:
    """Replace sys.stdout and sys.stderr with UTF-8 streams that track line starts."""
    for name in ("stdout", "stderr"):
        old = getattr(sys, name)
        old.flush()
        stream = _Stdio(
            old.buffer,
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=old.line_buffering,
            write_through=old.write_through,
        )
        setattr(sys, name, stream)
        _STDIO.append(stream)


def _write_sentinels() -> None:
    # The action may have swapped sys.stdout; the sentinels go to the real streams, after
    # whatever is pending, on a line of their own (the invoker matches whole lines).
    for stream in (sys.stdout, sys.stderr, *_STDIO):
        stream.flush()
    for stream in _STDIO:
        stream.write(SENTINEL + "\n" if stream.at_line_start else "\n" + SENTINEL + "\n")
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
    # The proxy's own directory must not shadow the action's modules.
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    _install_stdio()

    runtime = Runtime(action_dir)
    executor = Executor()
    server = ProxyServer((host, port), runtime, executor)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        executor.serve()


if __name__ == "__main__":
    main()
