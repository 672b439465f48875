"""A container's stdout and stderr as lines, cut into activations at the sentinels (spec §4.4).

Every backend feeds the lines its proxy writes into one ``LogBuffer`` (a reader task per
pipe for processes, one demultiplexed Docker log stream for containers), so that
``collect_logs`` behaves the same whatever runs the proxy: after each ``/init`` and ``/run``
the proxy writes the sentinel on both streams, and a collection hands out, per stream, the
lines up to the next sentinel.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from .base import CollectedLogs, LogLine

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
# A proxy printing without newlines must not grow one line without end.
MAX_LINE = 64 * 1024
STREAMS = ("stdout", "stderr")


class _Stream:
    """One stream's lines, and where the sentinels fell."""

    def __init__(self) -> None:
        self.lines: list[LogLine] = []
        self.sentinels: list[int] = []  # indexes into lines
        self.consumed = 0
        self.closed = False
        self.changed = asyncio.Event()

    def pending_sentinel(self) -> int | None:
        # One activation at a time per container, so every sentinel here is the current
        # activation's: the proxy's own comes last, after any the action printed itself.
        return self.sentinels[-1] if self.sentinels else None


class LogBuffer:
    """The lines of both streams of one container, handed out one activation at a time."""

    def __init__(self) -> None:
        self._streams = {name: _Stream() for name in STREAMS}

    def add(self, stream: str, text: str, time_ns: int | None = None) -> None:
        """One line, without its newline; ``time_ns`` defaults to now."""
        target = self._streams[stream]
        stamp = time.time_ns() if time_ns is None else time_ns
        if text == SENTINEL:
            target.sentinels.append(len(target.lines))
            target.lines.append(LogLine(stamp, "", ""))
        else:
            target.lines.append(LogLine(stamp, "", text[:MAX_LINE]))
        target.changed.set()

    def close(self, stream: str) -> None:
        """Nothing more will come on ``stream`` (the proxy exited)."""
        target = self._streams[stream]
        target.closed = True
        target.changed.set()

    @property
    def closed(self) -> bool:
        return all(s.closed for s in self._streams.values())

    def tail(self, n: int) -> list[str]:
        """The last ``n`` lines of each stream, for error messages."""
        return [line.text for s in self._streams.values() for line in s.lines[-n:] if line.text]

    async def collect(self, wait_s: float, sentinels: bool) -> CollectedLogs:
        """Lines since the last call, up to the next sentinel on each stream.

        With ``sentinels`` it waits up to ``wait_s`` for them, and says whether both came;
        without, it takes whatever is there.
        """
        deadline = time.monotonic() + wait_s
        out: list[LogLine] = []
        complete = True
        for name, stream in self._streams.items():
            end = stream.pending_sentinel()
            while sentinels and end is None and not stream.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                stream.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.changed.wait(), remaining)
                end = stream.pending_sentinel()
            if end is None:
                complete = complete and not sentinels
                end = len(stream.lines)
                nxt = end
            else:
                nxt = end + 1
            forged = set(stream.sentinels)  # printed by the action: not shown, not a cut
            out.extend(LogLine(line.time_ns, name, line.text)
                       for i, line in enumerate(stream.lines[stream.consumed:end],
                                                stream.consumed) if i not in forged)
            # Drop what was handed out: a long-lived container hoards nothing, and the
            # next collection starts at line 0 of what is left.
            del stream.lines[:nxt]
            stream.sentinels = [i - nxt for i in stream.sentinels if i >= nxt]
            stream.consumed = 0
        out.sort(key=lambda line: line.time_ns)
        return CollectedLogs(out, complete)


class LineSplitter:
    """Bytes as they arrive → whole lines, for sources that do not frame by line.

    A line keeps the time its first byte arrived; one longer than ``MAX_LINE`` is handed
    out in pieces, as the process backend's pipe reader does.
    """

    def __init__(self, buffer: LogBuffer, stream: str) -> None:
        self._buffer = buffer
        self._stream = stream
        self._pending = bytearray()
        self._since: int | None = None

    def feed(self, data: bytes, time_ns: int | None = None) -> None:
        if not data:
            return
        if self._since is None:
            self._since = time_ns
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            self._pending += data[start:nl]
            self._emit()
            self._since = time_ns
            start = nl + 1
        self._pending += data[start:]
        if not self._pending:
            self._since = None
        while len(self._pending) >= MAX_LINE:
            piece = bytes(self._pending[:MAX_LINE])
            del self._pending[:MAX_LINE]
            self._buffer.add(self._stream, piece.decode("utf-8", "replace"), self._since)

    def _emit(self) -> None:
        text = self._pending.decode("utf-8", "replace")
        self._pending.clear()
        self._buffer.add(self._stream, text, self._since)

    def close(self) -> None:
        if self._pending:
            self._emit()
        self._buffer.close(self._stream)
