"""A deployment's keys stay where they belong: a standalone server started with keys of its
own and PWSK_REFUSE_DEFAULT_KEYS refuses the published ones, and neither the keys in its
settings nor whisk.system's key reach an action's environment, its activation record or the
server's log."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from tests.api.helpers import NS, put_action
from tests.servers import GUEST, SYSTEM, start_server

MINE = f"{uuid.uuid4()}:" + "M" * 40 + "m" * 24
ADMIN = f"{uuid.uuid4()}:" + "A" * 40 + "a" * 24
SPY = '''import os

def main(args):
    env = dict(os.environ)
    print("environment names:", sorted(env))
    return {"names": sorted(env), "values": list(env.values())}
'''


def test_settings_keys_do_not_leak(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"PWSK_GUEST_KEY": MINE, "PWSK_SYSTEM_KEY": ADMIN,
                                         "PWSK_REFUSE_DEFAULT_KEYS": "true",
                                         "PWSK_LOG_LEVEL": "debug"})
    try:
        for published in (GUEST, SYSTEM):
            with server.client(published) as api:
                assert api.get(f"{NS}/actions").status_code == 401
        with server.client(ADMIN) as admin:
            assert admin.get("/admin/keys").status_code == 200
        with server.client(MINE) as api:
            put_action(api, "spy", SPY)
            r = api.post(f"{NS}/actions/spy", params={"blocking": "true"}, json={})
            assert r.status_code == 200, r.text
            activation_id = r.json()["activationId"]
            result = r.json()["response"]["result"]
            assert not {"PWSK_GUEST_KEY", "PWSK_SYSTEM_KEY", "PWSK_STORE"} & set(result["names"])
            record, logs = "", ""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "environment names" not in logs:
                got = api.get(f"{NS}/activations/{activation_id}")
                record = got.text if got.status_code == 200 else ""
                logs = api.get(f"{NS}/activations/{activation_id}/logs").text
                time.sleep(0.5)
            assert "environment names" in logs
        for secret in (ADMIN.split(":")[1], MINE.split(":")[1]):
            assert secret not in "".join(result["values"])
            assert secret not in record and secret not in logs
            assert secret not in server.log()
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def test_a_standalone_server_refuses_a_published_key(tmp_path: Path) -> None:
    try:
        start_server(tmp_path, env={"PWSK_REFUSE_DEFAULT_KEYS": "true",
                                    "PWSK_GUEST_KEY": GUEST, "PWSK_SYSTEM_KEY": ADMIN})
    except RuntimeError as exc:
        assert "PWSK_GUEST_KEY is (or has the uuid of) one of OpenWhisk's published" in str(exc)
    else:
        raise AssertionError("started with a published key")
