"""Fixtures for the action proxy tests; the machinery is in proxy_harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtimes.proxy_harness import FAMILIES, Proxy, StartProxy


@pytest.fixture
def start_proxy(tmp_path: Path) -> Iterator[StartProxy]:
    """Start a proxy: ``start_proxy("python", PROXY_ALLOW_REINIT="1")``; stopped at teardown."""
    started: list[Proxy] = []

    def start(family: str, **env: str) -> Proxy:
        workdir = tmp_path / f"{family}-{len(started)}"
        workdir.mkdir()
        proxy = Proxy(family, workdir, env)
        started.append(proxy)
        proxy.wait_ready()
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def proxy(family: str, start_proxy: StartProxy) -> Proxy:
    """A fresh, uninitialised proxy of each family in turn."""
    return start_proxy(family)
