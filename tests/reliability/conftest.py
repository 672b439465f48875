"""Fixtures of the reliability suite, and the figures it reports at the end of a run.

Each module adds what it tried to ``FIGURES`` (requests fuzzed, hostile actions, ...); the
terminal summary prints them, so a CI log shows what the suite covered, not only that it
passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.servers import Server, start_server

FIGURES: Counter[str] = Counter()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A standalone of this module's own: fuzzing and hostile actions leave entities, load
    and (on purpose) wreckage that the shared ``server`` of the behaviour suites should not
    see."""
    srv = start_server(tmp_path_factory.mktemp("reliability"))
    yield srv
    srv.stop()


def assert_alive(server: Server) -> None:
    """The server process still runs, answers, and logged no unhandled exception."""
    import httpx

    assert server.proc.poll() is None, f"pwsk exited:\n{server.log()[-4000:]}"
    assert httpx.get(server.url + "/ping", timeout=30).status_code == 200
    log = server.log()
    assert "unhandled error" not in log and "Traceback" not in log, log[-4000:]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for key, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{key}: {value}")


