"""A CouchDB-compatible server for tests: npm's pouchdb-server, in memory, on loopback.

``scripts/lib/couchdb.sh`` installs the pinned pouchdb-server into ``$PWSK_CACHE/pouchdb``
(``scripts/test`` does it before running the suite). A missing or differently pinned server
fails the tests that need it: CouchDB tests that skip themselves prove nothing.

One server serves the whole session, however many test directories ask for it
(``shared_pouchdb`` counts its users); tests keep apart by database prefix.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import ROOT, free_port

COUCHDB_SH = ROOT / "scripts" / "lib" / "couchdb.sh"
PROVISION = "run scripts/test, or: source scripts/lib/couchdb.sh && pwsk_couchdb"


def pwsk_cache() -> Path:
    """The cache directory, computed as ``scripts/lib/venv.sh`` does."""
    if os.environ.get("PWSK_CACHE"):
        return Path(os.environ["PWSK_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "pwsk"


def pinned_version() -> str:
    match = re.search(r"\bpouchdb-server@(\d+\.\d+\.\d+)\b", COUCHDB_SH.read_text())
    assert match, f"no pouchdb-server@X.Y.Z pin in {COUCHDB_SH}"
    return match.group(1)


def pouchdb_server() -> Path:
    """The installed pinned executable; fails the test (never skips) when it is not there."""
    modules = pwsk_cache() / "pouchdb" / "node_modules"
    package = modules / "pouchdb-server" / "package.json"
    if not package.is_file():
        pytest.fail(f"pouchdb-server is not installed in {modules} ({PROVISION})")
    installed = json.loads(package.read_text())["version"]
    if installed != pinned_version():
        pytest.fail(f"pouchdb-server {installed} in {modules}, but {COUCHDB_SH.name} pins "
                    f"{pinned_version()} ({PROVISION})")
    return modules / ".bin" / "pouchdb-server"


@dataclass
class PouchServer:
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store_url(self, prefix: str | None = None) -> str:
        """A ``couchdb://`` url with a fresh database prefix unless one is given."""
        prefix = prefix or f"t{secrets.token_hex(4)}_"
        return f"couchdb://127.0.0.1:{self.port}?prefix={prefix}"

    def log(self) -> str:
        return (self.workdir / "pouchdb.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_pouchdb(workdir: Path) -> PouchServer:
    """Start an in-memory pouchdb-server on a free loopback port and wait until it answers."""
    executable = pouchdb_server()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # It writes config.json and log.txt into its working directory: keep them in workdir.
    with open(workdir / "pouchdb.log", "ab") as out:
        proc = subprocess.Popen(
            [str(executable), "--in-memory", "--host", "127.0.0.1", "--port", str(port),
             "--config", str(workdir / "config.json")],
            cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = PouchServer(port, proc, workdir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"pouchdb-server exited with {proc.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.http_url, timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    pytest.fail(f"pouchdb-server did not answer on {server.http_url}:\n{server.log()}")


_shared: PouchServer | None = None
_users = 0


@contextmanager
def shared_pouchdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PouchServer]:
    """The session's server, started by its first user and stopped after its last."""
    global _shared, _users
    if _shared is None:
        _shared = start_pouchdb(tmp_path_factory.mktemp("pouchdb"))
    _users += 1
    try:
        yield _shared
    finally:
        _users -= 1
        if _users == 0:
            _shared.stop()
            _shared = None
