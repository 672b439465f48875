"""The container pool on Docker: the process backend's pool tests, then Docker's own."""

from __future__ import annotations

import asyncio
import io
import tarfile
import time

import pytest

from invoker.pool import ContainerPool
from invoker.runner import Job
from pwsk.activation import Status
from pwsk.entities import SKELETON_IMAGE
from pwsk.errors import Messages
from tests.invoker import test_pool as shared
from tests.invoker.test_pool import init_time, job

from .conftest import engine
from .helpers import DockerPool, factory, inspect, invoker_id, with_docker_pool

pytestmark = pytest.mark.docker

# These look at what only processes have (each proxy's pid, its /proc state): their Docker
# versions follow. Every other pool test of tests/invoker runs here unchanged, except the
# stem cell sizing, which needs a dozen containers and does not depend on the backend.
PROCESS_ONLY = {"test_warm_reuse_per_namespace_and_revision",
                "test_idle_containers_are_paused_then_removed",
                "test_stem_cells_follow_a_burst_of_cold_starts"}
SHARED = sorted(n for n in dir(shared) if n.startswith("test_") and n not in PROCESS_ONLY)

WHO = "import socket\ndef main(a):\n    return {'host': socket.gethostname()}\n"


@pytest.mark.parametrize("name", SHARED)
def test_shared_pool_behaviour(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "ProcessFactory", factory)
    monkeypatch.setattr(shared, "ContainerPool", DockerPool)
    getattr(shared, name)()


def test_warm_reuse_per_namespace_and_revision() -> None:
    async def check(pool: ContainerPool) -> None:
        first = await pool.run(job("a", code=WHO), "1-a")
        second = await pool.run(job("a", code=WHO), "1-a")
        assert first.response.status == Status.SUCCESS, first.response.result
        assert init_time(first) is not None and init_time(second) is None
        assert first.response.result == second.response.result  # the same container
        other_ns = await pool.run(job("a", code=WHO, namespace="other"), "1-a")
        assert init_time(other_ns) is not None
        assert other_ns.response.result != first.response.result
        new_rev = await pool.run(job("a", code=WHO), "2-b")
        assert init_time(new_rev) is not None
        assert new_rev.response.result not in (first.response.result,
                                               other_ns.response.result)
        assert len(pool.slots) == 3

    with_docker_pool(check)


def test_idle_containers_are_paused_then_removed() -> None:
    async def check(pool: ContainerPool) -> None:
        await pool.run(job("z"), "1-a")
        slot = pool.slots[0]
        assert slot.runner is not None
        cid = slot.runner.container.id
        await asyncio.sleep(0.3)
        await pool.reap()
        assert slot.paused
        state = inspect(cid)
        assert state is not None and state["State"]["Paused"] is True
        act = await pool.run(job("z"), "1-a")  # resumes the paused container
        assert act.response.status == Status.SUCCESS and init_time(act) is None
        state = inspect(cid)
        assert not slot.paused and state is not None and state["State"]["Paused"] is False
        await asyncio.sleep(1.1)
        await pool.reap()
        assert pool.slots == []
        await _until_gone(cid)

    with_docker_pool(check, pause_grace_s=0.2, idle_timeout_s=1.0)


def test_memory_limit_is_enforced() -> None:
    hog = "def main(a):\n    blob = b'x' * (a['mb'] << 20)\n    return {'len': len(blob)}\n"

    async def check(pool: ContainerPool) -> None:
        fits = await pool.run(job("hog", code=hog, payload={"mb": 16}, memory=128), "1-a")
        assert fits.response.status == Status.SUCCESS, fits.response.result
        slot = pool.slots[0]
        assert slot.runner is not None
        cid = slot.runner.container.id
        host = (inspect(cid) or {})["HostConfig"]
        assert host["Memory"] == host["MemorySwap"] == 128 << 20
        over = await pool.run(job("hog", code=hog, payload={"mb": 400}, memory=128), "1-a")
        # The kernel kills the proxy: no response, a developer error, the container goes.
        assert over.response.status == Status.DEVELOPER_ERROR, over.response.result
        assert over.response.result == {"error": Messages.OOM}
        assert pool.slots == []
        await _until_gone(cid)

    with_docker_pool(check)


def test_nodejs_action_runs_on_node_20() -> None:
    code = "function main(args) {\n  console.log('hi');\n  return {v: process.version};\n}\n"

    async def check(pool: ContainerPool) -> None:
        act = await pool.run(_with_kind(job("n", code=code), "nodejs:20"), "1-a")
        assert act.response.status == Status.SUCCESS, act.response.result
        assert str(act.response.result["v"]).startswith("v20.")
        assert [line.split(": ", 1)[1] for line in act.logs] == ["hi"]

    with_docker_pool(check)


def test_blackbox_skeleton_runs_a_native_exec() -> None:
    script = ("#!/bin/sh\necho \"to the logs\"\necho \"oops\" >&2\n"
              "echo \"{\\\"args\\\": $1, \\\"uid\\\": $(id -u)}\"\n")

    async def check(pool: ContainerPool) -> None:
        action = _with_kind(job("bb", code=script, payload={"x": 1}), "blackbox",
                            image="openwhisk/dockerskeleton")
        act = await pool.run(action, "1-a")
        assert act.response.status == Status.SUCCESS, act.response.result
        assert act.response.result == {"args": {"x": 1}, "uid": 1001}
        texts = sorted(line.split("  ", 1)[1] for line in act.logs)
        assert texts == ["stderr: oops", "stdout: to the logs"]

    with_docker_pool(check)


def test_custom_image_runs_when_present_and_fails_clearly_when_missing() -> None:
    """``--docker IMAGE``: a local image runs with the ``exec`` its Dockerfile put in
    /action (read-only root notwithstanding); a missing one is the developer's error."""
    image = f"pwsk-test/shipped:{invoker_id()}"
    exec_script = b"#!/bin/sh\necho '{\"shipped\": true}'\n"
    build_image(image, f"FROM {SKELETON_IMAGE}\nCOPY exec /action/exec\n",
                {"exec": (exec_script, 0o755)})

    async def check(pool: ContainerPool) -> None:
        present = _with_kind(job("mine"), "blackbox", image=image)
        present.action.exec.code = None  # the image's own exec
        act = await pool.run(present, "1-a")
        assert act.response.status == Status.SUCCESS, act.response.result
        assert act.response.result == {"shipped": True}
        missing = _with_kind(job("gone"), "blackbox", image="pwsk-test/not-here:1")
        act = await pool.run(missing, "1-a")
        assert act.response.status == Status.DEVELOPER_ERROR
        assert act.response.result["error"].startswith(
            "The image 'pwsk-test/not-here:1' is not available on the invoker and could not "
            "be pulled")
        assert [s.key[1] for s in pool.slots if s.key] == ["guest/mine"]

    try:
        with_docker_pool(check)
    finally:
        with engine() as client:
            client.delete(f"/images/{image}", params={"force": "1"})


def build_image(tag: str, dockerfile: str, files: dict[str, tuple[bytes, int]]) -> None:
    """``docker build`` over the Engine API from an in-memory context (no registry)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mode) in {"Dockerfile": (dockerfile.encode(), 0o644),
                                   **files}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    with engine() as client:
        resp = client.post("/build", params={"t": tag, "rm": "1", "forcerm": "1"},
                           content=buf.getvalue(),
                           headers={"Content-Type": "application/x-tar"}, timeout=300)
    resp.raise_for_status()
    assert '"error"' not in resp.text, resp.text


def _with_kind(j: Job, kind: str, image: str | None = None) -> Job:
    j.action.exec.kind = kind
    j.action.exec.image = image
    return j


async def _until_gone(cid: str, limit_s: float = 10) -> None:
    deadline = time.monotonic() + limit_s
    while inspect(cid) is not None:
        if time.monotonic() > deadline:
            raise AssertionError(f"container {cid[:12]} still there")
        await asyncio.sleep(0.05)


def test_a_container_killed_by_the_engine_is_the_platforms_error() -> None:
    """A container the engine kills mid-run (as a dockerd restart does: SIGKILL, exit code
    137, not an OOM kill) is a whisk error; an action that exits by itself is the
    developer's."""
    slow = "import time\ndef main(a):\n    time.sleep(a.get('s', 0))\n    return {}\n"
    quits = "import os\ndef main(a):\n    os._exit(3)\n"

    async def check(pool: ContainerPool) -> None:
        warm = await pool.run(job("slow", code=slow), "1-a")
        assert warm.response.status == Status.SUCCESS, warm.response.result
        slot = pool.slots[0]
        assert slot.runner is not None
        cid = slot.runner.container.id
        running = asyncio.create_task(pool.run(job("slow", code=slow, payload={"s": 8}),
                                               "1-a"))
        await asyncio.sleep(1.0)
        with engine() as client:
            client.post(f"/containers/{cid}/kill", params={"signal": "KILL"}).raise_for_status()
        killed = await asyncio.wait_for(running, 20)
        assert killed.response.status == Status.WHISK_ERROR, killed.response.result
        assert "killed by the platform" in killed.response.result["error"]
        await _until_gone(cid)
        crashed = await pool.run(job("quits", code=quits), "1-a")
        assert crashed.response.status == Status.DEVELOPER_ERROR, crashed.response.result
        assert crashed.response.result == {"error": Messages.RUN_EXITED}

    with_docker_pool(check)
