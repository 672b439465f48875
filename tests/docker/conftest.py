"""The Docker backend's tests need a running engine and the runtime images.

``scripts/test`` provisions both (``scripts/lib/docker.sh``); without them these tests fail,
loudly, rather than skip: a missing engine must never pass for a green run.
"""

from __future__ import annotations

import httpx
import pytest

from invoker.containers.docker import API, engine_available, socket_path
from pwsk.entities import RUNTIMES, SKELETON_IMAGE

IMAGES = [rt.image for rt in RUNTIMES] + [SKELETON_IMAGE]


def engine() -> httpx.Client:
    """A blocking Engine API client, for tests to look at what the backend made."""
    return httpx.Client(transport=httpx.HTTPTransport(uds=socket_path()),
                        base_url=f"http://docker{API}", timeout=30)


@pytest.fixture(scope="session", autouse=True)
def docker_engine() -> None:
    if not engine_available():
        pytest.fail(f"no Docker engine answers on {socket_path()}: run scripts/lib/docker.sh "
                    "(scripts/test does) to install and start one", pytrace=False)
    with engine() as client:
        missing = [image for image in IMAGES
                   if client.get(f"/images/{image}/json").status_code != 200]
    if missing:
        pytest.fail(f"runtime images missing: {', '.join(missing)}; run scripts/lib/docker.sh "
                    "to build them", pytrace=False)
