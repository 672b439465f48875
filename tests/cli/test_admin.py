"""``pwsk admin invokers`` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Run
from tests.servers import Server


def test_invokers_table_and_json(server: Server, home: Path) -> None:
    run = Run(None, ["--apihost", server.url, "-u", server.auth])
    table = run("admin", "invokers")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["invoker", "status"]
    assert any(line.split() == ["invoker0", "up"] for line in lines[1:])
    as_json = run("admin", "invokers", "--json")
    assert json.loads(as_json.stdout)["invoker0"] == "up"


def test_invokers_need_a_key(server: Server, home: Path) -> None:
    result = Run(None, ["--apihost", server.url, "-u", "nobody:wrong"])("admin", "invokers")
    assert result.exit_code != 0 and result.stderr.startswith("error: ")
