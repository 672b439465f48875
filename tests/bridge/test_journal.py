"""The write-ahead journal and the dead-letter file."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from bridge.journal import DeadLetters, Journal


def test_pending_entries_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.jsonl"
    journal = Journal(path)
    assert journal.open() == []
    first = journal.add("measurement", {"value": 1}, "brewery/mash/level")
    second = journal.add("measurement", {"value": 2}, "brewery/mash/level", error="bad")
    third = journal.add("other", {"value": 3}, "x")
    journal.done(first)
    journal.done(first)  # twice is harmless
    assert journal.pending == 2
    journal.close()

    again = Journal(path)
    owed = again.open()
    assert [(e.seq, e.trigger, e.params, e.error) for e in owed] == [
        (second.seq, "measurement", {"value": 2}, "bad"), (third.seq, "other", {"value": 3}, None)]
    # Sequence numbers continue after the highest one owed.
    assert again.add("t", {}, "x").seq == third.seq + 1
    again.close()
    # Opening compacts: only pending adds are left in the file.
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["op"] for line in lines] == ["add", "add", "add"]


def test_a_torn_last_line_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.open()
    journal.add("t", {"v": 1}, "x")
    journal.close()
    with path.open("ab") as file:
        file.write(b'{"op": "add", "seq": 9, "trig')
    again = Journal(path)
    owed = again.open()
    again.close()
    assert [e.params for e in owed] == [{"v": 1}]
    assert "skipping unreadable line 2" in caplog.text


@pytest.mark.anyio
async def test_sync_is_a_group_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    journal = Journal(tmp_path / "journal.jsonl")
    journal.open()
    monkeypatch.setattr(os, "fsync", counting_fsync)
    for i in range(50):
        journal.add("t", {"i": i}, "x")
    await journal.sync()
    assert len(calls) == 1
    await journal.sync()  # nothing new: no fsync
    assert len(calls) == 1
    journal.close()


@pytest.mark.anyio
async def test_the_file_is_compacted_when_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, compact_bytes=4096)
    journal.open()
    keep = journal.add("t", {"keep": True}, "x")
    for i in range(200):
        journal.done(journal.add("t", {"i": i, "padding": "x" * 50}, "x"))
    await journal.sync()
    assert path.stat().st_size < 4096 + 200
    journal.close()
    again = Journal(path)
    assert [e.seq for e in again.open()] == [keep.seq]
    again.close()


@pytest.mark.anyio
async def test_dead_letters_append(tmp_path: Path) -> None:
    letters = DeadLetters(tmp_path / "dl" / "dead-letter.jsonl")
    assert letters.read() == []
    await letters.write({"trigger": "t", "status": 404})
    await letters.write({"trigger": "u", "status": 400})
    assert [r["trigger"] for r in letters.read()] == ["t", "u"]
