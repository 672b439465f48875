"""``--param-secret`` in the CLI against the real server (both deployments), and the
manifest's ``secret: true``: the value is delivered, never printed, never traced by -v."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from pwsk.redact import REDACTED
from tests.api.helpers import NS, wait_activation
from tests.cli.conftest import Run
from tests.secrets.test_api import SPILL, TOKEN, digest
from tests.servers import Server

Cli = Callable[..., Result]


@pytest.fixture
def wsk(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("WSK_CONFIG_FILE", "WHISK_APIHOST", "WHISK_AUTH", "WHISK_APIVERSION"):
        monkeypatch.delenv(var, raising=False)
    return Run(None, ["--apihost", server.url, "-u", server.auth])


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_param_secret_on_actions(wsk: Cli, tmp_path: Path, name: str) -> None:
    code = tmp_path / "spill.py"
    code.write_text(SPILL)
    out = ok(wsk("-v", "action", "create", name, str(code), "--param-secret", "token", TOKEN,
                 "-p", "plain", "shown"))
    assert "REQUEST:" in out and TOKEN not in out  # -v traces the body, masked
    shown = ok(wsk("action", "get", name))
    assert TOKEN not in shown and REDACTED in shown
    doc = json.loads(shown[shown.index("{"):])
    assert {"key": "token", "value": REDACTED, "secret": True} in doc["parameters"]
    out = ok(wsk("action", "invoke", name, "--blocking"))
    assert TOKEN not in out
    record = json.loads(out[out.index("{"):])
    assert record["response"]["result"]["digest"] == digest(TOKEN)
    logs = ok(wsk("activation", "logs", record["activationId"]))
    assert f"token is {REDACTED}" in logs and TOKEN not in logs
    # update of other fields keeps it; --copy asks for the copy's secret values.
    ok(wsk("action", "update", name, "--memory", "128"))
    out = ok(wsk("action", "invoke", name, "--result"))
    assert json.loads(out)["digest"] == digest(TOKEN)
    failed = wsk("action", "create", f"{name}-copy", name, "--copy")
    assert failed.exit_code != 0 and "redaction marker" in failed.output
    ok(wsk("action", "create", f"{name}-copy", name, "--copy", "--param-secret", "token", "x1x1x1"))
    out = ok(wsk("action", "invoke", f"{name}-copy", "--result"))
    assert json.loads(out)["digest"] == digest("x1x1x1")


def test_param_secret_on_packages_and_triggers(wsk: Cli, api: httpx.Client, name: str) -> None:
    ok(wsk("package", "create", f"{name}-p", "--param-secret", "token", TOKEN))
    ok(wsk("package", "bind", f"{name}-p", f"{name}-b", "--param-secret", "other", TOKEN[::-1]))
    ok(wsk("trigger", "create", f"{name}-t", "--param-secret", "token", TOKEN))
    for kind, entity in (("package", f"{name}-p"), ("package", f"{name}-b"),
                         ("trigger", f"{name}-t")):
        shown = ok(wsk(kind, "get", entity))
        assert TOKEN not in shown and TOKEN[::-1] not in shown and REDACTED in shown, shown
    stored = api.get(f"{NS}/packages/{name}-b").json()["parameters"]
    assert {"key": "other", "value": REDACTED, "secret": True} in stored
    ok(wsk("trigger", "delete", f"{name}-t"))
    ok(wsk("package", "delete", f"{name}-b"))
    ok(wsk("package", "delete", f"{name}-p"))


def test_manifest_secret_inputs(wsk: Cli, api: httpx.Client, tmp_path: Path,
                                name: str) -> None:
    (tmp_path / "spill.py").write_text(SPILL)
    (tmp_path / "manifest.yaml").write_text(f"""
project:
  name: {name}
packages:
  {name}:
    inputs:
      token: {{value: "{TOKEN}", secret: true}}
    actions:
      spill:
        function: spill.py
        inputs:
          INIT_TOKEN: {{value: "{TOKEN}", init: true, secret: true}}
""")
    out = ok(wsk("deploy", str(tmp_path / "manifest.yaml")))
    assert TOKEN not in out
    for path in (f"packages/{name}", f"actions/{name}/spill"):
        r = api.get(f"{NS}/{path}")
        assert r.status_code == 200 and TOKEN not in r.text and REDACTED in r.text, r.text
    r = api.post(f"{NS}/actions/{name}/spill", params={"blocking": "true"}, json={})
    assert r.status_code == 200 and TOKEN not in r.text, r.text
    record = wait_activation(api, r.json()["activationId"])
    assert record["response"]["result"]["digest"] == digest(TOKEN)
    assert f"env {REDACTED}" in "\n".join(record["logs"])
    ok(wsk("undeploy", str(tmp_path / "manifest.yaml")))
