"""Info endpoints and namespaces: ``/``, ``/api/v1``, ``/ping``, ``/namespaces``, limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

import pwsk
from pwsk.entities import runtime_families
from pwsk.errors import Forbidden
from pwsk.limits import DEFAULT_BOUNDS, MB, SEQUENCE_MAX_LENGTH, NamespaceLimits

from ..deps import Caller, Ctl, namespace_of

router = APIRouter()


@router.get("/", summary="Deployment information: limits and runtimes")
async def root(ctl: Ctl) -> dict[str, Any]:
    s, b = ctl.settings, DEFAULT_BOUNDS
    return {
        "description": "OpenWhisk",
        "support": {"github": "https://github.com/pwsk/pwsk/issues", "slack": ""},
        "api_paths": ["/api/v1"],
        "limits": {
            "actions_per_minute": s.invocations_per_minute,
            "triggers_per_minute": s.fires_per_minute,
            "concurrent_actions": s.concurrent_invocations,
            "sequence_length": SEQUENCE_MAX_LENGTH,
            "min_action_duration": b.timeout.lo,
            "max_action_duration": b.timeout.hi,
            "min_action_memory": b.memory.lo * MB,
            "max_action_memory": b.memory.hi * MB,
            "min_action_logs": b.logs.lo * MB,
            "max_action_logs": b.logs.hi * MB,
            "default_min_action_duration": b.timeout.lo,
            "default_max_action_duration": b.timeout.hi,
            "default_min_action_memory": b.memory.lo * MB,
            "default_max_action_memory": b.memory.hi * MB,
            "default_min_action_logs": b.logs.lo * MB,
            "default_max_action_logs": b.logs.hi * MB,
        },
        "runtimes": runtime_families(),
    }


@router.get("/api/v1", summary="API version information")
async def api_info() -> dict[str, Any]:
    return {
        "description": "OpenWhisk API",
        "api_version": "1.0.0",
        "api_version_path": "v1",
        "build": "pwsk",
        "buildno": pwsk.__version__,
        "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
    }


@router.get("/ping", response_class=PlainTextResponse, summary="Liveness")
async def ping() -> str:
    return "pong"


@router.get("/health", summary="What works and what is degraded (503 while degraded)")
async def health(ctl: Ctl, request: Request) -> JSONResponse:
    report = ctl.balancer.health()
    probe = getattr(ctl.store, "health", None)  # the CouchDB store probes its server
    if probe is not None:
        report["store"] = await probe()
        if report["store"]["status"] != "up":
            report["status"] = "degraded"
    # Standalone's in-process invoker: its container engine (Docker's answers /_ping).
    engine = getattr(getattr(request.app.state, "containers", None), "health", None)
    if engine is not None:
        report["containers"] = await engine()
        if report["containers"]["status"] != "up":
            report["status"] = "degraded"
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


@router.get("/invokers", summary="Invoker health: up, unhealthy, unresponsive or down")
async def invokers(caller: Caller, ctl: Ctl) -> dict[str, str]:
    return ctl.balancer.invoker_states()


@router.get("/invokers/healthy/count", summary="How many invokers are up")
async def healthy_count(caller: Caller, ctl: Ctl) -> int:
    return sum(s == "up" for s in ctl.balancer.invoker_states().values())


@router.get("/api/v1/namespaces", summary="The caller's namespaces")
async def namespaces(caller: Caller) -> list[str]:
    return [caller.namespace]


@router.get("/api/v1/namespaces/{ns}/limits", summary="A namespace's limits")
async def limits(ns: str, caller: Caller, ctl: Ctl) -> dict[str, Any]:
    if namespace_of(caller, ns) != caller.namespace:
        raise Forbidden()
    s = ctl.settings
    lim = NamespaceLimits(
        invocationsPerMinute=caller.limits.get("invocationsPerMinute", s.invocations_per_minute),
        concurrentInvocations=caller.limits.get("concurrentInvocations",
                                                s.concurrent_invocations),
        firesPerMinute=caller.limits.get("firesPerMinute", s.fires_per_minute),
        allowedKinds=caller.limits.get("allowedKinds"),
        storeActivations=caller.limits.get("storeActivations", True),
    )
    return lim.to_json()
