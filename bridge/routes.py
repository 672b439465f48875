"""From an MQTT message to trigger fires: filter matching, params templates, payload decoding.

A message's fire parameters are its payload (a JSON object as it is; any other JSON value,
or text, as ``{"payload": ...}``; bytes that are not UTF-8 as ``{"payload_base64": ...}``)
with the route's ``params`` on top: the configuration, not the device, says which tank a
topic belongs to.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import orjson

from pwsk.limits import json_depth_exceeds

from .config import Route

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class MappingError(ValueError):
    """A message matched a route but its parameters cannot be built (e.g. a missing level)."""


@dataclass(frozen=True, slots=True)
class Fire:
    """One trigger fire owed for one message; with ``error`` it can only be dead-lettered."""

    trigger: str
    params: dict[str, Any]
    topic: str
    error: str | None = None


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 §4.7 matching; wildcards never match a leading ``$`` level."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    want = topic_filter.split("/")
    have = topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True  # also matches the parent: "a/#" matches "a"
        if i >= len(have) or (level != "+" and level != have[i]):
            return False
    return len(want) == len(have)


def decode_payload(payload: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(payload)
        if json_depth_exceeds(value):  # the journal could not write it back out: keep the text
            raise orjson.JSONDecodeError("nested too deep", "", 0)
    except orjson.JSONDecodeError:
        try:
            return {"payload": payload.decode("utf-8")}
        except UnicodeDecodeError:
            return {"payload_base64": base64.b64encode(payload).decode("ascii")}
    return value if isinstance(value, dict) else {"payload": value}


def render(template: str, levels: list[str], topic: str) -> str:
    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name == "topic":
            return topic
        index = int(name)
        if index >= len(levels):
            raise MappingError(f"topic '{topic}' has no level {index}")
        return levels[index]

    return _PLACEHOLDER.sub(sub, template)


def route_params(route: Route, topic: str, payload: bytes) -> dict[str, Any]:
    levels = topic.split("/")
    params = decode_payload(payload)
    for key, value in route.params.items():
        params[key] = render(value, levels, topic) if isinstance(value, str) else value
    return params


class Router:
    """The configured routes, in order; a message may match several (one fire each)."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = list(routes)

    @property
    def filters(self) -> list[str]:
        """Subscription filters, each once."""
        return list(dict.fromkeys(route.topic for route in self.routes))

    def fires(self, topic: str, payload: bytes) -> list[Fire]:
        """One per matching route, in configuration order."""
        found: list[Fire] = []
        for route in self.routes:
            if not matches(route.topic, topic):
                continue
            try:
                found.append(Fire(route.trigger, route_params(route, topic, payload), topic))
            except MappingError as exc:
                found.append(Fire(route.trigger, decode_payload(payload), topic, str(exc)))
        return found
