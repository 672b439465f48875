"""Keys never reach a log: after refused and accepted requests, the server logs hold no
secret, no ``Authorization`` value and no key hash."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.helpers import ECHO, NS, put_action
from tests.conftest import DEPLOYMENT
from tests.keys.conftest import as_key, create
from tests.servers import GUEST, ROOT, SYSTEM, start_server


def exercise(url: str, admin_key: str, subject: str) -> list[str]:
    """Refused and accepted requests with several keys; the secrets that must not leak."""
    with as_key(url, admin_key) as admin:
        created = create(admin, subject)
        listed = admin.get("/admin/keys", params={"all": "true"}).text
    secrets = [created["key"], GUEST, SYSTEM]
    with as_key(url, created["key"]) as client:
        put_action(client, "echo", ECHO)
        assert client.post(f"{NS}/actions/echo", params={"blocking": "true"},
                           json={"a": 1}).status_code == 200
    uuid = created["uuid"]
    wrong = f"{uuid}:{'W' * 64}"
    for bad in (wrong, f"nobody:{'Z' * 64}", GUEST[:-1] + "!"):
        with as_key(url, bad) as client:
            assert client.get("/api/v1/namespaces").status_code == 401
        secrets.append(bad)
    raw = httpx.get(f"{url}/api/v1/namespaces", timeout=30,
                    headers={"Authorization": "Basic not-base64!"})
    assert raw.status_code == 401
    with as_key(url, admin_key) as admin:
        assert admin.delete(f"/admin/keys/{uuid}").status_code == 200
    with as_key(url, created["key"]) as client:
        assert client.get("/api/v1/namespaces").status_code == 401
    assert "pbkdf2" not in listed
    return secrets


def assert_clean(logs: str, secrets: list[str]) -> None:
    assert logs.strip(), "no log to check"
    for api_key in secrets:
        secret = api_key.partition(":")[2]
        assert secret not in logs
        assert base64.b64encode(api_key.encode()).decode() not in logs
    assert "pbkdf2_sha256$" not in logs


def test_keys_are_not_in_debug_logs(tmp_path: Path, subject: str) -> None:
    """Every log line a deployment writes at debug level (a standalone, or a gateway with
    2 controllers and an invoker) holds the key's events by uuid, and no secret."""
    if DEPLOYMENT == "distributed":
        from tests.distributed import start_stack

        stack = start_stack(tmp_path, invokers=1, extra_env={"PWSK_LOG_LEVEL": "debug"})
        try:
            secrets = exercise(stack.url, SYSTEM, subject)
        finally:
            stack.stop()
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
    else:
        srv = start_server(tmp_path, env={"PWSK_LOG_LEVEL": "debug"})
        try:
            secrets = exercise(srv.url, SYSTEM, subject)
        finally:
            srv.stop()
        logs = srv.log()
    # The key's events are there, by uuid: created, refused (wrong secret), revoked.
    uuid = secrets[0].partition(":")[0]
    for event in ("key created", "key refused", "key revoked"):
        assert any(event in line and uuid in line for line in logs.splitlines()), logs[-3000:]
    assert_clean(logs, secrets)


def test_logged_errors_do_not_show_local_variables() -> None:
    """An unexpected error is logged with its traceback, not the frame's variables (where a
    header or key may sit): structlog renders tracebacks with locals if told to."""
    probe = '''
from pwsk import log
log.configure("info")
def handle(authorization):
    api_key = "uuid-0:" + "S3cr3tS3cr3t" * 4
    raise ValueError("boom")
try:
    handle("Basic dXVpZC0wOlMzY3Iz")
except ValueError as exc:
    log.get("probe").exception("unhandled error", error=repr(exc))
'''
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ValueError: boom" in done.stderr and "unhandled error" in done.stderr
    assert "S3cr3t" not in done.stderr and "dXVpZC0w" not in done.stderr
