"""Firing one trigger until pwsk takes it, or giving up into the dead-letter file.

Outcomes of one ``POST /api/v1/namespaces/{ns}/triggers/{name}``:

    2xx (202 fired, 204 no active rule)   done
    408, 429, 5xx, no answer               retry with exponential back-off (jittered)
    any other 4xx                          dead letter at once: retrying cannot help
    still failing after give_up_after      dead letter

A 429 means the namespace is over its fire rate, so it slows every fire, not only the one that
got it: the next tries of all fires wait until ``Retry-After`` (or the back-off) has passed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from pwsk.client import AsyncClient, Call, ClientError, quote_segment
from pwsk.errors import PwskError
from pwsk.names import parse_fqn

from .config import ApiSettings, RetrySettings
from .journal import DeadLetters, Entry
from .metrics import Metrics

log = logging.getLogger("bridge.firer")

Result = Literal["fired", "no_rule", "dead_letter"]
Sleep = Callable[[float], Awaitable[None]]
# A throttled namespace gets at least this pause even when the server names none: pwsk counts
# fires per calendar minute, so hammering it sooner only burns attempts.
MIN_THROTTLE_PAUSE = 1.0
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    attempts: int
    status: int  # last HTTP status, 0 when there was no answer
    activation_id: str | None = None
    error: str | None = None


def retryable(status: int) -> bool:
    return status in (0, 408, 429) or status >= 500


def retry_after(response: httpx.Response | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    if response is None:
        return None
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _error_text(response: httpx.Response) -> str:
    return ClientError.from_response(response).error


class Firer:
    def __init__(self, api: ApiSettings, retry: RetrySettings, metrics: Metrics,
                 dead_letters: DeadLetters, *, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Sleep = asyncio.sleep, rng: random.Random | None = None) -> None:
        self.api = api
        self.retry = retry
        self.metrics = metrics
        self.dead_letters = dead_letters
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._not_before = 0.0  # monotonic time before which no fire is sent (after a 429)
        self.failing: str | None = None  # why the last attempt failed, until a fire succeeds
        self.client = AsyncClient(
            api.host, api.key, namespace=api.namespace, insecure=api.insecure,
            timeout=httpx.Timeout(api.timeout, connect=min(api.timeout, 5.0)),
            user_agent="pwsk-bridge", transport=transport,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _call(self, trigger: str, params: dict[str, Any]) -> Call[httpx.Response]:
        fqn = parse_fqn(trigger, self.api.namespace)
        path = f"/namespaces/{quote_segment(fqn.namespace)}/triggers/{quote_segment(fqn.name)}"
        return Call("POST", path, lambda response: response, body=params, check=False)

    def backoff(self, attempt: int) -> float:
        """The pause after failed attempt ``attempt`` (1-based): doubling, capped, jittered
        to between half and all of it, so fires that failed together do not retry together."""
        ceiling = min(self.retry.max, self.retry.initial * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    async def _wait_throttle(self) -> None:
        # Once: if another 429 extends the pause meanwhile, the next answer says so again.
        if (pause := self._not_before - time.monotonic()) > 0:
            await self._sleep(pause)

    async def fire(self, entry: Entry) -> Outcome:
        """Fire until done or dead-lettered; never raises for HTTP or network trouble."""
        started = time.monotonic()
        attempt = 0
        if entry.error is not None:
            return await self._dead_letter(entry, 0, 0, entry.error, started)
        try:
            call = self._call(entry.trigger, entry.params)
        except PwskError as exc:  # a journal entry from an older, different configuration
            return await self._dead_letter(entry, 0, 0, exc.message, started)
        while True:
            attempt += 1
            await self._wait_throttle()
            response: httpx.Response | None = None
            try:
                response = await self.client.send(call)
                status, error = response.status_code, None
            except ClientError as exc:  # NetworkError: no answer at all
                status, error = exc.status, exc.error
            if response is not None and response.is_success:
                self.failing = None
                return self._success(response, attempt)
            if response is not None:
                error = _error_text(response)
            if not retryable(status):
                return await self._dead_letter(entry, attempt, status, error, started)
            self.failing = f"{status or 'no answer'}: {error}"
            pause = self.backoff(attempt)
            if status == 429:
                pause = max(retry_after(response) or 0.0, pause, MIN_THROTTLE_PAUSE)
                self._not_before = max(self._not_before, time.monotonic() + pause)
            if time.monotonic() + pause - started > self.retry.give_up_after:
                return await self._dead_letter(entry, attempt, status, error, started)
            self.metrics.retried += 1
            log.info("fire %s (seq %d) failed with %s (%s); retry %d in %.2fs", entry.trigger,
                     entry.seq, status or "no answer", error, attempt, pause)
            await self._sleep(pause)

    def _success(self, response: httpx.Response, attempts: int) -> Outcome:
        if response.status_code == 204 or not response.content:
            self.metrics.no_rule += 1
            return Outcome("no_rule", attempts, response.status_code)
        activation_id = None
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("activationId"), str):
                activation_id = body["activationId"]
        except ValueError:
            pass
        self.metrics.fired += 1
        return Outcome("fired", attempts, response.status_code,
                       activation_id or response.headers.get("x-openwhisk-activation-id"))

    async def _dead_letter(self, entry: Entry, attempts: int, status: int, error: str | None,
                           started: float) -> Outcome:
        await self.dead_letters.write({
            "trigger": entry.trigger, "params": entry.params, "topic": entry.topic,
            "received": entry.received, "status": status, "error": error,
            "attempts": attempts, "gave_up_after_s": round(time.monotonic() - started, 3),
            "at": int(time.time() * 1000),
        })
        self.metrics.dead_lettered += 1
        log.warning("fire %s (seq %d) dead-lettered after %d attempt(s): %s %s", entry.trigger,
                    entry.seq, attempts, status or "no answer", error)
        return Outcome("dead_letter", attempts, status, error=error)
