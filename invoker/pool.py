"""The container pool (spec §6.3): warm reuse, stem cells, pause, eviction, a FIFO buffer.

Placement of a job, in order:

1. an idle warm container of the same (namespace, action, revision): never shared across
   namespaces, never reused across revisions of the action;
2. a busy warm container of that key that should free up before a new container could be
   ready (its recent run times against the kind's recent start times): the job waits for it,
   up to one start time, and does not hold up jobs behind it;
3. a prewarmed stem cell of the same kind and memory (started, not initialised);
4. a new container, if the memory budget allows and fewer than ``MAX_STARTS`` are starting;
5. after evicting idle surplus stem cells, then least-recently-used idle warm containers
   (the configured stem cells are kept);
6. otherwise the job waits in a FIFO buffer until memory frees up.

A container started in step 4 is the action's, not the job's: whichever of the action's
jobs is first in line when it, or a warm one, is free takes it.

Without step 2 a burst bigger than the budget churns: every job that finds its action's
containers busy for a moment starts (and evicts for) a new one, so each burst destroys the
previous burst's containers and queues behind cold starts.

Stem cells are ``PWSK_PREWARM`` (256 MB each) plus cells sized by demand: as many per kind
and memory as cold starts were under way together recently (two at least), within a quarter
of the budget, created only from free memory nobody waits for, not restarted once evicted,
and dropped after ``DEMAND_TTL_S`` without such demand.

Idle warm containers are paused after ``pause_grace_s`` and destroyed after
``idle_timeout_s``. Containers that saw a developer or system error are destroyed.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

from pwsk import log
from pwsk.activation import Activation, Response, Status
from pwsk.entities import BLACKBOX, RUNTIMES, is_skeleton
from pwsk.settings import Settings

from .containers.base import ContainerFactory, ContainerSpec, ContainerStartError
from .runner import Job, Runner, _now_ms

logger = log.get("pwsk.invoker.pool")

Key = tuple[str, str, str]  # (invocation namespace, action fqn path, revision)
Cell = tuple[str, int]  # (kind, memory MB) of a stem cell

PREWARM_MB = 256
DEFAULT_START_S = 1.0  # a container start's duration until one is measured
DEMAND_TTL_S = 120.0  # demand-sized stem cells outlive their last burst this long
STEM_SHARE = 4  # demand-sized stem cells take at most 1/STEM_SHARE of the budget
EWMA = 0.3  # weight of the newest sample in the running averages
# Containers started at once for jobs, like OpenWhisk's docker client (parallel-runs): a
# burst of starts on a small machine makes every start slow and none ready early (the burst
# test's first burst on 2 cores: 16 at once, 6.2 s queued at most; 4 at once, 3.8 s).
MAX_STARTS = max(4, os.cpu_count() or 1)


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
    busy_since: float = 0.0
    uses: int = 0
    surplus: bool = False  # a stem cell started for demand, not by configuration
    cold: bool = False  # placed cold, its first activation not done yet


@dataclass(eq=False, slots=True)
class _Request:
    """A job waiting for a slot."""

    key: Key
    kind: str
    memory_mb: int
    future: asyncio.Future[Slot]
    hint: str  # names its containers
    image: str | None = None  # a blackbox action's own image
    warm_since: float | None = None  # waiting for a busy warm container since then
    timer: asyncio.TimerHandle | None = None


def _average(old: float | None, sample: float) -> float:
    return sample if old is None else old + EWMA * (sample - old)


class ContainerPool:
    def __init__(self, factory: ContainerFactory, settings: Settings, name: str = "pwsk0"):
        self.factory = factory
        self.settings = settings
        self.name = name
        self.slots: list[Slot] = []
        self.created = 0  # containers started, stem cells included
        # Jobs in line, in arrival order (a dict: O(1) removal of a job that leaves the line).
        self._pending: dict[_Request, None] = {}
        self._wanted: dict[Cell, int] = {}  # jobs in line per (kind, memory)
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        self._run_s: dict[Key, float] = {}  # recent run durations per action
        self._start_s: dict[str, float] = {}  # recent container start durations per kind
        self._cold: dict[Cell, int] = {}  # cold placements whose first run is not done
        self._demand: dict[Cell, tuple[int, float]] = {}  # (stem cells wanted, since)

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
            # Jobs waiting for memory or a busy container, not for a container being started.
            "queued": max(0, len(self._pending) - sum(
                s.runner is None and s.key is not None for s in self.slots)),
            "free_mb": self.free_mb,
            "created": self.created,
        }

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        for kind, count in self.settings.prewarm_counts().items():
            for _ in range(count):
                self._spawn(self._prewarm(kind, PREWARM_MB))
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
        for req in self._pending:
            req.future.cancel()
            if req.timer:
                req.timer.cancel()
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
        slot.busy_since = time.monotonic()
        try:
            outcome = await slot.runner.execute(job)
            reusable = outcome.reusable
            self._note_run(key, outcome.activation)
            return outcome.activation
        finally:
            slot.uses += 1
            self._uncount(slot)
            if reusable and not self._closed:
                slot.busy = False
                slot.last_used = time.monotonic()
            else:
                self._remove(slot)
            self._dispatch()

    def _note_run(self, key: Key, act: Activation) -> None:
        init = act.annotation("initTime")
        ran_ms = act.end - act.start - (init if isinstance(init, int) else 0)
        self._run_s[key] = _average(self._run_s.get(key), max(0, ran_ms) / 1000)

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
        loop = asyncio.get_running_loop()
        req = _Request(key, kind, memory, loop.create_future(),
                       hint=f"{job.msg.user.namespace}_{job.action.name}",
                       image=job.action.exec.image if kind == BLACKBOX else None)
        self._pending[req] = None
        cell = (kind, memory)
        self._wanted[cell] = self._wanted.get(cell, 0) + 1
        self._dispatch()
        try:
            slot = await req.future
        except asyncio.CancelledError:
            self._forget(req)
            if req.future.done() and not req.future.cancelled():
                self._release(req.future.result())  # handed over just as we were cancelled
            raise
        if slot.paused:
            assert slot.runner is not None
            try:
                await slot.runner.container.resume()
            except ContainerStartError:  # still paused (the engine is down): not usable
                self._remove(slot)
                self._dispatch()
                raise
            slot.paused = False
        return slot

    def _forget(self, req: _Request) -> None:
        if req in self._pending:
            del self._pending[req]
            cell = (req.kind, req.memory_mb)
            left = self._wanted[cell] - 1
            if left:
                self._wanted[cell] = left
            else:
                del self._wanted[cell]
        if req.timer:
            req.timer.cancel()

    def _release(self, slot: Slot) -> None:
        slot.busy = False
        self._dispatch()

    # --- placement -----------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Hand free slots to waiting jobs, in order, without awaiting (no interleaving).

        A container is started for a job's action, not for the job: whichever job of that
        action is first in line when a container of it is free takes it. A job waiting for
        a warm container or one being started never holds up the others; the first job that
        needs memory and finds none does hold up later jobs that need memory.

        One pass costs O(containers) to index the free ones plus O(1) per job it looks at,
        and it stops as soon as nothing is left to hand out (no free warm container, no
        free stem cell, no start possible): a completion under a backlog of thousands of
        jobs looks at the first few, not at all of them.
        """
        if self._closed:
            return
        memory_blocked = False
        now = time.monotonic()
        starting: dict[Key, int] = {}
        idle: dict[Key, list[Slot]] = {}  # free warm containers per action
        for slot in self.slots:
            if slot.runner is None:
                if slot.key is not None:
                    starting[slot.key] = starting.get(slot.key, 0) + 1
            elif not slot.busy and slot.key is not None and slot.runner.container.alive:
                idle.setdefault(slot.key, []).append(slot)
        stems = self._stems_wanted()
        for free in idle.values():
            free.sort(key=lambda s: s.last_used)  # the most recently used last: pop() it
        free_warm = sum(len(free) for free in idle.values())
        starts = sum(starting.values())
        waiting: dict[Key, int] = {}  # jobs in line for a busy warm container, per action
        running: dict[Key, list[float]] = {}  # busy containers' expected ends, per action
        leaving: list[_Request] = []
        for req in self._pending:
            if free_warm == 0 and stems == 0 and (memory_blocked or starts >= MAX_STARTS):
                break  # nothing left to hand out: the rest of the line stays as it is
            if req.future.done():
                leaving.append(req)
                continue
            found: Slot | None = None
            mine = idle.get(req.key)
            if mine:
                found = mine.pop()
                found.busy = True
                free_warm -= 1
                running.pop(req.key, None)
            if found is None and starting.get(req.key, 0) > 0:
                starting[req.key] -= 1  # a container of its action is on its way
                continue
            if found is None and self._await_warm(req, now, waiting.get(req.key, 0), running):
                waiting[req.key] = waiting.get(req.key, 0) + 1
                continue
            if found is None and stems:
                found = self._stem(req)
                if found is not None:
                    stems = self._stems_wanted()
                    running.pop(req.key, None)
            if found is None:
                if starts >= MAX_STARTS:
                    continue  # a start finishing wakes it
                if not memory_blocked and self._new(req):
                    starts += 1
                    # Evictions may have taken free containers out of the pool.
                    present = set(self.slots)
                    for key, free in list(idle.items()):
                        kept = [s for s in free if s in present]
                        free_warm -= len(free) - len(kept)
                        idle[key] = kept
                    stems = self._stems_wanted()
                    continue  # started for it (or whoever of its action is first then)
                memory_blocked = True
                continue
            leaving.append(req)
            req.future.set_result(found)
        for req in leaving:
            self._forget(req)
        self._replenish()

    def _stems_wanted(self) -> int:
        """Free stem cells of a kind and memory some job in line needs (O(containers))."""
        return sum(1 for s in self.slots if s.key is None and not s.busy
                   and s.runner is not None and (s.kind, s.memory_mb) in self._wanted)

    def _await_warm(self, req: _Request, now: float, ahead: int,
                    cache: dict[Key, list[float]] | None = None) -> bool:
        """Whether ``req`` should wait for a busy warm container of its action: one should
        free up sooner than a new container would start (``ahead`` jobs are in line for
        them), and it has not waited that long."""
        start_s = self._start_s.get(req.kind, DEFAULT_START_S)
        if req.warm_since is not None:
            if now - req.warm_since < start_s:
                return True
            req.warm_since = None  # waited a start time in vain: go cold
            return False
        run_s = self._run_s.get(req.key)
        if run_s is None:
            return False
        running = cache.get(req.key) if cache is not None else None
        if running is None:
            running = sorted(max(0.0, s.busy_since + run_s - now) for s in self.slots
                             if s.key == req.key and s.busy and s.runner is not None)
            if cache is not None:
                cache[req.key] = running
        if not running:
            return False
        rounds, nth = divmod(ahead, len(running))
        expected = running[nth] + rounds * run_s
        if expected >= start_s:
            return False
        req.warm_since = now
        if req.timer:
            req.timer.cancel()
        req.timer = asyncio.get_running_loop().call_later(start_s, self._dispatch)
        return True

    def _stem(self, req: _Request) -> Slot | None:
        for slot in self.slots:
            if (slot.key is None and not slot.busy and slot.runner is not None
                    and slot.kind == req.kind and slot.memory_mb == req.memory_mb
                    and slot.runner.container.alive):
                slot.busy, slot.key = True, req.key
                if not slot.surplus:
                    self._spawn(self._prewarm(req.kind, req.memory_mb))  # replace it
                slot.surplus = False
                self._note_cold(slot)
                return slot
        return None

    def _new(self, req: _Request) -> bool:
        memory = req.memory_mb
        if self.free_mb < memory:
            # Spare stem cells first (they hold no state), then idle warm ones, LRU first.
            idle = sorted((s for s in self.slots if not s.busy and s.runner is not None
                           and (s.key is not None or s.surplus)),
                          key=lambda s: (s.key is not None, s.last_used))
            freed, victims = self.free_mb, []
            for victim in idle:
                if freed >= memory:
                    break
                victims.append(victim)
                freed += victim.memory_mb
            if freed < memory:
                return False
            for victim in victims:
                logger.debug("evicting idle container", key=victim.key)
                if victim.surplus:  # not wanted as much as thought: do not start it again
                    cell = (victim.kind, victim.memory_mb)
                    wanted, since = self._demand.get(cell, (1, 0.0))
                    self._demand[cell] = (max(0, wanted - 1), since)
                self._remove(victim)
        slot = Slot(req.kind, memory, key=req.key, busy=True)
        self.slots.append(slot)
        self._note_cold(slot)
        self._spawn(self._start_for(slot, req.hint, req.image))
        return True

    # --- stem cells by demand ------------------------------------------------------------

    def _note_cold(self, slot: Slot) -> None:
        """Count a cold placement: the cold starts under way together are the stem cells
        that would have served them warm."""
        cell = (slot.kind, slot.memory_mb)
        slot.cold = True
        together = self._cold[cell] = self._cold.get(cell, 0) + 1
        if together < 2:
            return  # a lone cold start is no burst
        now = time.monotonic()
        wanted, _ = self._demand.get(cell, (0, now))
        self._demand[cell] = (max(wanted, together), now)

    def _uncount(self, slot: Slot) -> None:
        if slot.cold:
            slot.cold = False
            cell = (slot.kind, slot.memory_mb)
            self._cold[cell] = max(0, self._cold.get(cell, 1) - 1)

    def _replenish(self) -> None:
        """Start demand-sized stem cells from memory nobody is waiting for."""
        if self._closed or not self._demand:
            return
        if any(r.warm_since is None for r in self._pending):
            return  # memory is wanted by jobs
        budget = self.settings.user_memory_mb // STEM_SHARE
        spare = sum(s.memory_mb for s in self.slots if s.surplus)
        for (kind, memory), (wanted, _) in self._demand.items():
            have = sum(1 for s in self.slots if s.surplus and s.kind == kind
                       and s.memory_mb == memory)
            while (have < wanted and spare + memory <= budget
                   and self.free_mb >= memory and kind_known(kind)):
                slot = Slot(kind, memory, busy=True, surplus=True)
                self.slots.append(slot)
                self._spawn(self._start_stem(slot))
                have += 1
                spare += memory

    async def _start_stem(self, slot: Slot) -> None:
        try:
            slot.runner = await self._start_container(slot.kind, slot.memory_mb, "prewarm")
        except (ContainerStartError, OSError) as exc:
            logger.warning("prewarm failed", kind=slot.kind, error=str(exc))
            self._remove(slot)
            return
        if slot not in self.slots:  # evicted or stopped meanwhile
            self._spawn(self._destroy_runner(slot))
            return
        slot.busy = False
        slot.last_used = time.monotonic()
        self._dispatch()

    def _expire_demand(self, now: float) -> None:
        for cell, (_, since) in list(self._demand.items()):
            if now - since < DEMAND_TTL_S:
                continue
            del self._demand[cell]
            for slot in [s for s in self.slots if s.surplus and not s.busy
                         and (s.kind, s.memory_mb) == cell]:
                self._remove(slot)

    # --- containers ----------------------------------------------------------------------

    async def _start_for(self, slot: Slot, hint: str, image: str | None) -> None:
        """Start a container for an action; the first of its jobs in line then takes it."""
        try:
            slot.runner = await self._start_container(slot.kind, slot.memory_mb, hint, image)
        except Exception as exc:
            if not isinstance(exc, ContainerStartError):
                logger.exception("container start failed")
                exc = ContainerStartError(str(exc))
            self._remove(slot)
            # The start was this job's to wait for: it learns why (a missing image, ...).
            for req in self._pending:
                if req.key == slot.key and not req.future.done():
                    self._forget(req)
                    req.future.set_exception(exc)
                    break
            self._dispatch()
            return
        if self._closed or slot not in self.slots:
            await self._destroy_runner(slot)
            return
        slot.busy = False
        slot.last_used = time.monotonic()
        self._dispatch()

    async def _start_container(self, kind: str, memory: int, hint: str,
                               image: str | None = None) -> Runner:
        spec = ContainerSpec(family=family_of(kind), kind=kind, memory_mb=memory,
                             name=f"wsk{self.name}_{hint[:40]}", image=image)
        began = time.monotonic()
        self.created += 1
        container = await self.factory.create(spec)
        try:
            await container.wait_ready(self.settings.container_start_timeout_s)
        except BaseException:
            await container.destroy()
            raise
        self._start_s[kind] = _average(self._start_s.get(kind), time.monotonic() - began)
        return Runner(container, self.settings.log_sentinel_wait_s)

    async def _prewarm(self, kind: str, memory: int) -> None:
        if self._closed or self.free_mb < memory:
            return
        if not kind_known(kind):
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
        self._dispatch()

    def _remove(self, slot: Slot) -> None:
        self._uncount(slot)
        if slot in self.slots:
            self.slots.remove(slot)
        if slot.key is not None and not any(s.key == slot.key for s in self.slots):
            self._run_s.pop(slot.key, None)
        self._spawn(self._destroy_runner(slot))

    @staticmethod
    async def _destroy_runner(slot: Slot) -> None:
        if slot.runner is not None:
            slot.runner.close()
            await slot.runner.container.destroy()

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
        self._expire_demand(now)
        for slot in list(self.slots):
            if not slot.busy and slot.runner is not None and not slot.runner.container.alive:
                self._remove(slot)  # died idle (an engine restart killed it): replace it
                if slot.key is None and not slot.surplus:
                    self._spawn(self._prewarm(slot.kind, slot.memory_mb))
                self._dispatch()
                continue
            if slot.busy or slot.key is None or slot.runner is None:
                continue
            idle = now - slot.last_used
            if idle >= self.settings.idle_timeout_s:
                self._remove(slot)
                self._dispatch()
            elif not slot.paused and idle >= self.settings.pause_grace_s:
                slot.paused = True
                await slot.runner.container.suspend()


def kind_known(kind: str) -> bool:
    return any(rt.kind == kind for rt in RUNTIMES)
