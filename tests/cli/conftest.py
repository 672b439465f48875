"""Fixtures for the CLI and client tests.

``fake`` is a scripted OpenWhisk: tests register answers per ``(method, path)`` and read back
the requests the client made, so request building and output formatting are checked without
a server. ``run`` invokes the CLI in-process against it (or against any apihost).
The end-to-end tests use the session ``server`` fixture from ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from pwsk.cli.common import State
from pwsk.cli.main import cli

GUEST = (
    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
    "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
)
FAKE_HOST = "http://whisk.test:3233"
TID = "a" * 32

Answer = tuple[int, Any] | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeWhisk:
    """Answers requests from a table; unknown routes get OpenWhisk's 404 body."""

    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, status: int = 200, body: Any = None) -> None:
        self.answers[(method, path)] = (status, body)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.get((request.method, request.url.raw_path.split(b"?")[0].decode()))
        if answer is None:
            body = {"error": "The requested resource does not exist.", "code": TID}
            return httpx.Response(404, json=body)
        if callable(answer):
            return answer(request)
        status, body = answer
        if body is None:
            return httpx.Response(status)
        return httpx.Response(status, json=body)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


@pytest.fixture
def fake() -> FakeWhisk:
    return FakeWhisk()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME and no WSK_*/WHISK_* settings leaking in from the environment."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("WSK_CONFIG_FILE", "WHISK_APIHOST", "WHISK_AUTH", "WHISK_APIVERSION"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@dataclass
class Run:
    """Call the CLI in-process: ``run("action", "list")`` → click's ``Result``."""

    transport: httpx.BaseTransport | None
    prefix: list[str]

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        state = State(transport=self.transport)
        return runner.invoke(cli, [*self.prefix, *args], obj=state, input=input)


@pytest.fixture
def run(fake: FakeWhisk, home: Path) -> Iterator[Run]:
    yield Run(fake.transport(), ["--apihost", FAKE_HOST, "-u", GUEST])
