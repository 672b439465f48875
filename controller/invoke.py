"""Invoking actions: resolve, merge parameters, publish, wait; sequences run here too.

Parameters merge as package < binding < action < payload (spec §1.3). A sequence has no
container: the controller runs its components one after another as blocking activations
with ``cause`` set to the sequence's id, stops at the first ``error`` result, and records
the sequence activation itself (spec §5.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from pwsk import log, tid
from pwsk.activation import Activation, Response, Status
from pwsk.entities import SEQUENCE, Action, Package, kv_merge, params_dict, truthy
from pwsk.errors import BadRequest, Conflict, Messages, NotFound, PwskError
from pwsk.limits import SEQUENCE_MAX_LENGTH
from pwsk.messages import ActivationMessage, Identity
from pwsk.names import FQN, parse_fqn
from pwsk.settings import Settings
from pwsk.store import ACTIVATIONS, Store

from .balancer import Balancer
from .entities import EntityStore, readable_action, readable_package

logger = log.get("pwsk.controller.invoke")
RECORD_RETRY_S = 120.0  # how long a record the controller makes waits for the store
Json = dict[str, Any]
# A component's wait is its own timeout plus this much (OpenWhisk: one minute).
COMPONENT_GRACE_MS = 60_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Resolved:
    action: Action
    params: list[Json]
    binding: str | None = None  # "ns/pkg" when reached through a binding

    @property
    def path(self) -> str:
        return f"{self.action.namespace}/{self.action.name}"


@dataclass(slots=True)
class Outcome:
    activation_id: str
    activation: Activation | None  # None: still running when the wait ended


class Activator:
    def __init__(self, settings: Settings, store: Store, entities: EntityStore,
                 balancer: Balancer) -> None:
        self.settings = settings
        self.store = store
        self.entities = entities
        self.balancer = balancer
        self._background: set[asyncio.Task[Any]] = set()

    # --- resolution --------------------------------------------------------------------

    async def resolve(self, identity: Identity, fqn: FQN) -> Resolved:
        """Find the action behind ``fqn`` (following a binding) and merge its parameters."""
        if fqn.package is None:
            action = await readable_action(self.entities, identity, fqn)
            return Resolved(action, list(action.parameters))
        pkg = await readable_package(self.entities, identity, FQN(fqn.namespace, fqn.package))
        params: list[Json] = []
        binding = None
        if pkg.binding is not None:
            bound = await readable_package(self.entities, identity, pkg.binding)
            binding = f"{pkg.namespace}/{pkg.name}"
            params = kv_merge(bound.parameters, pkg.parameters)
            target = FQN(bound.namespace, fqn.name, bound.name)
        else:
            params = list(pkg.parameters)
            target = fqn
        action = await self.entities.get(target, Action)
        return Resolved(action, kv_merge(params, action.parameters), binding)

    @staticmethod
    def check_final(resolved: Resolved, payload: Json) -> None:
        """``final: true`` makes defined parameters immutable by the caller."""
        if truthy(resolved.action.annotation("final")):
            defined = {p["key"] for p in resolved.params}
            if defined & payload.keys():
                raise BadRequest(Messages.PARAMS_NOT_ALLOWED)

    # --- invoking ----------------------------------------------------------------------

    async def invoke(self, identity: Identity, resolved: Resolved, payload: Json, *,
                     blocking: bool, wait_ms: int, cause: str | None = None,
                     caused_by: str | None = None, start: int | None = None,
                     primitive: bool = False) -> Outcome:
        start = start or now_ms()
        if resolved.action.exec.kind == SEQUENCE:
            return await self._sequence(identity, resolved, payload, blocking=blocking,
                                        wait_ms=wait_ms, cause=cause, start=start)
        if not primitive and truthy(resolved.action.annotation("conductor")):
            comp_id = tid.activation_id()
            return await self._background_run(comp_id, self._run_composition(
                identity, resolved, payload, comp_id, cause, start), blocking, wait_ms)
        activation_id = tid.activation_id()
        content = {**params_dict(resolved.params), **payload}
        msg = ActivationMessage(
            transid=tid.current.get(), start=start, action_path=resolved.action.namespace,
            action_name=resolved.action.name, action_version=resolved.action.version,
            revision=resolved.action.rev or "", user=identity, activation_id=activation_id,
            controller=self.settings.controller_id, blocking=blocking, content=content,
            init_args=[p["key"] for p in resolved.params if p.get("init")],
            cause=cause, binding=resolved.binding, caused_by=caused_by,
            secret_args=[p["key"] for p in resolved.params if p.get("secret")],
        )
        future = await self.balancer.publish(msg, resolved.action.limits.memory,
                                             resolved.action.limits.timeout)
        if not blocking:
            future.cancel()
            return Outcome(activation_id, None)
        return Outcome(activation_id, await self._wait(future, wait_ms))

    @staticmethod
    async def _wait(future: asyncio.Future[Activation], wait_ms: int) -> Activation | None:
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait_ms / 1000)
        except TimeoutError:
            return None

    # --- sequences ---------------------------------------------------------------------

    async def _sequence(self, identity: Identity, resolved: Resolved, payload: Json, *,
                        blocking: bool, wait_ms: int, cause: str | None,
                        start: int) -> Outcome:
        seq_id = tid.activation_id()
        return await self._background_run(seq_id, self._run_sequence(
            identity, resolved, payload, seq_id, cause, start), blocking, wait_ms)

    async def _background_run(self, activation_id: str, work: Coroutine[Any, Any, Activation],
                              blocking: bool, wait_ms: int) -> Outcome:
        """Run a controller-side composition; the caller waits at most ``wait_ms``."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if not blocking:
            return Outcome(activation_id, None)
        try:
            activation = await asyncio.wait_for(asyncio.shield(task), wait_ms / 1000)
        except TimeoutError:
            return Outcome(activation_id, None)
        return Outcome(activation_id, activation)

    async def _run_sequence(self, identity: Identity, resolved: Resolved, payload: Json,
                            seq_id: str, cause: str | None, start: int) -> Activation:
        seq = resolved.action
        components = list(seq.exec.components or [])
        ids: list[str] = []
        args: Any = payload
        response = Response.success(payload)
        duration = 0
        memory = 0
        for comp in components:
            try:
                step = await self.resolve(identity, parse_fqn(comp).resolve(identity.namespace))
            except (NotFound, BadRequest):
                response = Response.error(Status.APPLICATION_ERROR, Messages.SEQ_COMPONENT_MISSING)
                break
            except PwskError as exc:
                response = Response.error(Status.APPLICATION_ERROR, exc.message)
                break
            wait = step.action.limits.timeout + COMPONENT_GRACE_MS
            try:
                outcome = await self.invoke(identity, step,
                                            args if isinstance(args, dict) else {},
                                            blocking=True, wait_ms=wait, cause=seq_id,
                                            caused_by="sequence")
            except PwskError as exc:  # refused (no invoker, ...): the sequence still records
                response = _refused(exc)
                break
            ids.append(outcome.activation_id)
            act = outcome.activation
            if act is None:
                response = Response.error(Status.WHISK_ERROR, Messages.SEQ_COMPONENT_TIMEOUT.format(
                    id=outcome.activation_id))
                break
            memory = max(memory, int((act.annotation("limits") or {}).get("memory", 0)))
            duration += act.duration or 0
            response = act.response
            if not response.is_success:
                break
            args = response.result if isinstance(response.result, dict | list) else {}
        end = start + max(duration, 1) if ids else now_ms()
        return await self._record_composite(identity, resolved, seq_id, start, end, response,
                                            ids, memory or seq.limits.memory, cause)

    async def _run_composition(self, identity: Identity, resolved: Resolved, payload: Json,
                               comp_id: str, cause: str | None, start: int) -> Activation:
        """Conductor actions (spec §5.3): the conductor picks each next step."""
        conductor = resolved.action
        ids: list[str] = []
        duration = 0
        memory = conductor.limits.memory
        params: Json = payload
        response = Response.success(payload)
        wait = conductor.limits.timeout + COMPONENT_GRACE_MS
        components = 0
        for _ in range(2 * SEQUENCE_MAX_LENGTH + 1):
            try:
                step = await self.invoke(identity, resolved, params, blocking=True,
                                         wait_ms=wait, cause=comp_id, caused_by="sequence",
                                         primitive=True)
            except PwskError as exc:
                response = _refused(exc)
                break
            ids.append(step.activation_id)
            if step.activation is None:
                response = Response.error(Status.WHISK_ERROR, Messages.SEQ_COMPONENT_TIMEOUT
                                          .format(id=step.activation_id))
                break
            duration += step.activation.duration or 0
            response = step.activation.response
            result = response.result
            if not response.is_success or not isinstance(result, dict):
                break
            if "action" not in result:
                final = result.get("params", result)
                response = Response(Status.SUCCESS, final if isinstance(final, dict)
                                    else {"value": final})
                break
            state = _boxed(result.get("state"), "state")
            next_params = _boxed(result.get("params"), "value")
            if components >= SEQUENCE_MAX_LENGTH:
                response = Response.error(Status.APPLICATION_ERROR, Messages.SEQ_TOO_LONG)
                break
            components += 1
            try:
                if not isinstance(result["action"], str):
                    raise BadRequest("Invalid action name.")
                target = await self.resolve(
                    identity, parse_fqn(result["action"]).resolve(identity.namespace))
            except PwskError as exc:
                params = {**state, "error": exc.message}
                continue
            try:
                comp = await self.invoke(
                    identity, target, next_params, blocking=True,
                    wait_ms=target.action.limits.timeout + COMPONENT_GRACE_MS, cause=comp_id,
                    caused_by="sequence")
            except PwskError as exc:
                response = _refused(exc)
                break
            ids.append(comp.activation_id)
            if comp.activation is None:
                response = Response.error(Status.WHISK_ERROR, Messages.SEQ_COMPONENT_TIMEOUT
                                          .format(id=comp.activation_id))
                break
            duration += comp.activation.duration or 0
            memory = max(memory, target.action.limits.memory)
            comp_result = comp.activation.response.result
            params = {**(comp_result if isinstance(comp_result, dict) else {}), **state}
        return await self._record_composite(identity, resolved, comp_id, start,
                                            start + max(duration, 1), response, ids, memory,
                                            cause, conductor=True)

    async def _record_composite(self, identity: Identity, resolved: Resolved,
                                activation_id: str, start: int, end: int, response: Response,
                                ids: list[str], memory: int, cause: str | None,
                                conductor: bool = False) -> Activation:
        """The record of a sequence or composition: component ids as logs (spec §5.2-5.3)."""
        action = resolved.action
        annotations: list[Json] = [
            {"key": "topmost", "value": cause is None},
            {"key": "path", "value": resolved.path},
            {"key": "kind", "value": SEQUENCE},
        ]
        if conductor:
            annotations.append({"key": "conductor", "value": True})
        annotations += [
            {"key": "waitTime", "value": 0},
            {"key": "limits", "value": {**action.limits.to_json(), "memory": memory}},
        ]
        if cause is not None:
            annotations.append({"key": "causedBy", "value": "sequence"})
        activation = Activation(
            namespace=identity.namespace, name=action.name, subject=identity.subject,
            activation_id=activation_id, start=start, end=end, response=response, logs=ids,
            version=action.version, annotations=annotations, cause=cause)
        await self.record(activation)
        return activation

    async def record(self, activation: Activation) -> None:
        """Store an activation the controller made (sequences, triggers)."""
        self.balancer.remember(activation)
        # Callers run this in the background: it waits out a store outage (up to a limit).
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + RECORD_RETRY_S, 0.05
        while True:
            try:
                await self.store.put(ACTIVATIONS, activation.to_doc())
                self.balancer.stored(activation.activation_id)
                return
            except Conflict:  # an earlier attempt that timed out had landed after all
                self.balancer.stored(activation.activation_id)
                return
            except Exception as exc:
                if loop.time() >= deadline:
                    logger.error("could not store activation",
                                 activation=activation.activation_id, error=repr(exc))
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._background, return_exceptions=True)


async def atomic_length(entities: EntityStore, namespace: str, components: list[str],
                        self_fqn: FQN, seen: frozenset[str] = frozenset()) -> int:
    """Count atomic actions after inlining nested sequences; reject cycles and gaps."""
    total = 0
    for comp in components:
        fqn = parse_fqn(comp).resolve(namespace)
        if fqn.doc_id == self_fqn.doc_id or fqn.doc_id in seen:
            raise BadRequest(Messages.SEQ_CYCLE)
        target = fqn
        if fqn.package is not None:
            pkg = await entities.get_optional(FQN(fqn.namespace, fqn.package), Package)
            if pkg is not None and pkg.binding is not None:
                target = FQN(pkg.binding.namespace, fqn.name, pkg.binding.name)
        try:
            action = await entities.get(target, Action)
        except (NotFound, PwskError):
            raise BadRequest(Messages.SEQ_COMPONENT_MISSING) from None
        if action.exec.kind == SEQUENCE:
            total += await atomic_length(entities, namespace, list(action.exec.components or []),
                                         self_fqn, seen | {fqn.doc_id})
        else:
            total += 1
        if total > SEQUENCE_MAX_LENGTH:
            raise BadRequest(Messages.SEQ_TOO_LONG)
    return total


def _boxed(value: Any, key: str) -> Json:
    """Conductor ``params``/``state`` that are not objects travel as ``{key: value}``."""
    if value is None:
        return {}
    return value if isinstance(value, dict) else {key: value}


def _refused(exc: PwskError) -> Response:
    """A component the platform refused to start (no invoker, a throttle): the composite's
    response, so it is still recorded rather than lost with its task."""
    return Response.error(Status.WHISK_ERROR if exc.status >= 500 else Status.APPLICATION_ERROR,
                          exc.message)
