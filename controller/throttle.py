"""Namespace throttles (spec §6.4): invocations and fires per calendar minute, concurrency.

The rate throttle counts in fixed calendar-minute windows, as OpenWhisk does (not sliding): the
first ``allowed`` requests of a minute pass, every later one in that minute is refused and
counted too, so the message says how many were tried (OpenWhisk's ``RateThrottler``
increments before it compares). The concurrency throttle compares the balancer's in-flight
count for the namespace with its limit; it is checked first and a request it refuses is not
counted by the rate throttle (a fire's rule waiting for a slot must not spend the minute's
allowance on its retries). Limits
come from the namespace's limits document, else from settings. A breach is a 429 with
OpenWhisk's wording.
"""

from __future__ import annotations

import time

from pwsk.errors import Messages, TooManyRequests
from pwsk.messages import Identity
from pwsk.settings import Settings


class TooManyConcurrent(TooManyRequests):
    """The namespace's concurrency limit: a slot frees as soon as an activation ends."""


class MinuteCounter:
    def __init__(self) -> None:
        self._minute = -1
        self._counts: dict[str, int] = {}

    def take(self, namespace: str, allowed: int) -> None:
        minute = int(time.time() // 60)
        if minute != self._minute:
            self._minute, self._counts = minute, {}
        count = self._counts[namespace] = self._counts.get(namespace, 0) + 1
        if count > allowed:
            raise TooManyRequests(Messages.TOO_MANY_PER_MINUTE.format(count=count,
                                                                      allowed=allowed))


class Throttles:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._invokes = MinuteCounter()
        self._fires = MinuteCounter()

    def _limit(self, identity: Identity, key: str, default: int) -> int:
        value = identity.limits.get(key)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else default

    def check_invoke(self, identity: Identity, in_flight: int) -> None:
        """One activation is about to start for ``identity``'s namespace."""
        concurrent = self._limit(identity, "concurrentInvocations",
                                 self.settings.concurrent_invocations)
        if in_flight >= concurrent:
            raise TooManyConcurrent(Messages.TOO_MANY_CONCURRENT.format(count=in_flight,
                                                                      allowed=concurrent))
        self._invokes.take(identity.namespace, self._limit(
            identity, "invocationsPerMinute", self.settings.invocations_per_minute))

    def check_fire(self, identity: Identity) -> None:
        self._fires.take(identity.namespace, self._limit(
            identity, "firesPerMinute", self.settings.fires_per_minute))
