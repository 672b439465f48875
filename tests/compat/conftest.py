"""Drive pwsk with OpenWhisk's official JavaScript client (npm ``openwhisk``).

``scripts/lib/node.sh`` installs the pinned client into ``$PWSK_CACHE/node`` (``scripts/test``
does it before running the suite). The ``ow`` fixture runs a snippet of JavaScript with a
client pointed at the session's ``pwsk standalone``; see ``js/run.js`` for the protocol.

A missing or differently pinned client fails the tests: a compatibility suite that skips
itself proves nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ROOT, Server

RUNNER = Path(__file__).resolve().parent / "js" / "run.js"
NODE_SH = ROOT / "scripts" / "lib" / "node.sh"
PROVISION = "run scripts/test, or: source scripts/lib/node.sh && pwsk_node"


def pwsk_cache() -> Path:
    """The cache directory, computed as ``scripts/lib/venv.sh`` does."""
    if os.environ.get("PWSK_CACHE"):
        return Path(os.environ["PWSK_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "pwsk"


def node_modules() -> Path:
    """Where ``scripts/lib/node.sh`` installs the npm packages."""
    return pwsk_cache() / "node" / "node_modules"


def pinned_version() -> str:
    match = re.search(r"\bopenwhisk@(\d+\.\d+\.\d+)\b", NODE_SH.read_text())
    assert match, f"no openwhisk@X.Y.Z pin in {NODE_SH}"
    return match.group(1)


class ClientRejected(Exception):
    """The client's promise was rejected: it carries the OpenWhiskError's fields."""

    def __init__(self, rejected: dict[str, Any]) -> None:
        super().__init__(rejected["message"])
        self.message: str = rejected["message"]
        self.status: int | None = rejected["statusCode"]
        self.body: Any = rejected["error"]


@dataclass
class NodeClient:
    """Runs snippets of JavaScript: ``ow`` = ``openwhisk(options)``, ``A`` = the keyword
    arguments, ``H`` = helpers (``H.poll``, ``H.sleep``, ``H.openwhisk``, ``H.options``)."""

    options: dict[str, Any]
    env: dict[str, str]

    def run(self, body: str, **args: Any) -> Any:
        """The value the snippet returns; raises ``ClientRejected`` if its promise rejects."""
        outcome = self._exec(body, args)
        if "rejected" in outcome:
            raise ClientRejected(outcome["rejected"])
        return outcome["value"]

    def rejects(self, body: str, **args: Any) -> ClientRejected:
        """The rejection of a snippet that must fail."""
        outcome = self._exec(body, args)
        assert "rejected" in outcome, f"expected a rejection, got {outcome['value']!r}"
        return ClientRejected(outcome["rejected"])

    def with_options(self, **options: Any) -> NodeClient:
        return NodeClient({**self.options, **options}, self.env)

    def with_env(self, **env: str) -> NodeClient:
        return NodeClient(self.options, {**self.env, **env})

    def _exec(self, body: str, args: dict[str, Any]) -> dict[str, Any]:
        stdin = json.dumps({"options": self.options, "args": args, "body": body})
        proc = subprocess.run(["node", str(RUNNER)], input=stdin, capture_output=True,
                              text=True, env=self.env, timeout=100)
        assert proc.returncode == 0, f"node exited {proc.returncode}:\n{proc.stderr}"
        lines = proc.stdout.strip().splitlines()
        assert lines, f"node printed nothing:\n{proc.stderr}"
        outcome: dict[str, Any] = json.loads(lines[-1])
        return outcome


@pytest.fixture(scope="session")
def node_env() -> dict[str, str]:
    """The environment node runs in, after checking the pinned client is installed."""
    if shutil.which("node") is None:
        pytest.fail("node (>= 20) is not on PATH: the openwhisk client tests need it")
    modules = node_modules()
    package = modules / "openwhisk" / "package.json"
    if not package.is_file():
        pytest.fail(f"npm package openwhisk is not installed in {modules} ({PROVISION})")
    installed = json.loads(package.read_text())["version"]
    if installed != pinned_version():
        pytest.fail(f"openwhisk {installed} in {modules}, but {NODE_SH.name} pins "
                    f"{pinned_version()} ({PROVISION})")
    # The client honours these; a developer's own settings must not redirect it.
    drop = {"HTTP_PROXY", "HTTPS_PROXY", "PROXY", "http_proxy", "https_proxy", "proxy"}
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not k.startswith("__OW_")}
    env["NODE_PATH"] = os.pathsep.join(filter(None, [str(modules), env.get("NODE_PATH")]))
    return env


@pytest.fixture(scope="session")
def ow(server: Server, node_env: dict[str, str]) -> NodeClient:
    """The official client as guest, with ``apihost: server.url`` (an http:// URL)."""
    options = {"apihost": server.url, "api_key": server.auth, "ignore_certs": True}
    return NodeClient(options, node_env)
