"""The Consul registry of the distributed stack: a thin client of Consul's HTTP API (httpx).

``consul://host:port[?prefix=&token=&timeout=&deregister_after=]``

- Ids: ``<root>/ids/<unique name>`` holds an invoker's id; ``<root>/next-id`` the next free
  one. A new name takes the next id and bumps the counter in one transaction of two
  check-and-set operations, so concurrent claims never share an id, none is skipped, and a
  restarted invoker finds its old id.
- Registration: a service ``pwsk-invoker`` with id ``invoker<N>``, the unique name and
  memory in its meta, and a TTL check that ``heartbeat`` passes. Consul turns the check
  critical when a TTL goes by without one, and removes the service after
  ``deregister_after`` (Consul's minimum is a minute) of being critical.
- ``invokers`` and ``watch`` read ``/v1/health/service/pwsk-invoker``: live means every
  check is passing (the TTL check and the node's own). ``watch`` uses blocking queries.

A ``prefix`` (tests) moves the KV root and renames the service and its ids, so several
registries can share one agent without seeing each other.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import structlog

from ..errors import InternalError, ServiceUnavailable
from .base import InvokerInfo

logger = structlog.get_logger("pwsk.registry.consul")

WATCH_WAIT_S = 10  # how long one blocking query may hang before it returns unchanged
RETRY_MAX_S = 5.0


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


class ConsulRegistry:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "consul" or not parts.hostname:
            raise ValueError(f"not a consul://host:port url: {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.base_url = f"http://{parts.hostname}:{parts.port or 8500}"
        prefix = query.get("prefix", "")
        self.kv_root = f"{prefix}/pwsk/invokers" if prefix else "pwsk/invokers"
        self.service = f"{prefix}-pwsk-invoker" if prefix else "pwsk-invoker"
        self._id_prefix = f"{prefix}-invoker" if prefix else "invoker"
        self.timeout_s = float(query.get("timeout", 5.0))
        self.deregister_after = query.get("deregister_after", "1m")
        self._headers = {"X-Consul-Token": query["token"]} if "token" in query else {}
        self._client: httpx.AsyncClient | None = None
        self._registered: dict[int, tuple[InvokerInfo, float]] = {}
        self._watch_error = ""  # why the last watch query failed; "" once one worked

    def health(self) -> dict[str, str]:
        """``{"status": "up"}``, or ``"down"`` while the watch cannot reach the agent."""
        if self._watch_error:
            return {"status": "down", "reason": self._watch_error}
        return {"status": "up"}

    # --- plumbing ---------------------------------------------------------------------

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=self._headers,
                                             timeout=self.timeout_s)
        return self._client

    async def start(self) -> None:
        self.client  # noqa: B018  (the client connects lazily; this only builds it)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,),
                       **kwargs: Any) -> httpx.Response:
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(engine="consul", url=self.base_url,
                                     reason=repr(exc)) from exc
        if response.status_code in ok:
            return response
        detail: dict[str, Any] = {"engine": "consul", "method": method, "path": path,
                                  "status": response.status_code, "body": response.text[:500]}
        if response.status_code >= 500:
            raise ServiceUnavailable(**detail)
        raise InternalError(**detail)

    def service_id(self, instance: int) -> str:
        return f"{self._id_prefix}{instance}"

    def check_id(self, instance: int) -> str:
        return f"{self.service_id(instance)}-heartbeat"

    # --- ids ------------------------------------------------------------------------------

    async def claim_invoker_id(self, unique_name: str) -> int:
        key = f"{self.kv_root}/ids/{quote(unique_name, safe='')}"
        counter = f"{self.kv_root}/next-id"
        while True:
            mine = await self._get_kv(key)
            if mine is not None:
                return int(mine[0])
            current = await self._get_kv(counter)
            next_id, index = (int(current[0]), current[1]) if current else (0, 0)
            ops = [{"KV": {"Verb": "cas", "Key": counter, "Value": _b64(str(next_id + 1)),
                           "Index": index}},
                   {"KV": {"Verb": "cas", "Key": key, "Value": _b64(str(next_id)),
                           "Index": 0}}]
            response = await self._request("PUT", "/v1/txn", json=ops, ok=(200, 409))
            if response.status_code == 200:
                return next_id
            # 409: another claim moved the counter or took this name first; look again.

    async def _get_kv(self, key: str) -> tuple[str, int] | None:
        response = await self._request("GET", f"/v1/kv/{quote(key)}", ok=(200, 404))
        if response.status_code == 404:
            return None
        entry = response.json()[0]
        return base64.b64decode(entry["Value"] or "").decode(), int(entry["ModifyIndex"])

    # --- registration ---------------------------------------------------------------------

    async def register_invoker(self, info: InvokerInfo, ttl_s: float) -> None:
        body = {
            "ID": self.service_id(info.instance),
            "Name": self.service,
            "Meta": {"instance": str(info.instance), "unique_name": info.unique_name,
                     "user_memory_mb": str(info.user_memory_mb)},
            "Check": {"CheckID": self.check_id(info.instance), "Name": "heartbeat",
                      "TTL": f"{int(ttl_s * 1000)}ms", "Status": "passing",
                      "DeregisterCriticalServiceAfter": self.deregister_after},
        }
        await self._request("PUT", "/v1/agent/service/register", json=body)
        self._registered[info.instance] = (info, ttl_s)

    async def heartbeat(self, instance: int) -> None:
        response = await self._request(
            "PUT", f"/v1/agent/check/pass/{quote(self.check_id(instance))}", ok=(200, 404))
        if response.status_code == 404 and instance in self._registered:
            # The agent forgot us (it restarted, or reaped us after a long pause): re-register.
            logger.warning("invoker unknown to consul; registering again", instance=instance)
            info, ttl_s = self._registered[instance]
            await self._restore_claim(info)
            await self.register_invoker(info, ttl_s)

    async def _restore_claim(self, info: InvokerInfo) -> None:
        """Write our id claim back (an agent that restarted may have lost its KV store, as a
        dev agent does), and move the counter past it, so no new invoker takes our id."""
        key = f"{self.kv_root}/ids/{quote(info.unique_name, safe='')}"
        counter = f"{self.kv_root}/next-id"
        while True:
            current = await self._get_kv(counter)
            next_id, index = (int(current[0]), current[1]) if current else (0, 0)
            ops: list[dict[str, Any]] = [
                {"KV": {"Verb": "set", "Key": key, "Value": _b64(str(info.instance))}}]
            if next_id <= info.instance:
                ops.append({"KV": {"Verb": "cas", "Key": counter,
                                   "Value": _b64(str(info.instance + 1)), "Index": index}})
            response = await self._request("PUT", "/v1/txn", json=ops, ok=(200, 409))
            if response.status_code == 200:
                return

    async def deregister_invoker(self, instance: int) -> None:
        self._registered.pop(instance, None)
        await self._request("PUT", f"/v1/agent/service/deregister/"
                                   f"{quote(self.service_id(instance))}", ok=(200, 404))

    # --- discovery ------------------------------------------------------------------------

    async def invokers(self) -> list[InvokerInfo]:
        return self._parse((await self._health()).json())

    async def _health(self, index: int = 0) -> httpx.Response:
        params: dict[str, str | int] = {}
        timeout = self.timeout_s
        if index:
            params = {"index": index, "wait": f"{WATCH_WAIT_S}s"}
            timeout += WATCH_WAIT_S * 17 / 16  # Consul adds up to wait/16 of jitter
        return await self._request("GET", f"/v1/health/service/{quote(self.service)}",
                                   params=params, timeout=timeout)

    @staticmethod
    def _parse(entries: list[dict[str, Any]]) -> list[InvokerInfo]:
        invokers = []
        for entry in entries:
            meta = entry["Service"].get("Meta") or {}
            try:
                info = InvokerInfo(int(meta["instance"]), meta["unique_name"],
                                   int(meta["user_memory_mb"]),
                                   live=all(c["Status"] == "passing" for c in entry["Checks"]))
            except (KeyError, ValueError):
                logger.warning("ignoring a malformed invoker registration",
                               service=json.dumps(entry["Service"])[:500])
                continue
            invokers.append(info)
        return sorted(invokers, key=lambda info: info.instance)

    async def watch(self) -> AsyncIterator[list[InvokerInfo]]:
        index, last, delay = 0, None, 0.1
        while True:
            try:
                response = await self._health(index)
            except ServiceUnavailable as exc:
                logger.warning("consul watch retrying", error=repr(exc), retry_in_s=delay)
                self._watch_error = "consul unreachable"
                await asyncio.sleep(delay)
                delay, index = min(delay * 2, RETRY_MAX_S), 0
                continue
            delay, self._watch_error = 0.1, ""
            new_index = int(response.headers.get("X-Consul-Index", 0))
            # Consul's rules: an index that went backwards (agent restart) starts over.
            index = new_index if new_index > index else (0 if new_index < index else index)
            current = self._parse(response.json())
            if current != last:
                last = current
                yield current
            if not index:
                await asyncio.sleep(delay)  # no index to block on: do not spin
