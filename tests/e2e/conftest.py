"""The brewery end to end: one rig (deployed, bridged, brewed once) per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.rig import Rig, shared_rig
from tests.servers import Server


@pytest.fixture(scope="session")
def rig(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with shared_rig(server, tmp_path_factory.mktemp("brewery")) as shared:
        yield shared
