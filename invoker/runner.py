"""One activation on one container: ``/init`` if needed, ``/run``, logs, the record.

This is OpenWhisk's ``ContainerProxy.initializeAndRun`` plus ``constructWhiskActivation``:
it turns every way a run can end (result, error result, non-JSON, timeout, crash) into the
activation record of spec §3 and says whether the container may be reused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from pwsk.activation import Activation, Response, Status
from pwsk.entities import Action
from pwsk.errors import Messages
from pwsk.limits import MAX_RESULT_SIZE, MB, json_depth_exceeds
from pwsk.messages import ActivationMessage
from pwsk.redact import Masker

from .containers.base import Container, LogLine
from .http import ProxyConnection, ProxyHttpError, ResponseTooLarge

COLLECT_FAILED = "There was an issue while collecting your logs. Data might be missing."
OOM_CHECK_S = 2.0  # how long a container whose proxy vanished may take to be seen stopped
KILLED = "The action's container was killed by the platform while it ran."


@dataclass(slots=True)
class Job:
    msg: ActivationMessage
    action: Action

    @property
    def fqn_path(self) -> str:
        return f"{self.msg.action_path}/{self.msg.action_name}"


@dataclass(slots=True)
class Outcome:
    activation: Activation
    reusable: bool


def format_log(line: LogLine) -> str:
    secs, nanos = divmod(line.time_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z  {line.stream}: {line.text}"


def _env_value(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _text(body: bytes, limit: int = 2048) -> str:
    return body[:limit].decode("utf-8", "replace")


def classify_run(status: int, body: bytes, size: int | None = None) -> Response:
    """The response of ``/run`` → the activation response (spec §3, §4.3); ``size`` when
    ``body`` is only the head of a larger one."""
    size = len(body) if size is None else size
    if status == 200 and size > MAX_RESULT_SIZE:
        truncated = body[:MAX_RESULT_SIZE].decode("utf-8", "ignore")
        return Response(Status.APPLICATION_ERROR, {"error": Messages.TRUNCATED.format(
            size=size, limit=MAX_RESULT_SIZE, truncated=truncated)}, size)
    try:
        result = orjson.loads(body)
    except orjson.JSONDecodeError:
        result = None
    if json_depth_exceeds(result):  # a record nesting it could not be stored
        result = None
    valid = isinstance(result, dict | list)
    if status == 200 and valid:
        if isinstance(result, dict) and "error" in result:
            return Response(Status.APPLICATION_ERROR, result, size)
        return Response(Status.SUCCESS, result, size)
    if isinstance(result, dict) and "error" in result:
        return Response(Status.DEVELOPER_ERROR, {"error": result["error"]}, size)
    return Response.error(Status.DEVELOPER_ERROR, Messages.NOT_JSON.format(body=_text(body)))


def classify_init(status: int, body: bytes) -> Response | None:
    """None when ``/init`` succeeded, else the developer error to record."""
    if status == 200:
        return None
    try:
        result = orjson.loads(body)
    except orjson.JSONDecodeError:
        result = None
    if isinstance(result, dict) and "error" in result and not json_depth_exceeds(result):
        return Response(Status.DEVELOPER_ERROR, {"error": result["error"]})
    return Response.error(Status.DEVELOPER_ERROR, Messages.INIT_FAILED.format(body=_text(body)))


class Runner:
    """Drives one container through init and run; keeps the container's keep-alive link."""

    def __init__(self, container: Container, sentinel_wait_s: float) -> None:
        self.container = container
        self.conn = ProxyConnection(container.host, container.port)
        self.initialized = False
        self.sentinel_wait_s = sentinel_wait_s

    def close(self) -> None:
        self.conn.close()

    def _ow_env(self, job: Job, deadline: int) -> dict[str, str]:
        msg, action = job.msg, job.action
        env = {
            "__OW_NAMESPACE": msg.user.namespace,
            "__OW_ACTION_NAME": f"/{job.fqn_path}",
            "__OW_ACTION_VERSION": action.version,
            "__OW_ACTIVATION_ID": msg.activation_id,
            "__OW_TRANSACTION_ID": msg.transid,
            "__OW_DEADLINE": str(deadline),
        }
        if self._provides_key(action):
            env["__OW_API_KEY"] = msg.user.api_key
        return env

    @staticmethod
    def _provides_key(action: Action) -> bool:
        # Absent counts as true for old actions (spec 2.1); creates set it false explicitly.
        value = action.annotation("provide-api-key", True)
        return value is True or value == "true"

    async def execute(self, job: Job) -> Outcome:
        msg, action = job.msg, job.action
        timeout_ms = action.limits.timeout
        start = _now_ms()
        annotations: list[dict[str, Any]] = [
            {"key": "path", "value": job.fqn_path},
            {"key": "waitTime", "value": max(0, start - msg.start)},
            {"key": "kind", "value": action.exec.kind},
            {"key": "timeout", "value": False},
            {"key": "limits", "value": action.limits.to_json()},
        ]
        if msg.caused_by:
            annotations.append({"key": "causedBy", "value": msg.caused_by})
        if msg.binding:
            annotations.append({"key": "binding", "value": msg.binding})
        logs: list[LogLine] = []
        response: Response | None = None
        timed_out = False

        if not self.initialized:
            env = {p["key"]: _env_value(p.get("value")) for p in action.parameters
                   if p.get("init") and p["key"] in msg.init_args}
            env.update(self._ow_env(job, start + timeout_ms))
            value: dict[str, Any] = {"name": action.name, "main": action.exec.main or "main",
                                     "binary": action.exec.binary, "env": env}
            if action.exec.code is not None:
                value["code"] = action.exec.code
            t0 = _now_ms()
            try:
                status, body = await self.conn.post(
                    "/init", orjson.dumps({"value": value}), timeout_ms / 1000)
                response = classify_init(status, body)
            except ResponseTooLarge as exc:
                response = classify_run(200, exc.head, exc.size)
            except TimeoutError:
                timed_out = True
                response = Response.error(Status.DEVELOPER_ERROR,
                                          Messages.TIMEOUT_INIT.format(ms=timeout_ms))
            except ProxyHttpError:
                response = await self._exited(Messages.INIT_EXITED)
            annotations.append({"key": "initTime", "value": _now_ms() - t0})
            if response is None:
                self.initialized = True
                collected = await self.container.collect_logs(self.sentinel_wait_s, True)
                logs.extend(collected.lines)

        if response is None:
            deadline = _now_ms() + timeout_ms
            payload: dict[str, Any] = {
                "value": msg.content,
                "namespace": msg.user.namespace,
                "action_name": f"/{job.fqn_path}",
                "action_version": action.version,
                "activation_id": msg.activation_id,
                "transaction_id": msg.transid,
                "deadline": str(deadline),
            }
            if self._provides_key(action):
                payload["api_key"] = msg.user.api_key
            try:
                status, body = await self.conn.post(
                    "/run", orjson.dumps(payload), timeout_ms / 1000)
                response = classify_run(status, body)
            except ResponseTooLarge as exc:
                response = classify_run(200, exc.head, exc.size)
            except TimeoutError:
                timed_out = True
                response = Response.error(Status.DEVELOPER_ERROR,
                                          Messages.TIMEOUT.format(ms=timeout_ms))
            except ProxyHttpError:
                response = await self._exited(Messages.RUN_EXITED)
        end = _now_ms()

        reusable = response.status in (Status.SUCCESS, Status.APPLICATION_ERROR)
        if timed_out:
            annotations[3] = {"key": "timeout", "value": True}
        lines = await self._logs(action, logs, reusable)
        if msg.secret_args:  # secret parameters: their text never reaches the record
            masker = Masker.for_args(msg.content, msg.secret_args)
            lines = [masker.text(line) for line in lines]
            response = Response(response.status, masker.json(response.result), response.size)
        activation = Activation(
            namespace=msg.user.namespace, name=action.name, subject=msg.user.subject,
            activation_id=msg.activation_id, start=start, end=end, response=response,
            logs=lines, version=action.version, annotations=annotations, cause=msg.cause,
        )
        return Outcome(activation, reusable)

    async def _exited(self, message: str) -> Response:
        """The proxy went away: the memory limit's doing if the backend says so (Docker
        records an OOM kill; processes have no limit), the platform's if the engine killed
        the container (a restart of dockerd), else the action crashed."""
        stop_cause = getattr(self.container, "stop_cause", None)
        cause = await stop_cause(OOM_CHECK_S) if stop_cause is not None else None
        if cause == "oom":
            return Response.error(Status.DEVELOPER_ERROR, Messages.OOM)
        if cause == "killed":
            return Response.error(Status.WHISK_ERROR, KILLED)
        return Response.error(Status.DEVELOPER_ERROR, message)

    async def _logs(self, action: Action, before: list[LogLine], healthy: bool) -> list[str]:
        limit = action.limits.logs * MB
        if limit == 0:
            return []
        # After a developer error the proxy may be dead or stuck: take what is there.
        collected = await self.container.collect_logs(self.sentinel_wait_s if healthy else 0.05,
                                                      healthy)
        out: list[str] = []
        used = 0
        for line in before + collected.lines:
            text = format_log(line)
            used += len(line.text.encode())
            if used > limit:
                out.append(format_log(LogLine(line.time_ns, "stderr",
                                              Messages.LOGS_TRUNCATED.format(n=limit))))
                break
            out.append(text)
        if not healthy:
            out.append(format_log(LogLine(time.time_ns(), "stderr", Messages.DEV_ERROR_LOG)))
        elif not collected.complete:
            out.append(format_log(LogLine(time.time_ns(), "stderr", COLLECT_FAILED)))
        return out
