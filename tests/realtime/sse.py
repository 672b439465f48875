"""A small Server-Sent Events reader over an httpx stream, for tests and the benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass
class Message:
    """One dispatched event (``event`` is ``message`` unless named) or one comment line."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def json(self) -> Any:
        return orjson.loads(self.data)


def messages(lines: Iterator[str]) -> Iterator[Message]:
    """Parse the event-stream format (WHATWG HTML §9.2.6), comments included."""
    current = Message()
    data: list[str] = []
    seen = False
    for line in lines:
        if line == "":
            if seen:
                current.data = "\n".join(data)
                yield current
            current, data, seen = Message(), [], False
            continue
        if line.startswith(":"):
            yield Message(event="", comment=line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        seen = True
        if name == "data":
            data.append(value)
        elif name == "event":
            current.event = value
        elif name == "id":
            current.id = value
        elif name == "retry" and value.isdigit():
            current.retry = int(value)


class Reader:
    """``next()`` skips comments, ``next(comments=True)`` returns them too."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._messages = messages(response.iter_lines())

    def next(self, comments: bool = False) -> Message:
        for message in self._messages:
            if comments or message.comment is None:
                return message
        raise EOFError("the stream ended")

    def events(self, n: int) -> list[Message]:
        return [self.next() for _ in range(n)]
