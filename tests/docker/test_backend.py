"""The Docker backend on its own: hardening, logs, images, cleanup, reaching the API host."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from invoker.containers import open_factory
from invoker.containers.base import ContainerSpec, ContainerStartError
from invoker.containers.docker import DockerContainer, DockerFactory, ImageUnavailable
from invoker.containers.logs import SENTINEL
from invoker.http import ProxyConnection
from pwsk.entities import SKELETON_IMAGE

from .conftest import engine
from .helpers import factory, inspect, invoker_id, labelled

pytestmark = pytest.mark.docker

PROBE = """
import errno, json, os, threading, time, urllib.request

def main(a):
    what = a['what']
    if what == 'status':
        lines = open('/proc/self/status').read().splitlines()
        status = dict(line.split(':\\t', 1) for line in lines if ':\\t' in line)
        return {k: status[k].strip() for k in ('Uid', 'CapEff', 'CapBnd', 'NoNewPrivs')}
    if what == 'threads':
        stop, started = threading.Event(), 0
        try:
            for _ in range(3000):
                threading.Thread(target=stop.wait, daemon=True).start()
                started += 1
        except RuntimeError:
            pass
        stop.set()
        return {'started': started}
    if what == 'files':
        handles = []
        try:
            while len(handles) < 5000:
                handles.append(open('/dev/null'))
        except OSError:
            pass
        for h in handles:
            h.close()
        return {'opened': len(handles)}
    if what == 'api':
        host = os.environ['__OW_API_HOST']
        with urllib.request.urlopen(host + '/hello', timeout=5) as resp:
            return {'host': host, 'body': resp.read().decode()}
    if what == 'fs':
        out = {}
        for path in ('/written', '/opt/pwsk/written', '/tmp/written', '/action/written'):
            try:
                with open(path, 'w') as f:
                    f.write('x' * 1000)
                out[path] = 'ok'
            except OSError as exc:
                out[path] = errno.errorcode[exc.errno]
        return out
    if what == 'logs':
        import sys
        for i in range(3):
            print('out', i)
            print('err', i, file=sys.stderr)
        print('x' * 40000)
        print('no newline at the end', end='')
        return {}
"""


def spec(kind: str = "python:3.11", memory: int = 256, name: str = "wskpool_probe",
         image: str | None = None) -> ContainerSpec:
    family = "blackbox" if kind == "blackbox" else kind.split(":")[0]
    return ContainerSpec(family=family, kind=kind, memory_mb=memory, name=name, image=image)


@contextlib.asynccontextmanager
async def started(fac: DockerFactory, sp: ContainerSpec | None = None,
                  code: str = PROBE) -> AsyncIterator[tuple[DockerContainer, ProxyConnection]]:
    container = await fac.create(sp or spec())
    conn = ProxyConnection(container.host, container.port)
    try:
        await container.wait_ready(30)
        init = {"value": {"name": "probe", "main": "main", "code": code, "binary": False,
                          "env": {}}}
        status, body = await conn.post("/init", orjson.dumps(init), 30)
        assert status == 200, body
        await container.collect_logs(2, True)
        yield container, conn
    finally:
        conn.close()
        await container.destroy()


async def run(conn: ProxyConnection, **args: Any) -> Any:
    status, body = await conn.post("/run", orjson.dumps({"value": args}), 30)
    assert status == 200, body
    return orjson.loads(body)


def on_factory(test: Any, **options: Any) -> None:
    async def main() -> None:
        fac = factory(**options)
        try:
            await test(fac)
        finally:
            await fac.cleanup()
            await fac.aclose()

    asyncio.run(main())


def test_container_is_hardened() -> None:
    async def check(fac: DockerFactory) -> None:
        async with started(fac, spec(memory=512)) as (container, conn):
            info = inspect(container.id)
            assert info is not None
            host = info["HostConfig"]
            assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
            assert host["PidsLimit"] == 1024
            assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 1024}]
            assert host["Memory"] == host["MemorySwap"] == 512 << 20
            assert host["CpuShares"] == 1024 * 512 // 2048
            assert host["NetworkMode"] == "pwsk"
            assert host["ReadonlyRootfs"] is True
            assert sorted(host["Tmpfs"]) == ["/action", "/tmp"]
            assert info["Config"]["Labels"]["pwsk.invoker"] == fac.invoker
            assert info["Name"] == f"/wsk{fac.invoker}_0_probe"
            status = await run(conn, what="status")
            assert status["Uid"].split()[0] == "1001"  # non-root
            assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
            assert status["NoNewPrivs"] == "1"

    on_factory(check)


def test_root_is_read_only_and_tmp_is_writable() -> None:
    async def check(fac: DockerFactory) -> None:
        async with started(fac) as (_, conn):
            assert await run(conn, what="fs") == {
                "/written": "EROFS", "/opt/pwsk/written": "EROFS",
                "/tmp/written": "ok", "/action/written": "ok"}

    on_factory(check)


def test_pids_and_open_files_are_limited() -> None:
    async def check(fac: DockerFactory) -> None:
        async with started(fac) as (_, conn):
            threads = await run(conn, what="threads")
            assert 100 < threads["started"] < 1024
            files = await run(conn, what="files")
            assert 100 < files["opened"] < 1024

    on_factory(check)


def test_logs_are_cut_at_the_sentinels_on_both_streams() -> None:
    async def check(fac: DockerFactory) -> None:
        async with started(fac) as (container, conn):
            await run(conn, what="logs")
            first = await container.collect_logs(5, True)
            assert first.complete
            by_stream = {s: [line.text for line in first.lines if line.stream == s]
                         for s in ("stdout", "stderr")}
            # Docker splits lines over 16 KB into partial messages: joined again here.
            assert by_stream["stdout"] == ["out 0", "out 1", "out 2", "x" * 40000,
                                           "no newline at the end"]
            assert by_stream["stderr"] == ["err 0", "err 1", "err 2"]
            assert all(SENTINEL not in line.text for line in first.lines)
            stamps = [line.time_ns for line in first.lines]
            assert stamps == sorted(stamps) and stamps[0] > 0
            await run(conn, what="status")
            second = await container.collect_logs(5, True)
            assert second.complete and second.lines == []  # the next activation's own

    on_factory(check)


def test_api_host_is_reachable_from_the_container() -> None:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"hello {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with _serving(Hello) as port:
        async def check(fac: DockerFactory) -> None:
            api_host = await fac.container_api_host()
            assert api_host == f"http://{fac.gateway}:{port}"  # loopback → the bridge gateway
            async with started(fac) as (_, conn):
                reply = await run(conn, what="api")
                assert reply == {"host": api_host, "body": "hello /hello"}

        on_factory(check, api_host=f"http://127.0.0.1:{port}")


def test_explicit_api_host_for_containers_is_kept() -> None:
    async def check(fac: DockerFactory) -> None:
        assert await fac.container_api_host() == "https://api.example.test"

    on_factory(check, api_host_for_containers="https://api.example.test")


def test_published_port_mode() -> None:
    async def check(fac: DockerFactory) -> None:
        async with started(fac) as (container, conn):
            assert container.host == "127.0.0.1" and container.port != 8080
            assert (await run(conn, what="status"))["NoNewPrivs"] == "1"

    on_factory(check, publish=True)


def test_suspend_and_resume_pause_the_container() -> None:
    async def check(fac: DockerFactory) -> None:
        async with started(fac) as (container, conn):
            await container.suspend()
            assert (inspect(container.id) or {})["State"]["Paused"] is True
            await container.resume()
            assert (inspect(container.id) or {})["State"]["Paused"] is False
            assert (await run(conn, what="status"))["NoNewPrivs"] == "1"
            await container.suspend()
        # destroy removes a paused container too
        assert inspect(container.id) is None

    on_factory(check)


def test_cleanup_removes_a_crashed_invokers_containers_only() -> None:
    crashed, other = invoker_id(), invoker_id()

    async def leave_behind(name: str) -> list[str]:
        fac = DockerFactory("http://127.0.0.1:1", invoker=name)
        made = [await fac.create(spec(name=f"wskpool_left{i}")) for i in range(2)]
        await fac.aclose()  # "crash": nothing destroyed
        return [c.id for c in made]

    async def main() -> None:
        mine = await leave_behind(crashed)
        theirs = await leave_behind(other)
        assert sorted(labelled(crashed)) == sorted(mine)
        restarted = DockerFactory("http://127.0.0.1:1", invoker=crashed)
        # Its numbering starts again: a name taken by a leftover is skipped, not an error.
        container = await restarted.create(spec(name="wskpool_left0"))
        assert container.name == f"wsk{crashed}_1_left0"
        await container.destroy()
        await restarted.cleanup()
        await restarted.aclose()
        assert labelled(crashed) == []
        assert sorted(labelled(other)) == sorted(theirs)
        survivor = DockerFactory("http://127.0.0.1:1", invoker=other)
        await survivor.cleanup()
        await survivor.aclose()
        assert labelled(other) == []

    asyncio.run(main())


def test_a_present_image_runs_as_given() -> None:
    image = f"pwsk-test/custom:{invoker_id()}"
    repo, tag = image.split(":")
    with engine() as client:
        client.post(f"/images/{SKELETON_IMAGE}/tag", params={"repo": repo, "tag": tag}
                    ).raise_for_status()
    try:
        async def check(fac: DockerFactory) -> None:
            script = "#!/bin/sh\necho '{\"custom\": true}'\n"
            async with started(fac, spec("blackbox", image=image), code=script) as (c, conn):
                assert (inspect(c.id) or {})["Config"]["Image"] == image
                assert await run(conn) == {"custom": True}

        on_factory(check)
    finally:
        with engine() as client:
            client.delete(f"/images/{image}")


def test_a_missing_image_that_cannot_be_pulled_is_the_developers_error() -> None:
    async def check(fac: DockerFactory) -> None:
        with pytest.raises(ImageUnavailable, match=r"pwsk-test/no-such-image:1.*could not be"):
            await fac.create(spec("blackbox", image="pwsk-test/no-such-image:1"))
        assert labelled(fac.invoker) == []

    on_factory(check)


def test_a_proxy_that_dies_at_start_up_fails_readiness() -> None:
    async def check(fac: DockerFactory) -> None:
        container = await fac.create(spec())
        try:
            with engine() as client:  # kill it before it ever answers
                client.post(f"/containers/{container.id}/kill").raise_for_status()
            with pytest.raises(ContainerStartError, match="exited during start-up"):
                await container.wait_ready(10)
        finally:
            await container.destroy()

    on_factory(check)


def test_auto_picks_docker_when_the_engine_answers() -> None:
    assert isinstance(open_factory("auto", "http://127.0.0.1:1"), DockerFactory)
    assert not isinstance(open_factory("auto", "http://127.0.0.1:1", socket="/nonexistent"),
                          DockerFactory)


@contextlib.contextmanager
def _serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    # On all addresses: containers come in through the pwsk bridge's gateway address.
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_standalone_runs_actions_in_docker_and_they_reach_the_api(tmp_path: Path) -> None:
    """``pwsk standalone`` picks Docker by itself when an engine answers and says so; actions
    run in containers labelled as its own and reach the API from inside."""
    from tests.api.helpers import invoke, put_action
    from tests.servers import start_server

    # No PWSK_CONTAINERS (tests.servers sets "process"; empty is unset): the default.
    srv = start_server(tmp_path, env={"PWSK_CONTAINERS": ""})
    try:
        assert "containers: Docker" in srv.log()
        code = ("import os, urllib.request\ndef main(a):\n"
                "    with urllib.request.urlopen(os.environ['__OW_API_HOST'] + '/api/v1') as r:\n"
                "        return {'status': r.status, 'host': os.environ['HOSTNAME']}\n")
        with srv.client() as api:
            put_action(api, "callback", code)
            result = invoke(api, "callback", result="true").json()
        assert result["status"] == 200
        assert len(result["host"]) == 12  # a container's short id, not this machine's name
        labels = (inspect(result["host"]) or {})["Config"]["Labels"]
        assert labels["pwsk.invoker"].startswith("standalone")  # not invoker 0's
    finally:
        assert srv.stop() == 0, srv.log()
