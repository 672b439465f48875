"""The process backend's fork server: forked Python proxies behave like spawned ones."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from invoker.containers.base import ContainerSpec
from invoker.containers.process import ProcessContainer, ProcessFactory, _Forked

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs Linux pidfds")


def _spec(name: str = "t") -> ContainerSpec:
    return ContainerSpec("python", "python:3.11", 256, name)


async def _call(container: ProcessContainer, path: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://{container.host}:{container.port}") as c:
        return await c.post(path, json=body, timeout=30)


async def _init(container: ProcessContainer, code: str, binary: bool = False) -> None:
    await container.wait_ready(30)
    r = await _call(container, "/init", {"value": {"code": code, "main": "main",
                                                   "binary": binary}})
    assert r.status_code == 200, r.text
    await container.collect_logs(5, True)


def _run(body: Callable[[ProcessFactory], Awaitable[None]], fork: bool = True) -> None:
    async def main() -> None:
        factory = ProcessFactory("http://127.0.0.1:1", fork=fork)
        try:
            await body(factory)
        finally:
            await factory.aclose()

    asyncio.run(main())


ACTION = """
import os, subprocess, sys
def main(args):
    print("out", os.environ.get("PWSK_SECRET_OF_INVOKER"), os.environ["__OW_ACTION_NAME"])
    print("err", file=sys.stderr)
    code = subprocess.run(["true"]).returncode
    with open("/proc/self/environ", "rb") as f:
        leaked = b"PWSK_SECRET_OF_INVOKER" in f.read()
    return {"code": code, "cwd": os.getcwd(), "argv": sys.argv[1:], "leaked": leaked}
"""


def test_forked_proxy_runs_logs_and_sees_only_its_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PWSK_SECRET_OF_INVOKER", "leaked")

    async def body(factory: ProcessFactory) -> None:
        container = await factory.create(_spec())
        assert isinstance(container._proc, _Forked)  # it came from the fork server
        await _init(container, ACTION)
        r = await _call(container, "/run", {"value": {}, "action_name": "/guest/x"})
        assert r.status_code == 200
        result = r.json()
        assert result["code"] == 0  # SIGCHLD is back to default: subprocesses report status
        assert result["cwd"].endswith("action")
        assert result["argv"] == ["--port", str(container.port)]
        assert result["leaked"] is False  # not even in the initial environment block
        logs = await container.collect_logs(5, True)
        assert logs.complete
        assert [(x.stream, x.text) for x in logs.lines] == [
            ("stdout", "out None /guest/x"), ("stderr", "err")]
        await container.destroy()
        assert not container.alive

    _run(body)


def _zip(files: dict[str, str]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return base64.b64encode(buf.getvalue()).decode()


def test_action_modules_named_like_the_proxy_are_the_actions_own() -> None:
    code = _zip({"__main__.py": "import proxy, zygote\n"
                                "def main(args):\n    return {'p': proxy.X, 'z': zygote.X}\n",
                 "proxy.py": "X = 'mine'\n", "zygote.py": "X = 'mine too'\n"})

    async def body(factory: ProcessFactory) -> None:
        container = await factory.create(_spec())
        await _init(container, code, binary=True)
        r = await _call(container, "/run", {"value": {}})
        assert r.json() == {"p": "mine", "z": "mine too"}
        await container.destroy()

    _run(body)


def test_an_exiting_action_is_seen_dead() -> None:
    async def body(factory: ProcessFactory) -> None:
        container = await factory.create(_spec())
        await _init(container, "import sys\ndef main(args):\n    sys.exit(3)\n")
        with pytest.raises(httpx.HTTPError):
            await _call(container, "/run", {"value": {}})
        await _eventually(lambda: not container.alive)
        await container.destroy()

    _run(body)


def test_destroy_kills_the_actions_children() -> None:
    code = ("import subprocess\ndef main(args):\n"
            "    p = subprocess.Popen(['sleep', '60'])\n    return {'pid': p.pid}\n")

    async def body(factory: ProcessFactory) -> None:
        container = await factory.create(_spec())
        await _init(container, code)
        pid = (await _call(container, "/run", {"value": {}})).json()["pid"]
        await container.destroy()
        await _eventually(lambda: _state(pid) in ("gone", "Z"))

    _run(body)


async def _eventually(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_without_a_fork_server_or_after_it_dies_proxies_are_spawned() -> None:
    async def without(factory: ProcessFactory) -> None:
        container = await factory.create(_spec())
        assert not isinstance(container._proc, _Forked)
        await _init(container, "def main(args):\n    return {'ok': 1}\n")
        await container.destroy()

    _run(without, fork=False)

    async def dies(factory: ProcessFactory) -> None:
        first = await factory.create(_spec())
        await first.wait_ready(30)
        assert factory.fork_server is not None and factory.fork_server._finalizer is not None
        factory.fork_server._finalizer()  # the zygote is gone
        second = await factory.create(_spec())
        assert not isinstance(second._proc, _Forked)
        await _init(second, "def main(args):\n    return {'ok': 1}\n")
        assert (await _call(second, "/run", {"value": {}})).json() == {"ok": 1}
        await _eventually(lambda: not first.alive)  # its proxies die with it (PDEATHSIG)
        for c in (first, second):
            await c.destroy()

    _run(dies)
