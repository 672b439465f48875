"""Start and stop real ``pwsk standalone`` processes on loopback for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

GUEST = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
         "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
SYSTEM = ("789c46b1-71f6-4ed5-8c54-816aa4f8c502:"
          "abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    auth: str = GUEST
    system_auth: str = SYSTEM
    env: dict[str, str] = field(default_factory=dict)

    def client(self, auth: str | None = GUEST, **kwargs: object) -> httpx.Client:
        basic = tuple(auth.split(":", 1)) if auth else None
        return httpx.Client(base_url=self.url, auth=basic, timeout=90, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(data_dir: Path, env: dict[str, str] | None = None,
                 port: int | None = None) -> Server:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    # Processes unless a test asks for Docker: standalone's own default is "auto".
    full_env = {**os.environ, "PWSK_LOG_LEVEL": "warning", "PWSK_CONTAINERS": "process",
                **(env or {})}
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pwsk.standalone", "--port", str(port),
             "--data-dir", str(data_dir)],
            cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", data_dir, proc, log_path, env=env or {})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pwsk standalone exited:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/ping", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"pwsk standalone did not answer:\n{server.log()}")
