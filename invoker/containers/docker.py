"""Containers on a Docker engine: one hardened container per action instance (spec §4.1).

The invoker talks to the Engine API over its unix socket with one ``httpx.AsyncClient``:
nothing blocks the event loop. Each container gets

- the runtime image of its kind (``pwsk.entities.RUNTIMES``), the skeleton image for native
  blackbox actions, or the action's own image (run if present, else pulled);
- OpenWhisk's limits and then some: memory = swap = the action's memory, cpu shares in
  proportion to it, ``pids-limit 1024``, ``nofile 1024``, ``no-new-privileges``, every
  capability dropped, the image's non-root user;
- a read-only root filesystem. What the proxies and actions may write is a tmpfs of the
  action's memory size (its pages count against the memory limit): ``/tmp`` (also ``HOME``)
  and ``/action``, where the proxies put the action's code. An action's own image keeps the
  ``/action`` it ships (an ``exec`` placed there by its Dockerfile): there ``/action`` is an
  anonymous volume, filled from the image and removed with the container;
- the dedicated bridge network ``pwsk``, created on first use with inter-container traffic
  off, so actions cannot reach each other;
- the labels ``pwsk.invoker=<id>``, by which ``cleanup`` finds a crashed invoker's leftovers.

The invoker reaches the proxy at the container's IP on port 8080: bridge addresses route
from the host on Linux. With ``publish=True`` port 8080 is published on a loopback port
instead, for an invoker that cannot route to the bridge (Docker Desktop, rootless Docker).
A container is ready when the proxy answers ``GET /`` with 200: a published port accepts
TCP before the proxy listens, so a TCP connect proves nothing.

``__OW_API_HOST`` must be reachable from inside a container, where 127.0.0.1 is the
container itself: a loopback API host is rewritten to the host's address on the ``pwsk``
bridge (its gateway), unless ``api_host_for_containers`` says otherwise. The API server
must then listen on that address too (0.0.0.0, or the gateway).

Logs come from one followed ``/logs`` stream per container (8-byte frame headers multiplex
stdout and stderr), split into lines in the same ``LogBuffer`` as the process backend's.

When the engine goes away (dockerd killed or restarting), running containers live on in
their shims: warm ones keep serving; their log streams are followed again once the engine
answers (lines written meanwhile are lost, and no run waits for sentinels meanwhile); a
paused one cannot be resumed (``resume`` raises) and new ones cannot start; removals wait
for the engine (``REMOVE_RETRY_S``). A container the restart killed ends its log stream,
so it is no longer ``alive``. ``DockerFactory.health`` says whether the engine answers.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import itertools
import os
import re
import socket
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from pwsk import log
from pwsk.entities import BLACKBOX, RUNTIMES, SKELETON_IMAGE, is_skeleton

from .base import CollectedLogs, ContainerSpec, ContainerStartError
from .logs import LineSplitter, LogBuffer

__all__ = ["DockerContainer", "DockerError", "DockerFactory", "ImageUnavailable",
           "engine_available", "socket_path"]

logger = log.get("pwsk.invoker.docker")

API = "/v1.41"  # Docker Engine 20.10 and newer
PROXY_PORT = 8080
NETWORK = "pwsk"
LABEL = "pwsk.invoker"
ACTION_DIR = "/action"  # where the proxies keep the action (PWSK_ACTION_DIR in the images)
MIB = 1024 * 1024
ENGINE_RETRY_S = 0.5  # how often a lost log stream or a removal tries the engine again
REMOVE_RETRY_S = 120.0  # how long a removal waits for an engine that does not answer
_LOOPBACK = {"localhost", "0.0.0.0", "::", "::1"}
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_.-]+")


class DockerError(Exception):
    """The engine answered a request with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"docker engine: {status} {message}")
        self.status = status
        self.message = message


class ImageUnavailable(ContainerStartError):
    """An action's own image is neither present nor pullable: the developer's error."""

    developer_error = True


def socket_path() -> str:
    """The engine's socket: ``DOCKER_HOST`` if it names a unix socket, else the default."""
    host = os.environ.get("DOCKER_HOST", "")
    return host.removeprefix("unix://") if host.startswith("unix://") else "/var/run/docker.sock"


def engine_available(path: str | None = None, timeout_s: float = 1.0) -> bool:
    """Whether an engine answers ``/_ping`` (blocking: for start-up decisions only)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(path or socket_path())
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")) and reply.endswith(b"OK")


def _builtin(image: str) -> bool:
    return image == SKELETON_IMAGE or any(rt.image == image for rt in RUNTIMES)


def image_for(spec: ContainerSpec) -> str:
    if spec.family == BLACKBOX:
        return SKELETON_IMAGE if spec.image is None or is_skeleton(spec.image) else spec.image
    for runtime in RUNTIMES:
        if runtime.kind == spec.kind:
            return runtime.image
    raise ContainerStartError(f"no runtime image for kind {spec.kind!r}")


def _split_image(image: str) -> tuple[str, str]:
    """``repo[:tag]`` or ``repo@digest`` → (fromImage, tag) for ``/images/create``."""
    if "@" in image:
        return image, ""
    repo, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return repo, tag
    return image, "latest"


_seconds_cache: dict[bytes, int] = {}


def _parse_stamp(stamp: bytes) -> int | None:
    """Docker's RFC 3339 UTC timestamp with up to 9 decimals → epoch nanoseconds."""
    if len(stamp) < 20 or not stamp.endswith(b"Z"):
        return None
    whole, frac = stamp[:19], stamp[20:-1] if stamp[19:20] == b"." else b""
    seconds = _seconds_cache.get(whole)
    if seconds is None:
        try:
            seconds = calendar.timegm(time.strptime(whole.decode(), "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            return None
        if len(_seconds_cache) > 256:
            _seconds_cache.clear()
        _seconds_cache[whole] = seconds
    nanos = int(frac.ljust(9, b"0")[:9]) if frac.isdigit() else 0
    return seconds * 1_000_000_000 + nanos


def _error(resp: httpx.Response) -> DockerError:
    try:
        message = str(orjson.loads(resp.content).get("message", ""))
    except (orjson.JSONDecodeError, AttributeError):
        message = resp.text[:300]
    return DockerError(resp.status_code, message)


class _Engine:
    """The few Engine API calls we make, over one keep-alive client."""

    def __init__(self, path: str) -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=path),
            base_url=f"http://docker{API}",
            timeout=httpx.Timeout(60.0, connect=5.0),
            # Every container holds one connection for its log stream.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
        )

    async def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   body: Any = None) -> Any:
        content = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            resp = await self.http.request(method, path, params=params, content=content,
                                           headers=headers)
        except httpx.HTTPError as exc:
            raise DockerError(0, str(exc) or type(exc).__name__) from exc
        if resp.status_code >= 400:
            raise _error(resp)
        if not resp.content:
            return None
        return orjson.loads(resp.content)

    async def pull(self, image: str) -> None:
        """Pull ``image``; the engine streams progress lines, any of which may be an error."""
        repo, tag = _split_image(image)
        params = {"fromImage": repo, **({"tag": tag} if tag else {})}
        try:
            async with self.http.stream("POST", "/images/create", params=params,
                                        timeout=httpx.Timeout(600.0, connect=5.0)) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    raise _error(resp)
                async for line in resp.aiter_lines():
                    if not line.strip():
                        continue
                    with contextlib.suppress(orjson.JSONDecodeError):
                        event = orjson.loads(line)
                        if isinstance(event, dict) and event.get("error"):
                            raise DockerError(500, str(event["error"]))
        except httpx.HTTPError as exc:
            raise DockerError(0, str(exc) or type(exc).__name__) from exc


async def _remove(engine: _Engine, container_id: str, name: str) -> None:
    """Force removal (it kills first, paused or not). While the engine does not answer
    (dockerd restarting) it tries again for up to ``REMOVE_RETRY_S``: else the container
    would be left behind, dead or alive, until the invoker restarts."""
    deadline = time.monotonic() + REMOVE_RETRY_S
    while True:
        try:
            await engine.call("DELETE", f"/containers/{container_id}",
                              params={"force": "1", "v": "1"})
            return
        except DockerError as exc:
            if exc.status in (404, 409):  # gone, or removal already under way
                return
            if exc.status != 0 or time.monotonic() >= deadline:
                logger.warning("docker remove failed", container=name, error=exc.message)
                return
        await asyncio.sleep(ENGINE_RETRY_S)


class DockerContainer:
    """One running container and the log stream that follows it."""

    def __init__(self, engine: _Engine, container_id: str, name: str) -> None:
        self.id = container_id
        self.name = name
        self.host = ""
        self.port = PROXY_PORT
        self._engine = engine
        self._logs = LogBuffer()
        self._reader: asyncio.Task[None] | None = None
        self._removed = False
        self._paused = False
        # Pause and unpause one at a time: a resume that came while a pause was still on its
        # way to the engine saw "not paused", skipped the unpause, and the run that followed
        # waited its whole time limit on a frozen container.
        self._pause_lock = asyncio.Lock()
        self._stream_lost = False  # the engine went away: its log stream awaits it

    @property
    def alive(self) -> bool:
        # The followed log stream ends when the container stops.
        return not self._removed and self._reader is not None and not self._reader.done()

    def follow_logs(self) -> None:
        self._reader = asyncio.create_task(self._follow(), name=f"logs {self.name}")

    async def _follow(self) -> None:
        """Read the log stream until the container stops.

        If the engine goes away (dockerd killed or restarted) the container may live on:
        the stream is followed again once the engine answers, from that moment on (lines
        written meanwhile are lost; replaying them would hand an earlier activation's lines,
        sentinels included, to the next one). A restart without live-restore has killed the
        container: the new stream ends at once, and the container is no longer ``alive``.
        """
        splitters = {1: LineSplitter(self._logs, "stdout"), 2: LineSplitter(self._logs, "stderr")}
        since: str | None = None
        try:
            while not await self._follow_once(splitters, since):
                await asyncio.sleep(ENGINE_RETRY_S)
                since = f"{time.time():.9f}"
        finally:
            for splitter in splitters.values():
                splitter.close()

    async def _follow_once(self, splitters: dict[int, LineSplitter], since: str | None) -> bool:
        """One log stream; False when the engine went away before the container stopped."""
        params = {"follow": "1", "stdout": "1", "stderr": "1", "timestamps": "1"}
        if since is not None:
            params["since"] = since
        try:
            async with self._engine.http.stream(
                    "GET", f"/containers/{self.id}/logs", params=params,
                    timeout=httpx.Timeout(None, connect=5.0)) as resp:
                if resp.status_code != 200:
                    return True
                self._stream_lost = False
                buf = bytearray()
                async for chunk in resp.aiter_raw():
                    buf += chunk
                    pos = 0
                    # Frames: 1 byte stream (1 stdout, 2 stderr), 3 zero bytes, 4 bytes size;
                    # with timestamps each payload starts with "<RFC 3339 time> ".
                    while len(buf) - pos >= 8:
                        size = int.from_bytes(buf[pos + 4:pos + 8], "big")
                        if len(buf) - pos - 8 < size:
                            break
                        splitter = splitters.get(buf[pos])
                        payload = bytes(buf[pos + 8:pos + 8 + size])
                        pos += 8 + size
                        if splitter is not None:
                            stamp, _, data = payload.partition(b" ")
                            splitter.feed(data, _parse_stamp(stamp))
                    del buf[:pos]
        except (httpx.HTTPError, OSError) as exc:
            self._stream_lost = True
            if self._removed:
                return True
            if since is None:
                logger.warning("log stream lost: following it again once the engine answers",
                               container=self.name, error=str(exc))
            return False
        return True

    async def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.alive:
                # Give the log stream a moment to deliver the proxy's last words.
                await asyncio.sleep(0.05)
                tail = " | ".join(self._logs.tail(5))
                raise ContainerStartError(f"container {self.name} exited during start-up"
                                          + (f": {tail}" if tail else ""))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ContainerStartError(f"proxy in {self.name} did not answer in time")
            if await self._probe(min(remaining, 1.0)):
                return
            await asyncio.sleep(0.005)

    async def _probe(self, timeout_s: float) -> bool:
        """One ``GET /``: True on a 200."""
        writer = None
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(b"GET / HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n")
                await writer.drain()
                status = await reader.readline()
        except (OSError, TimeoutError):
            return False
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        return status.split(None, 2)[1:2] == [b"200"]

    async def suspend(self) -> None:
        # A container that died meanwhile fails its next /run, which destroys it; one the
        # engine could not pause (the engine is down) runs on: neither is the pool's concern.
        async with self._pause_lock:
            try:
                await self._engine.call("POST", f"/containers/{self.id}/pause")
            except DockerError as exc:
                logger.warning("docker call failed", call="pause", container=self.name,
                               error=exc.message)
                return
            self._paused = True

    async def resume(self) -> None:
        """Unpause; ``ContainerStartError`` if the container stays paused (the engine is
        down, or the container is gone): a run there would only time out."""
        async with self._pause_lock:
            if not self._paused:
                return
            try:
                await self._engine.call("POST", f"/containers/{self.id}/unpause")
            except DockerError as exc:
                if exc.status != 409 or "not paused" not in exc.message:
                    raise ContainerStartError(f"resuming {self.name}: {exc}") from exc
            self._paused = False

    async def destroy(self) -> None:
        if self._removed:
            return
        self._removed = True
        await _remove(self._engine, self.id, self.name)
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), 2.0)
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def collect_logs(self, wait_s: float, sentinels: bool) -> CollectedLogs:
        # Without a log stream (the engine is away) no sentinel can come: no waiting.
        return await self._logs.collect(0.0 if self._stream_lost else wait_s, sentinels)

    async def stop_cause(self, wait_s: float = 0.0) -> str | None:
        """Why this container's proxy went away: ``"oom"`` when the kernel killed a process
        of it for its memory limit, ``"killed"`` when its proxy (pid 1, which no signal from
        inside the container can kill) got SIGKILL from outside (the engine restarted
        without live-restore, or an operator), None when it exited by itself or is unknown.

        The engine records it when the container stops; ``wait_s`` gives a container whose
        proxy just dropped its connection that long to be seen stopped (and an engine that
        is restarting that long to answer). Our own removal is none of these.
        """
        deadline = time.monotonic() + wait_s
        while True:
            try:
                info = await self._engine.call("GET", f"/containers/{self.id}/json")
            except DockerError as exc:
                if exc.status != 0 or time.monotonic() >= deadline:
                    return None
                await asyncio.sleep(0.1)
                continue
            state = info.get("State") or {}
            if state.get("OOMKilled"):
                return "oom"
            if not state.get("Running"):
                killed = state.get("ExitCode") == 137 and not self._removed
                return "killed" if killed else None
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)


class DockerFactory:
    """Creates hardened action containers on the engine behind ``socket``.

    ``invoker`` labels and names the containers (one id per invoker on a host);
    ``user_memory_mb`` is the pool's budget, against which cpu shares are proportioned;
    ``api_host_for_containers`` overrides the rewritten ``__OW_API_HOST``.
    """

    runs_images = True  # the pool may run actions' own images here

    def __init__(self, api_host: str, *, invoker: str | int = 0, socket: str | None = None,
                 network: str = NETWORK, api_host_for_containers: str | None = None,
                 user_memory_mb: int = 2048, publish: bool = False) -> None:
        self.api_host = api_host
        self.invoker = str(invoker)
        self.network = network
        self.user_memory_mb = user_memory_mb
        self.publish = publish
        self.gateway = ""
        self._container_api_host = api_host_for_containers
        self._engine = _Engine(socket or socket_path())
        self._ready = asyncio.Lock()
        self._prepared = False
        self._counter = itertools.count()
        self._removals: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        await self._engine.http.aclose()

    async def ping(self) -> bool:
        try:
            resp = await self._engine.http.get("/_ping")
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    async def health(self) -> dict[str, str]:
        """``{"status": "up"}`` while the engine answers ``/_ping``, else ``down`` and why
        (containers can neither start nor be removed then; running ones may still answer)."""
        try:
            resp = await self._engine.http.get("/_ping", timeout=2.0)
        except httpx.HTTPError as exc:
            return {"status": "down", "error": f"the Docker engine does not answer: "
                                               f"{str(exc) or type(exc).__name__}"}
        if resp.status_code != 200:
            return {"status": "down", "error": f"the Docker engine's /_ping: "
                                               f"{resp.status_code}"}
        return {"status": "up"}

    async def missing_runtime_images(self) -> list[str]:
        """The built-in runtime images this engine does not have (scripts/lib/docker.sh
        builds them)."""
        missing = []
        for image in [rt.image for rt in RUNTIMES] + [SKELETON_IMAGE]:
            try:
                await self._engine.call("GET", f"/images/{image}/json")
            except DockerError:
                missing.append(image)
        return missing

    async def container_api_host(self) -> str:
        """``__OW_API_HOST`` as actions in containers see it."""
        await self._prepare()
        assert self._container_api_host is not None
        return self._container_api_host

    async def _prepare(self) -> None:
        if self._prepared:
            return
        async with self._ready:
            if self._prepared:
                return
            try:
                net = await self._engine.call("GET", f"/networks/{self.network}")
            except DockerError as exc:
                if exc.status != 404:
                    raise ContainerStartError(str(exc)) from exc
                net = await self._create_network()
            configs = (net.get("IPAM") or {}).get("Config") or [{}]
            self.gateway = str(configs[0].get("Gateway", ""))
            if self._container_api_host is None:
                self._container_api_host = self._rewrite(self.api_host)
            self._prepared = True

    async def _create_network(self) -> Any:
        body = {"Name": self.network, "Driver": "bridge", "CheckDuplicate": True,
                "Labels": {"pwsk": "true"},
                # Containers of different actions (and namespaces) must not talk.
                "Options": {"com.docker.network.bridge.enable_icc": "false"}}
        try:
            await self._engine.call("POST", "/networks/create", body=body)
        except DockerError as exc:
            if exc.status != 409:  # another invoker created it first
                raise ContainerStartError(str(exc)) from exc
        return await self._engine.call("GET", f"/networks/{self.network}")

    def _rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not self.gateway or not (host in _LOOPBACK or host.startswith("127.")):
            return url
        netloc = self.gateway + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))

    def _name(self, spec: ContainerSpec) -> str:
        # The pool names specs "wsk<pool>_<hint>": our own prefix replaces the pool's.
        hint = spec.name.split("_", 1)[1] if spec.name.startswith("wsk") else spec.name
        raw = f"wsk{self.invoker}_{next(self._counter)}_{hint}"
        return _NAME_CHARS.sub("_", raw)[:63].rstrip("_.-")

    def _config(self, spec: ContainerSpec, image: str) -> dict[str, Any]:
        memory = spec.memory_mb * MIB
        env = {"__OW_API_HOST": self._container_api_host or self.api_host, **spec.env}
        host: dict[str, Any] = {
            "NetworkMode": self.network,
            "Memory": memory,
            "MemorySwap": memory,
            "CpuShares": max(2, 1024 * spec.memory_mb // self.user_memory_mb),
            "PidsLimit": 1024,
            "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 1024}],
            "SecurityOpt": ["no-new-privileges"],
            "CapDrop": ["ALL"],
            # Warm containers live for minutes: bound what a chatty action can write.
            "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "2"}},
            "ReadonlyRootfs": True,
            "Tmpfs": {"/tmp": f"rw,exec,nosuid,nodev,size={spec.memory_mb}m,mode=1777"},
        }
        volumes: dict[str, Any] = {}
        if _builtin(image):
            # uid and gid: the runtime images' user (runtimes/*/Dockerfile).
            host["Tmpfs"][ACTION_DIR] = (f"rw,exec,nosuid,nodev,size={spec.memory_mb}m,"
                                         "uid=1001,gid=1001,mode=0755")
        else:
            volumes[ACTION_DIR] = {}
        if self.publish:
            host["PortBindings"] = {f"{PROXY_PORT}/tcp": [{"HostIp": "127.0.0.1",
                                                           "HostPort": ""}]}
        return {
            "Image": image,
            "Env": [f"{k}={v}" for k, v in env.items()],
            "Labels": {LABEL: self.invoker, "pwsk.kind": spec.kind},
            "ExposedPorts": {f"{PROXY_PORT}/tcp": {}},
            "Volumes": volumes,
            "HostConfig": host,
        }

    async def _create(self, spec: ContainerSpec, image: str) -> tuple[str, str]:
        config = self._config(spec, image)
        pulled = False
        for _ in range(5):
            name = self._name(spec)
            try:
                made = await self._engine.call("POST", "/containers/create",
                                               params={"name": name}, body=config)
                return str(made["Id"]), name
            except DockerError as exc:
                if exc.status == 409:  # a leftover of the same name: take the next number
                    continue
                if exc.status != 404 or pulled or "image" not in exc.message.lower():
                    raise ContainerStartError(str(exc)) from exc
            # No such image.
            if _builtin(image):
                raise ContainerStartError(
                    f"the runtime image {image} is missing: scripts/lib/docker.sh builds it")
            await self._pull(image)
            pulled = True
        raise ContainerStartError(f"could not create a container for {spec.name}")

    async def _pull(self, image: str) -> None:
        logger.info("pulling image", image=image)
        try:
            await self._engine.pull(image)
        except DockerError as exc:
            raise ImageUnavailable(
                f"The image '{image}' is not available on the invoker and could not be "
                f"pulled: {exc.message}") from exc

    async def create(self, spec: ContainerSpec) -> DockerContainer:
        await self._prepare()
        image = image_for(spec)
        container_id, name = await self._create(spec, image)
        container = DockerContainer(self._engine, container_id, name)
        try:
            await self._engine.call("POST", f"/containers/{container_id}/start")
            info = await self._engine.call("GET", f"/containers/{container_id}/json")
            settings = info["NetworkSettings"]
            if self.publish:
                binding = settings["Ports"][f"{PROXY_PORT}/tcp"][0]
                container.host, container.port = "127.0.0.1", int(binding["HostPort"])
            else:
                container.host = settings["Networks"][self.network]["IPAddress"]
            container.follow_logs()
        except BaseException as exc:
            # In the background: with the engine gone, removal waits for it to come back.
            task = asyncio.get_running_loop().create_task(container.destroy())
            self._removals.add(task)
            task.add_done_callback(self._removals.discard)
            if isinstance(exc, DockerError | KeyError | IndexError | TypeError):
                raise ContainerStartError(f"starting {name}: {exc}") from exc
            raise
        return container

    async def cleanup(self) -> None:
        """Remove every container labelled with this invoker's id (a crashed run's)."""
        filters = orjson.dumps({"label": [f"{LABEL}={self.invoker}"]}).decode()
        try:
            found = await self._engine.call("GET", "/containers/json",
                                            params={"all": "1", "filters": filters})
        except DockerError as exc:
            logger.warning("docker cleanup failed", error=str(exc))
            return
        removals = [self._engine.call("DELETE", f"/containers/{c['Id']}",
                                      params={"force": "1", "v": "1"}) for c in found]
        for result in await asyncio.gather(*removals, return_exceptions=True):
            if isinstance(result, Exception) and not (
                    isinstance(result, DockerError) and result.status in (404, 409)):
                logger.warning("docker cleanup: removal failed", error=str(result))
        if found:
            logger.info("removed leftover containers", count=len(found))
