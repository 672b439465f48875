"""The action proxies: one HTTP server per runtime family, speaking the OpenWhisk contract.

Each proxy is a single self-contained file (standard library or Node built-ins only), so it
can run as a local process or be copied into an image by the family's Dockerfile:

    python    runtimes/python/proxy.py     kind python:3.11
    nodejs    runtimes/nodejs/proxy.js     kind nodejs:20
    blackbox  runtimes/blackbox/proxy.py   docker skeleton / native: an `exec` spawned per run

A proxy listens on ``--port`` (default ``$PORT`` or 8080) at ``$PWSK_PROXY_HOST`` (default
0.0.0.0) and keeps the action's files in ``$PWSK_ACTION_DIR`` (default /action).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["PROXIES", "ProxyUnavailable", "command"]

_HERE = Path(__file__).resolve().parent

PROXIES: dict[str, Path] = {
    "python": _HERE / "python" / "proxy.py",
    "nodejs": _HERE / "nodejs" / "proxy.js",
    "blackbox": _HERE / "blackbox" / "proxy.py",
}


class ProxyUnavailable(RuntimeError):
    """The family is unknown, or the interpreter it needs is not installed."""


def command(family: str, port: int) -> list[str]:
    """The argv that starts the proxy for ``family`` as a local process listening on ``port``."""
    try:
        proxy = PROXIES[family]
    except KeyError:
        known = ", ".join(sorted(PROXIES))
        raise ProxyUnavailable(f"unknown runtime family {family!r} (known: {known})") from None
    if proxy.suffix == ".js":
        node = shutil.which("node")
        if node is None:
            raise ProxyUnavailable("the nodejs proxy needs `node` on PATH")
        return [node, str(proxy), "--port", str(port)]
    return [sys.executable, str(proxy), "--port", str(port)]
