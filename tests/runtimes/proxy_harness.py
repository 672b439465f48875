"""Run the action proxies as real processes on loopback and talk to them over HTTP.

Each proxy gets a free port, its own action directory and files for stdout and stderr. The
proxies write the log sentinels before they answer, so a test can read both files right after
a response and see the whole activation.
"""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from runtimes import command

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
FAMILIES = ("python", "nodejs", "blackbox")
READY_SECONDS = 20.0

# The same small action in every family: it logs one line on each stream and returns its
# arguments together with a few environment variables.
ECHO_ACTIONS = {
    "python": """\
import os, sys

def main(args):
    print("out-line")
    print("err-line", file=sys.stderr)
    return {"args": args, "env": {k: os.environ.get(k) for k in args.get("show", [])}}
""",
    "nodejs": """\
function main(args) {
    console.log('out-line');
    console.error('err-line');
    const env = {};
    for (const k of args.show || []) env[k] = process.env[k] ?? null;
    return { args, env };
}
""",
    "blackbox": """\
#!/bin/sh
echo out-line
echo err-line >&2
env='"FOO": "%s", "__OW_NAMESPACE": "%s", "__OW_ACTIVATION_ID": "%s"'
printf "{\\"args\\": %s, \\"env\\": {$env}}\\n" "$1" "$FOO" "$__OW_NAMESPACE" "$__OW_ACTIVATION_ID"
""",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Unseekable(io.RawIOBase):
    """A write-only stream that makes zipfile write data descriptors, as streaming zippers do."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)


def make_zip(
    files: dict[str, str | bytes],
    modes: dict[str, int] | None = None,
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    streamed: bool = False,
) -> str:
    """A base64 zip of ``files``, with Unix permission bits from ``modes``."""
    sink: Any = _Unseekable() if streamed else io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = ((modes or {}).get(name, 0o644) & 0xFFFF) << 16
            info.compress_type = compression
            archive.writestr(info, content)
    data = bytes(sink.data) if streamed else sink.getvalue()
    return base64.b64encode(data).decode()


class Proxy:
    """One proxy process and an HTTP client for it."""

    def __init__(self, family: str, workdir: Path, env: dict[str, str]) -> None:
        self.family = family
        self.port = free_port()
        self.action_dir = workdir / "missing" / "action"  # the proxy creates it
        self.out_path = workdir / "stdout.log"
        self.err_path = workdir / "stderr.log"
        environ = {k: v for k, v in os.environ.items() if k not in ("PORT", "PROXY_ALLOW_REINIT")}
        environ |= {"PWSK_ACTION_DIR": str(self.action_dir), "PWSK_PROXY_HOST": "127.0.0.1"}
        environ |= env
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(
                command(family, self.port),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=environ,
                cwd=workdir,
            )
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", timeout=60, trust_env=False
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.family} proxy exited: {self.stderr()}")
            try:
                if self.client.get("/").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.family} proxy not ready after {READY_SECONDS}s")

    def init(
        self,
        code: str | None = None,
        *,
        main: str | None = None,
        binary: bool = False,
        env: dict[str, Any] | None = None,
    ) -> httpx.Response:
        value: dict[str, Any] = {"name": "action", "binary": binary}
        if code is not None:
            value["code"] = code
        if main is not None:
            value["main"] = main
        if env is not None:
            value["env"] = env
        return self.client.post("/init", json={"value": value})

    def run(self, value: Any = None, **keys: str) -> httpx.Response:
        body: dict[str, Any] = {
            "value": {} if value is None else value,
            "namespace": "guest",
            "action_name": "/guest/action",
            "action_version": "0.0.1",
            "activation_id": "a" * 32,
            "transaction_id": "t" * 32,
            "deadline": "4102444800000",
        }
        return self.client.post("/run", json=body | keys)

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def activations(self, stream: str) -> list[str]:
        """The text of each activation on ``stream`` ("stdout" or "stderr"), sentinel by sentinel.

        Fails when the sentinel is not a line of its own or when output follows the last one.
        """
        text = self.stdout() if stream == "stdout" else self.stderr()
        *segments, rest = text.split(SENTINEL + "\n")
        assert rest == "", f"{stream} has output after the last sentinel: {rest!r}"
        assert all(not s or s.endswith("\n") for s in segments), segments
        return segments

    def wait_exit(self) -> int:
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


StartProxy = Callable[..., Proxy]
