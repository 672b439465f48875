"""Standalone lifecycle: data survives a restart, Ctrl-C shuts down cleanly."""

from __future__ import annotations

from pathlib import Path

from tests.api.helpers import ECHO, NS, invoke, put_action, wait_activation
from tests.servers import start_server


def test_entities_and_activations_survive_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    try:
        with first.client() as api:
            put_action(api, "kept", ECHO)
            api.put(f"{NS}/triggers/kept-t", json={})
            api.put(f"{NS}/rules/kept-r", json={"trigger": "/_/kept-t", "action": "/_/kept"})
            aid = invoke(api, "kept", {"v": 1}).json()["activationId"]
            wait_activation(api, aid)
    finally:
        assert first.stop() == 0, first.log()
    second = start_server(tmp_path)
    try:
        with second.client() as api:
            assert api.get(f"{NS}/actions/kept").json()["exec"]["code"] == ECHO
            assert api.get(f"{NS}/rules/kept-r").json()["status"] == "active"
            rec = api.get(f"{NS}/activations/{aid}").json()
            assert rec["response"]["result"] == {"v": 1}
            assert invoke(api, "kept", {"v": 2}, result="true").json() == {"v": 2}
    finally:
        assert second.stop() == 0, second.log()
    assert "Traceback" not in second.log()


def test_killed_server_leaves_no_proxy_processes(tmp_path: Path) -> None:
    import os
    import signal
    import time

    srv = start_server(tmp_path)
    with srv.client() as api:
        put_action(api, "p", ECHO)
        assert invoke(api, "p").status_code == 200
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p))
                == srv.proc.pid]
    assert children, "the standalone server should have proxy processes"
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_without_a_docker_engine_actions_run_as_processes(tmp_path: Path) -> None:
    """The default backend (``auto``) falls back to processes when no engine answers, and
    says why; the Docker tests show it picking Docker when one does."""
    dead = tmp_path / "no-docker.sock"
    srv = start_server(tmp_path, env={"PWSK_CONTAINERS": "", "DOCKER_HOST": f"unix://{dead}"})
    try:
        assert (f"containers: local processes (no Docker engine answers on {dead}"
                in srv.log()), srv.log()
        with srv.client() as api:
            put_action(api, "here", ECHO)
            assert invoke(api, "here", {"v": 3}, result="true").json() == {"v": 3}
    finally:
        assert srv.stop() == 0, srv.log()
