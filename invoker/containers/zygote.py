"""The fork server of the process backend: Python proxies without interpreter start-up.

Started once per ``ProcessFactory`` as ``python zygote.py PROXY FD PARENT_PID``: it imports
the Python proxy (``runtimes/python/proxy.py``) and everything the proxy imports, says it is
ready on the socket ``FD``, then serves one request per message::

    {"port": 8123, "cwd": "/tmp/pwsk-action-x", "env": {...}}
        + fds: stdout, stderr, and the proxy's listening socket (optional)
    → {"pid": 4242}  or  {"error": "..."}

For each request it forks; the child becomes what ``python proxy.py --port PORT`` would
have been after its imports: its own session, the given working directory, environment and
standard streams, default signal dispositions, SIGKILL when the zygote dies (the zygote gets
it when the invoker dies). Forking from a process that imported the proxy costs about a
millisecond, against tens of milliseconds for a fresh interpreter.

The zygote stays single-threaded (forking with threads is unsafe) and never runs action
code: a child drops the proxy module from ``sys.modules``, so an action's own ``proxy``
module is its own. The zygote exits when its socket closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib.util
import io
import json
import os
import signal
import socket
import sys
import traceback
from types import ModuleType
from typing import Any

PR_SET_PDEATHSIG = 1
MODULE = "_pwsk_python_proxy"
MAX_MESSAGE = 1 << 20


def _load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(MODULE, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    spec.loader.exec_module(module)
    return module


def _stream(fd: int, mode: str) -> io.TextIOWrapper:
    # What `python -u` makes of a standard stream: text straight onto the raw file.
    raw = io.FileIO(fd, mode, closefd=False)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace",
                            write_through=True)


def _adopt_listener(proxy: ModuleType, fd: int) -> None:
    """Serve on the socket the invoker bound and put in listening state before the fork.

    Connections queue in its backlog from the start, so the container is ready as soon as
    it exists (no readiness polling), and no other process can take the port meanwhile.
    """
    listener = socket.socket(fileno=fd)

    def server_bind(server: Any) -> None:
        server.socket.close()
        server.socket = listener
        server.server_address = listener.getsockname()[:2]
        server.server_name, server.server_port = (str(server.server_address[0]),
                                                  server.server_address[1])

    proxy.ProxyServer.server_bind = server_bind
    proxy.ProxyServer.server_activate = lambda server: None  # already listening


def _child(proxy: ModuleType, sock: socket.socket, request: dict[str, Any],
           fds: list[int], zygote: int) -> None:
    """In the forked child: become the proxy. Never returns."""
    code = 0
    try:
        sock.close()
        os.setsid()
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != zygote:
            os._exit(1)  # the fork server died before the line above: nobody would kill us
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in (null, *fds[:2]):
            os.close(fd)
        env = {str(k): str(v) for k, v in request["env"].items()}
        os.environ.clear()
        os.environ.update(env)
        sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
        os.chdir(request["cwd"])
        # Kept as sys.__stdout__ & co., as Python does: the proxy wraps their buffers again,
        # and a dropped wrapper would close them.
        sys.stdin = sys.__stdin__ = _stream(0, "r")  # type: ignore[misc]
        sys.stdout = sys.__stdout__ = _stream(1, "w")  # type: ignore[misc]
        sys.stderr = sys.__stderr__ = _stream(2, "w")  # type: ignore[misc]
        sys.argv = [proxy.__file__ or "proxy.py", "--port", str(request["port"])]
        sys.modules.pop(MODULE, None)
        sys.modules["__main__"] = proxy  # as when proxy.py runs as the main script
        if len(fds) > 2:
            _adopt_listener(proxy, fds[2])
        proxy.main(["--port", str(request["port"])])
    except SystemExit as exc:  # the action called sys.exit: the proxy ends, as it would
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def serve(proxy_path: str, fd: int, parent: int) -> None:
    sock = socket.socket(fileno=fd)
    # SIGKILL when the invoker dies, however it dies (and if it already has, stop now).
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        return
    # The proxy's directory is what `python proxy.py` puts first on sys.path (and the proxy
    # takes it off again); this file's directory must not leak into actions' imports.
    sys.path[0] = os.path.dirname(os.path.abspath(proxy_path))
    proxy = _load(proxy_path)
    # Children are reaped by the kernel; the invoker watches each one with a pidfd.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    me = os.getpid()
    # Everything imported so far goes to the permanent generation: a child's collections
    # then never walk (and so never copy-on-write) the pages it shares with the fork server.
    gc.collect()
    gc.freeze()
    sock.send(b'{"ready": true}')
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
        except OSError:
            return
        if not message:
            return  # the invoker closed its end
        try:
            request = json.loads(message)
            if len(fds) not in (2, 3):
                raise ValueError(f"expected 2 or 3 file descriptors, got {len(fds)}")
            pid = os.fork()
        except (OSError, ValueError) as exc:
            for fd_ in fds:
                os.close(fd_)
            sock.send(json.dumps({"error": str(exc)}).encode())
            continue
        if pid == 0:
            _child(proxy, sock, request, fds, me)
        for fd_ in fds:
            os.close(fd_)
        sock.send(json.dumps({"pid": pid}).encode())


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
