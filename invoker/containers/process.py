"""Containers as local processes: the real action proxies, without isolation.

Used by ``pwsk standalone`` when no Docker engine is around, and by tests. Each "container"
is a proxy process in its own session (so pause/destroy reach its children) with its own
working directory, speaking the same HTTP contract on a loopback port. It enforces no memory
limit and shares the invoker's user: fine on a developer's machine, not for untrusted code.

Python proxies are forked from a fork server (``zygote.py``) that has already imported the
proxy, so a cold start does not pay interpreter start-up; other families (and Python, if
the fork server is off with ``PWSK_PROCESS_FORK=0`` or has died) are spawned with exec.
Forked proxies are the fork server's children and die with it (it dies with the invoker).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

from pwsk import log
from runtimes import PROXIES, command

from .base import CollectedLogs, ContainerSpec, ContainerStartError
from .logs import SENTINEL, LogBuffer

__all__ = ["SENTINEL", "ProcessContainer", "ProcessFactory"]

PR_SET_PDEATHSIG = 1
_counter = itertools.count()
ZYGOTE = Path(__file__).resolve().parent / "zygote.py"
logger = log.get("pwsk.invoker.process")


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the invoker dies, however it dies.

    Proxies run in their own session (so pause and kill reach their children) and would
    otherwise outlive a crashed invoker as orphans.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ForkServer:
    """The invoker's end of one zygote: ``spawn`` forks a Python proxy, returns its pid."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._lock = asyncio.Lock()
        self._ready = False
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.broken = False

    async def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            os.set_inheritable(theirs.fileno(), True)  # the only fd it gets but 0, 1, 2
            # posix_spawn returns once the child exists (vfork): it does not block the loop.
            pid = os.posix_spawn(  # noqa: ASYNC221
                sys.executable,
                [sys.executable, str(ZYGOTE), str(PROXIES["python"]), str(theirs.fileno()),
                 str(os.getpid())],
                # Not the invoker's environment: a forked proxy's /proc/self/environ is
                # the fork server's, and actions must not find the invoker's settings there.
                {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                 "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"},
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
                setsid=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        # Stopped and reaped on aclose, or when the factory is dropped without it.
        self._finalizer = weakref.finalize(self, _stop_zygote, ours, pid)
        return ours

    async def _call(self, sock: socket.socket, message: bytes, fds: list[int]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if not self._ready:
            hello = await asyncio.wait_for(loop.sock_recv(sock, 4096), 30)
            if not hello:
                raise ConnectionError("the fork server exited during start-up")
            self._ready = True
        socket.send_fds(sock, [message], fds)
        reply = await asyncio.wait_for(loop.sock_recv(sock, 4096), 30)
        if not reply:
            raise ConnectionError("the fork server exited")
        answer: dict[str, Any] = json.loads(reply)
        return answer

    async def spawn(self, port: int, cwd: str, env: dict[str, str], fds: list[int]) -> int:
        async with self._lock:
            try:
                sock = self._sock or await self._start()
                answer = await self._call(sock, json.dumps(
                    {"port": port, "cwd": cwd, "env": env}).encode(), fds)
            except (OSError, TimeoutError, ValueError) as exc:
                self.broken = True
                await self.aclose()
                raise ConnectionError(f"fork server: {exc}") from exc
        if "pid" not in answer:
            raise ConnectionError(f"fork server: {answer.get('error')}")
        return int(answer["pid"])

    async def aclose(self) -> None:
        if self._finalizer is not None:
            await asyncio.to_thread(self._finalizer)
        self._sock = None


def _stop_zygote(sock: socket.socket, pid: int) -> None:
    sock.close()  # the zygote exits on EOF; SIGKILL in case it is stuck
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


class _Forked:
    """A forked proxy, watched through a pidfd (it is the zygote's child, not ours)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._exited = asyncio.Event()
        self._pidfd: int | None = None
        try:
            self._pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._set_exited()
            return
        asyncio.get_running_loop().add_reader(self._pidfd, self._set_exited)

    def _set_exited(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        self.returncode = -1  # the zygote reaped it: the status is not ours to know
        self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        return -1


class ProcessContainer:
    def __init__(self, spec: ContainerSpec, api_host: str,
                 fork_server: ForkServer | None = None) -> None:
        self.spec = spec
        self._fork_server = fork_server
        self.id = f"{spec.name}_{next(_counter)}"
        self.host = "127.0.0.1"
        self.port = 0
        self._api_host = api_host
        self._dir = Path(tempfile.mkdtemp(prefix="pwsk-action-"))
        self._proc: asyncio.subprocess.Process | _Forked | None = None
        self._logs = LogBuffer()
        self._readers: list[asyncio.Task[None]] = []
        self._pipes: list[asyncio.BaseTransport] = []  # a forked proxy's stdout and stderr
        self._paused = False

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        self.port = _free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._dir),
            "LANG": "C.UTF-8",
            "PWSK_ACTION_DIR": str(self._dir / "action"),
            "PWSK_PROXY_HOST": self.host,
            "__OW_API_HOST": self._api_host,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.spec.env,
        }
        server = self._fork_server
        if self.spec.family == "python" and server is not None and not server.broken:
            try:
                await self._fork(server, env)
                return
            except ConnectionError as exc:
                logger.warning("fork server failed; spawning proxies instead", error=str(exc))
        self._proc = await asyncio.create_subprocess_exec(
            *command(self.spec.family, self.port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(self._dir),
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(self._proc.stdout, "stdout")),
            asyncio.create_task(self._read(self._proc.stderr, "stderr")),
        ]

    async def _fork(self, server: ForkServer, env: dict[str, str]) -> None:
        loop = asyncio.get_running_loop()
        # The proxy's socket, bound and listening before the fork: ready at once.
        listener = socket.socket()
        pipes = [os.pipe(), os.pipe()]
        try:
            listener.bind((self.host, 0))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            pid = await server.spawn(self.port, str(self._dir), env,
                                     [*(w for _, w in pipes), listener.fileno()])
        except BaseException:
            for r, w in pipes:
                os.close(r)
                os.close(w)
            raise
        finally:
            listener.close()  # the proxy has its own copy
        readers = []
        for r, w in pipes:
            os.close(w)
            reader = asyncio.StreamReader(limit=2**16, loop=loop)
            protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
            transport, _ = await loop.connect_read_pipe(lambda p=protocol: p,  # type: ignore[misc]
                                                        os.fdopen(r, "rb", 0))
            self._pipes.append(transport)
            readers.append(reader)
        self._proc = _Forked(pid)
        self._readers = [
            asyncio.create_task(self._read(readers[0], "stdout")),
            asyncio.create_task(self._read(readers[1], "stderr")),
        ]

    async def _read(self, pipe: asyncio.StreamReader, stream: str) -> None:
        try:
            while True:
                try:
                    raw = await pipe.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    raw = exc.partial
                    if not raw:
                        break
                except asyncio.LimitOverrunError as exc:
                    raw = await pipe.read(exc.consumed)
                self._logs.add(stream, raw.decode("utf-8", "replace").rstrip("\n"))
        finally:
            self._logs.close(stream)

    async def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pause = 0.001  # a forked proxy listens within a few ms: poll fast, then back off
        while True:
            if not self.alive:
                raise ContainerStartError(f"proxy {self.id} exited during start-up")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise ContainerStartError(f"proxy {self.id} did not listen in time") from None
                await asyncio.sleep(pause)
                pause = min(0.005, pause * 1.5)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    def _signal(self, sig: int) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)

    async def suspend(self) -> None:
        self._signal(signal.SIGSTOP)
        self._paused = True

    async def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self._paused = False

    async def destroy(self) -> None:
        if self._paused:
            self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                await self._proc.wait()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for pipe in self._pipes:
            pipe.close()
        try:
            await asyncio.to_thread(shutil.rmtree, self._dir, True)
        except OSError as exc:
            # rmtree's ignore_errors does not cover closing its own directory handle; once
            # in ~150k activations under load that close failed with EBADF (not understood
            # yet). A directory left behind is only disk space: say so, do not fail the
            # removal of the container.
            logger.warning("proxy directory not removed", directory=str(self._dir),
                           error=repr(exc))

    async def collect_logs(self, wait_s: float, sentinels: bool) -> CollectedLogs:
        return await self._logs.collect(wait_s, sentinels)


class ProcessFactory:
    def __init__(self, api_host: str, fork: bool | None = None) -> None:
        self.api_host = api_host
        if fork is None:
            fork = os.environ.get("PWSK_PROCESS_FORK", "1") != "0"
        self.fork_server = ForkServer() if fork and hasattr(os, "pidfd_open") else None

    async def create(self, spec: ContainerSpec) -> ProcessContainer:
        container = ProcessContainer(spec, self.api_host, self.fork_server)
        await container.start()
        return container

    async def cleanup(self) -> None:
        return None

    async def aclose(self) -> None:
        """Stop the fork server (it also exits with the invoker, or when dropped)."""
        if self.fork_server is not None:
            await self.fork_server.aclose()
