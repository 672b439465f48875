"""Real engines for the tests, started through ``scripts/services`` (as CI and developers do).

An engine the selected tests need is started once, right after collection (so a first run's
install, minutes for Consul, is not charged to one test's timeout). If it cannot be
started, the tests that need it fail with the script's own words: never skipped.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services"

_urls: dict[str, str] = {}
_errors: dict[str, str] = {}


def services(command: str, *engines: str, env: dict[str, str] | None = None,
             timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SERVICES), command, *engines], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL, check=False)


def urls(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """``scripts/services`` prints ``<engine> <url>`` per ready engine on stdout."""
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)


def start(engine: str) -> None:
    """Start ``engine`` unless done already; remember its url or the failure."""
    if engine in _urls or engine in _errors:
        return
    result = services("up", engine)
    url = urls(result).get(engine)
    if result.returncode == 0 and url:
        _urls[engine] = url
    else:
        _errors[engine] = (f"`scripts/services up {engine}` failed (exit {result.returncode}); "
                           f"its output:\n{result.stderr[-4000:]}")


def start_for(items: list[pytest.Item], engine: str) -> None:
    """Start ``engine`` if any of ``items`` carries its marker."""
    if any(item.get_closest_marker(engine) for item in items):
        start(engine)


def url(engine: str) -> str:
    start(engine)
    if engine in _errors:
        pytest.fail(_errors[engine], pytrace=False)
    return _urls[engine]
