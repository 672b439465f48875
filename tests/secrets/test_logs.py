"""Services never log a secret parameter's value: a standalone at debug level, and the
deployment under test (its own log level), after requests that carry and use secrets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.helpers import NS, invoke, put_action
from tests.conftest import DEPLOYMENT
from tests.secrets.test_api import SPILL
from tests.servers import Server, start_server

VALUE = "Zq9-never-in-a-service-log-5521"
CRASH = "def main(args):\n    raise RuntimeError('failed with ' + args['token'])\n"


def exercise(api: httpx.Client, name: str) -> None:
    """Create, read, update, invoke (success and failure) and fire with a secret."""
    secret = [{"key": "token", "value": VALUE, "secret": True}]
    put_action(api, name, SPILL, parameters=secret)
    put_action(api, f"{name}-crash", CRASH, parameters=secret)
    assert api.get(f"{NS}/actions/{name}").status_code == 200
    r = api.put(f"{NS}/actions/{name}", params={"overwrite": "true"},
                json={"parameters": [{**secret[0], "secret": "bad"}]})
    assert r.status_code == 400
    assert invoke(api, name).status_code == 200
    assert invoke(api, f"{name}-crash").status_code == 502
    assert api.put(f"{NS}/triggers/{name}-t", json={"parameters": secret}).status_code == 200
    assert api.post(f"{NS}/triggers/{name}-t", json={}).status_code == 204


@pytest.mark.skipif(DEPLOYMENT == "distributed",
                    reason="starts its own standalone: run once, in the standalone round")
def test_debug_logs_hold_no_secret(tmp_path: Path, name: str) -> None:
    srv = start_server(tmp_path, env={"PWSK_LOG_LEVEL": "debug"})
    try:
        with srv.client() as api:
            exercise(api, name)
    finally:
        srv.stop()
    logs = srv.log()
    assert logs.strip()
    assert VALUE not in logs


def test_deployment_logs_hold_no_secret(server: Server, api: httpx.Client, name: str) -> None:
    exercise(api, name)
    assert VALUE not in server.log()
