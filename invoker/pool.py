"""The container pool (spec §6.3): warm reuse, stem cells, pause, eviction, a FIFO buffer.

Placement of a job, in order:

1. an idle warm container of the same (namespace, action, revision): never shared across
   namespaces, never reused across revisions of the action;
2. a prewarmed stem cell of the same kind and memory (started, not initialised);
3. a new container, if the memory budget allows;
4. after evicting least-recently-used idle warm containers (stem cells are kept);
5. otherwise the job waits in a FIFO buffer until memory frees up.

Idle warm containers are paused after ``pause_grace_s`` and destroyed after
``idle_timeout_s``. Containers that saw a developer or system error are destroyed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from pwsk import log
from pwsk.activation import Activation, Response, Status
from pwsk.entities import BLACKBOX, RUNTIMES, is_skeleton
from pwsk.settings import Settings

from .containers.base import ContainerFactory, ContainerSpec, ContainerStartError
from .runner import Job, Runner, _now_ms

logger = log.get("pwsk.invoker.pool")

Key = tuple[str, str, str]  # (invocation namespace, action fqn path, revision)


def family_of(kind: str) -> str:
    return BLACKBOX if kind == BLACKBOX else kind.split(":", 1)[0]


@dataclass(eq=False, slots=True)
class Slot:
    """A container in the pool and what it is doing."""

    kind: str
    memory_mb: int
    runner: Runner | None = None  # None while starting
    key: Key | None = None  # None for a stem cell
    busy: bool = False
    paused: bool = False
    last_used: float = field(default_factory=time.monotonic)
    uses: int = 0


class ContainerPool:
    def __init__(self, factory: ContainerFactory, settings: Settings, name: str = "pwsk0"):
        self.factory = factory
        self.settings = settings
        self.name = name
        self.slots: list[Slot] = []
        self._waiters: deque[list[asyncio.Future[None]]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    # --- accounting ----------------------------------------------------------------------

    @property
    def used_mb(self) -> int:
        return sum(s.memory_mb for s in self.slots)

    @property
    def free_mb(self) -> int:
        return self.settings.user_memory_mb - self.used_mb

    def stats(self) -> dict[str, int]:
        return {
            "containers": len(self.slots),
            "busy": sum(s.busy for s in self.slots),
            "prewarm": sum(s.key is None and not s.busy for s in self.slots),
            "paused": sum(s.paused for s in self.slots),
            "queued": len(self._waiters),
            "free_mb": self.free_mb,
        }

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        for kind, count in self.settings.prewarm_counts().items():
            for _ in range(count):
                self._spawn(self._prewarm(kind, 256))
        self._reaper = asyncio.create_task(self._reap_loop())

    async def stop(self) -> None:
        self._closed = True
        if self._reaper:
            self._reaper.cancel()
        # Let container starts and removals finish (a cancelled one could leak a process).
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=15)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for entry in self._waiters:
            entry[0].cancel()
        slots, self.slots = self.slots, []
        await asyncio.gather(*(self._destroy_runner(s) for s in slots), return_exceptions=True)

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- running a job -------------------------------------------------------------------

    async def run(self, job: Job, revision: str) -> Activation:
        kind = job.action.exec.kind
        if kind == BLACKBOX and not is_skeleton(job.action.exec.image) and not self._can_pull():
            return self._failed(job, Status.DEVELOPER_ERROR,
                                f"The image '{job.action.exec.image}' cannot run on the process "
                                "container backend; use the Docker backend for custom images.")
        key: Key = (job.msg.user.namespace, job.fqn_path, revision)
        memory = job.action.limits.memory
        if memory > self.settings.user_memory_mb:
            return self._failed(job, Status.WHISK_ERROR,
                                f"The action needs {memory} MB but the invoker has only "
                                f"{self.settings.user_memory_mb} MB.")
        try:
            slot = await self._acquire(key, kind, memory, job)
        except ContainerStartError as exc:
            logger.warning("container start failed", error=str(exc))
            if exc.developer_error:
                return self._failed(job, Status.DEVELOPER_ERROR, str(exc))
            return self._failed(job, Status.WHISK_ERROR, "Failed to start the action container.")
        assert slot.runner is not None
        reusable = False
        try:
            outcome = await slot.runner.execute(job)
            reusable = outcome.reusable
            return outcome.activation
        finally:
            slot.uses += 1
            if reusable and not self._closed:
                slot.busy = False
                slot.last_used = time.monotonic()
            else:
                self._remove(slot)
            self._wake()

    def _can_pull(self) -> bool:
        return bool(getattr(self.factory, "runs_images", False))  # Docker yes, processes no

    def _failed(self, job: Job, status: Status, message: str) -> Activation:
        now = _now_ms()
        return Activation(
            namespace=job.msg.user.namespace, name=job.action.name, subject=job.msg.user.subject,
            activation_id=job.msg.activation_id, start=now, end=now,
            response=Response.error(status, message), version=job.action.version,
            annotations=[{"key": "path", "value": job.fqn_path},
                         {"key": "waitTime", "value": max(0, now - job.msg.start)},
                         {"key": "kind", "value": job.action.exec.kind},
                         {"key": "timeout", "value": False},
                         {"key": "limits", "value": job.action.limits.to_json()}],
            cause=job.msg.cause,
        )

    async def _acquire(self, key: Key, kind: str, memory: int, job: Job) -> Slot:
        # Once anyone waits, newcomers queue behind them: the FIFO run buffer.
        slot = None if self._waiters else self._place(key, kind, memory)
        if slot is None:
            loop = asyncio.get_running_loop()
            entry: list[asyncio.Future[None]] = [loop.create_future()]
            self._waiters.append(entry)
            try:
                while slot is None:
                    await entry[0]
                    slot = self._place(key, kind, memory)
                    entry[0] = loop.create_future()
            finally:
                self._waiters.remove(entry)
                self._wake()  # the next in line may fit too
        if slot.runner is None:
            await self._start_slot(slot, job)
        elif slot.paused:
            await slot.runner.container.resume()
            slot.paused = False
        return slot

    def _place(self, key: Key, kind: str, memory: int) -> Slot | None:
        """Pick or reserve a slot without awaiting, so decisions never interleave."""
        warm = [s for s in self.slots if s.key == key and not s.busy and s.runner]
        if warm:
            slot = max(warm, key=lambda s: s.last_used)
            slot.busy = True
            return slot
        for slot in self.slots:
            if (slot.key is None and not slot.busy and slot.runner is not None
                    and slot.kind == kind and slot.memory_mb == memory):
                slot.busy, slot.key = True, key
                self._spawn(self._prewarm(kind, memory))  # replace the stem cell
                return slot
        if self.free_mb < memory:
            idle = sorted((s for s in self.slots if s.key is not None and not s.busy
                           and s.runner is not None), key=lambda s: s.last_used)
            freed, victims = self.free_mb, []
            for victim in idle:
                if freed >= memory:
                    break
                victims.append(victim)
                freed += victim.memory_mb
            if freed < memory:
                return None
            for victim in victims:
                logger.debug("evicting idle container", key=victim.key)
                self._remove(victim)
        slot = Slot(kind, memory, key=key, busy=True)
        self.slots.append(slot)
        return slot

    async def _start_slot(self, slot: Slot, job: Job) -> None:
        try:
            image = job.action.exec.image if slot.kind == BLACKBOX else None
            hint = f"{job.msg.user.namespace}_{job.action.name}"
            slot.runner = await self._start_container(slot.kind, slot.memory_mb, hint, image)
        except BaseException:
            self._remove(slot)
            self._wake()
            raise

    async def _start_container(self, kind: str, memory: int, hint: str,
                               image: str | None = None) -> Runner:
        spec = ContainerSpec(family=family_of(kind), kind=kind, memory_mb=memory,
                             name=f"wsk{self.name}_{hint[:40]}", image=image)
        container = await self.factory.create(spec)
        try:
            await container.wait_ready(self.settings.container_start_timeout_s)
        except BaseException:
            await container.destroy()
            raise
        return Runner(container, self.settings.log_sentinel_wait_s)

    async def _prewarm(self, kind: str, memory: int) -> None:
        if self._closed or self.free_mb < memory:
            return
        if not any(rt.kind == kind for rt in RUNTIMES):
            logger.warning("unknown prewarm kind", kind=kind)
            return
        slot = Slot(kind, memory, busy=True)
        self.slots.append(slot)
        try:
            slot.runner = await self._start_container(kind, memory, "prewarm")
        except (ContainerStartError, OSError) as exc:
            logger.warning("prewarm failed", kind=kind, error=str(exc))
            self._remove(slot)
            return
        slot.busy = False
        slot.last_used = time.monotonic()
        self._wake()

    def _remove(self, slot: Slot) -> None:
        if slot in self.slots:
            self.slots.remove(slot)
        self._spawn(self._destroy_runner(slot))

    @staticmethod
    async def _destroy_runner(slot: Slot) -> None:
        if slot.runner is not None:
            slot.runner.close()
            await slot.runner.container.destroy()

    def _wake(self) -> None:
        """Let the head of the run buffer try again (memory or a container was freed)."""
        if self._waiters and not self._waiters[0][0].done():
            self._waiters[0][0].set_result(None)

    # --- idle management -----------------------------------------------------------------

    async def _reap_loop(self) -> None:
        period = max(0.05, min(1.0, self.settings.pause_grace_s / 2 or 1.0))
        while True:
            await asyncio.sleep(period)
            try:
                await self.reap()
            except Exception:  # keep the loop alive whatever one container does
                logger.exception("reaper failed")

    async def reap(self) -> None:
        now = time.monotonic()
        for slot in list(self.slots):
            if slot.busy or slot.key is None or slot.runner is None:
                continue
            idle = now - slot.last_used
            if idle >= self.settings.idle_timeout_s:
                self._remove(slot)
                self._wake()
            elif not slot.paused and idle >= self.settings.pause_grace_s:
                slot.paused = True
                await slot.runner.container.suspend()
