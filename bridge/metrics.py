"""The bridge's counters, and a small HTTP server that shows them in Prometheus' text format.

    GET /metrics   counters and gauges (text/plain; version=0.0.4)
    GET /healthz   200 "ok" while connected to the broker, else 503
    GET /health    what works and what is degraded (JSON; 503 while degraded): the broker
                   connection, and whether pwsk takes fires or they are being retried

The format is simple enough that a dependency would cost more than it saves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

log = logging.getLogger("bridge.metrics")

PREFIX = "pwsk_bridge_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_REQUEST_HEAD = 8192


@dataclass
class Metrics:
    """Everything is a running total except the gauges named in ``GAUGES``."""

    received: int = 0  # MQTT messages taken from the broker
    fired: int = 0  # fires pwsk accepted with 202
    no_rule: int = 0  # fires pwsk accepted with 204 (no active rule)
    retried: int = 0  # failed attempts that were tried again
    dead_lettered: int = 0  # fires written to the dead-letter file
    replayed: int = 0  # journal entries fired again after a restart
    reconnects: int = 0  # broker connections made after the first one
    in_flight: int = 0  # fires running now
    pending: int = 0  # journal entries not yet done (in flight or waiting for a slot)
    connected: int = 0  # 1 while the bridge holds a broker connection

    GAUGES = frozenset({"in_flight", "pending", "connected"})
    HELP = {
        "received": "MQTT messages received and journaled",
        "fired": "Trigger fires accepted by pwsk with an activation (202)",
        "no_rule": "Trigger fires accepted by pwsk without an active rule (204)",
        "retried": "Fire attempts that failed and were retried",
        "dead_lettered": "Fires written to the dead-letter file",
        "replayed": "Journal entries fired again after a restart or a lost connection",
        "reconnects": "Broker connections made after the first",
        "in_flight": "Fires in progress",
        "pending": "Journaled fires not yet done",
        "connected": "1 while connected to the broker",
    }

    def render(self) -> str:
        lines: list[str] = []
        for item in fields(self):
            name = item.name
            gauge = name in self.GAUGES
            metric = PREFIX + name + ("" if gauge else "_total")
            lines.append(f"# HELP {metric} {self.HELP[name]}")
            lines.append(f"# TYPE {metric} {'gauge' if gauge else 'counter'}")
            lines.append(f"{metric} {getattr(self, name)}")
        return "\n".join(lines) + "\n"


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text back into ``{name: value}`` without the prefix and ``_total``."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        values[name.removeprefix(PREFIX).removesuffix("_total")] = float(value)
    return values


class MetricsServer:
    def __init__(self, metrics: Metrics, host: str, port: int,
                 healthy: Callable[[], bool] = lambda: True,
                 report: Callable[[], dict[str, Any]] | None = None) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.healthy = healthy
        self.report = report
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            if len(head) > MAX_REQUEST_HEAD:
                raise ValueError("request head too large")
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            status, body, kind = self._answer(method, path.split("?", 1)[0])
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ValueError, UnicodeDecodeError):
            status, body, kind = "400 Bad Request", "bad request\n", "text/plain"
        payload = body.encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n".encode() + payload
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    def _answer(self, method: str, path: str) -> tuple[str, str, str]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "GET only\n", "text/plain"
        if path == "/metrics":
            return "200 OK", self.metrics.render(), CONTENT_TYPE
        if path == "/healthz":
            if self.healthy():
                return "200 OK", "ok\n", "text/plain"
            return "503 Service Unavailable", "not connected to the broker\n", "text/plain"
        if path == "/health" and self.report is not None:
            report = self.report()
            status = "200 OK" if report.get("status") == "ok" else "503 Service Unavailable"
            return status, json.dumps(report) + "\n", "application/json"
        return "404 Not Found", "try /metrics\n", "text/plain"
