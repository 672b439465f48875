"""Containers as local processes: the real action proxies, without isolation.

Used by ``pwsk standalone`` when no Docker engine is around, and by tests. Each "container"
is a proxy process in its own session (so pause/destroy reach its children) with its own
working directory, speaking the same HTTP contract on a loopback port. It enforces no memory
limit and shares the invoker's user: fine on a developer's machine, not for untrusted code.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

from runtimes import command

from .base import CollectedLogs, ContainerSpec, ContainerStartError
from .logs import SENTINEL, LogBuffer

__all__ = ["SENTINEL", "ProcessContainer", "ProcessFactory"]

PR_SET_PDEATHSIG = 1
_counter = itertools.count()


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


class ProcessContainer:
    def __init__(self, spec: ContainerSpec, api_host: str) -> None:
        self.spec = spec
        self.id = f"{spec.name}_{next(_counter)}"
        self.host = "127.0.0.1"
        self.port = 0
        self._api_host = api_host
        self._dir = Path(tempfile.mkdtemp(prefix="pwsk-action-"))
        self._proc: asyncio.subprocess.Process | None = None
        self._logs = LogBuffer()
        self._readers: list[asyncio.Task[None]] = []
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
        while True:
            if not self.alive:
                raise ContainerStartError(f"proxy {self.id} exited during start-up")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise ContainerStartError(f"proxy {self.id} did not listen in time") from None
                await asyncio.sleep(0.005)
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
        await asyncio.to_thread(shutil.rmtree, self._dir, True)

    async def collect_logs(self, wait_s: float, sentinels: bool) -> CollectedLogs:
        return await self._logs.collect(wait_s, sentinels)


class ProcessFactory:
    def __init__(self, api_host: str) -> None:
        self.api_host = api_host

    async def create(self, spec: ContainerSpec) -> ProcessContainer:
        container = ProcessContainer(spec, self.api_host)
        await container.start()
        return container

    async def cleanup(self) -> None:
        return None
