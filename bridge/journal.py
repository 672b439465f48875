"""The bridge's on-disk records: a write-ahead journal of owed fires, and dead letters.

The journal is why a message is never lost between the broker and pwsk. Every fire the bridge
owes is appended (``add``) before the message is acknowledged to the broker, and marked
``done`` once pwsk accepted it (2xx) or it went to the dead-letter file. At start-up every
``add`` without a ``done`` is fired again. Lines are JSON, one per record:

    {"op": "add", "seq": 7, "trigger": "measurement", "params": {...}, "topic": "...", "received": 1700000000000}
    {"op": "done", "seq": 7}

``sync()`` is a group commit: one ``fsync`` covers every line written before it started, so
acknowledgements wait for the disk without each paying for its own flush. When the file has
grown past ``compact_bytes`` it is rewritten with only the pending entries (write, fsync,
rename).
"""  # noqa: E501

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

log = logging.getLogger("bridge.journal")

COMPACT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """A fire the bridge owes: written before the broker is told the message arrived."""

    seq: int
    trigger: str
    params: dict[str, Any]
    topic: str
    received: int  # epoch ms
    error: str | None = None  # set when the fire cannot be built: it goes to dead letters

    def record(self) -> dict[str, Any]:
        record = {"op": "add", "seq": self.seq, "trigger": self.trigger, "params": self.params,
                  "topic": self.topic, "received": self.received}
        if self.error is not None:
            record["error"] = self.error
        return record


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    def __init__(self, path: Path, *, fsync: bool = True,
                 compact_bytes: int = COMPACT_BYTES) -> None:
        self.path = path
        self.fsync = fsync
        self.compact_bytes = compact_bytes
        self._file: IO[bytes] | None = None
        self._pending: dict[int, Entry] = {}
        self._seq = 0
        self._written = 0  # records written so far (a position to sync up to)
        self._synced = 0
        self._syncing: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def open(self) -> list[Entry]:
        """Read what a previous run left, compact the file, and return the owed fires."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pending: dict[int, Entry] = {}
        if self.path.exists():
            with self.path.open("rb") as file:
                for number, line in enumerate(file, 1):
                    self._replay_line(line, number, pending)
        self._pending = pending
        self._seq = max(pending, default=0)
        self._rewrite()
        return sorted(pending.values(), key=lambda entry: entry.seq)

    def _replay_line(self, line: bytes, number: int, pending: dict[int, Entry]) -> None:
        if not line.strip():
            return
        try:
            record = orjson.loads(line)
            seq = int(record["seq"])
            if record["op"] == "add":
                error = record.get("error")
                pending[seq] = Entry(seq, str(record["trigger"]), dict(record["params"]),
                                     str(record["topic"]), int(record["received"]),
                                     None if error is None else str(error))
            elif record["op"] == "done":
                pending.pop(seq, None)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # A crash mid-write leaves a torn last line; anything else is worth a warning too.
            log.warning("journal %s: skipping unreadable line %d", self.path, number)

    def add(self, trigger: str, params: dict[str, Any], topic: str, *,
            error: str | None = None, received: int | None = None) -> Entry:
        self._seq += 1
        entry = Entry(self._seq, trigger, params, topic,
                      received if received is not None else int(time.time() * 1000), error)
        self._write(entry.record())
        self._pending[entry.seq] = entry
        return entry

    def done(self, entry: Entry) -> None:
        if self._pending.pop(entry.seq, None) is None:
            return
        self._write({"op": "done", "seq": entry.seq})
        if (self._syncing is None and self._file is not None
                and self._file.tell() > self.compact_bytes):
            self._rewrite()

    @property
    def position(self) -> int:
        """How many records have been written; ``sync(position)`` waits for them to be durable."""
        return self._written

    async def sync(self, position: int | None = None) -> None:
        """Return once every record up to ``position`` (default: all so far) is on disk."""
        target = self._written if position is None else position
        while self._synced < target:
            if self._syncing is None:
                self._syncing = asyncio.create_task(self._sync_once())
            await asyncio.shield(self._syncing)

    async def _sync_once(self) -> None:
        try:
            upto = self._written
            file = self._require()
            file.flush()
            if self.fsync:
                await asyncio.to_thread(os.fsync, file.fileno())
            self._synced = max(self._synced, upto)
        finally:
            self._syncing = None

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            self._synced = self._written

    def _require(self) -> IO[bytes]:
        if self._file is None:
            raise RuntimeError("the journal is not open")
        return self._file

    def _write(self, record: dict[str, Any]) -> None:
        file = self._require()
        file.write(orjson.dumps(record) + b"\n")
        self._written += 1

    def _rewrite(self) -> None:
        """Replace the file with one holding only the pending entries."""
        if self._file is not None:
            self._file.close()
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            for entry in sorted(self._pending.values(), key=lambda e: e.seq):
                out.write(orjson.dumps(entry.record()) + b"\n")
            out.flush()
            if self.fsync:
                os.fsync(out.fileno())
        os.replace(tmp, self.path)
        if self.fsync:
            _fsync_dir(self.path.parent)
        self._file = self.path.open("ab")
        self._synced = self._written


class DeadLetters:
    """Append-only JSONL of fires that will not be retried; each line is on disk when
    ``write`` returns, so the journal may then forget the fire."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._lock = asyncio.Lock()

    async def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record) + b"\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:
            file.write(line)
            file.flush()
            if self.fsync:
                os.fsync(file.fileno())

    def read(self) -> list[dict[str, Any]]:
        """Every record so far (for tools and tests)."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as file:
            return [orjson.loads(line) for line in file if line.strip()]
