"""``pwsk deploy`` / ``undeploy`` / ``project deploy`` against a real server."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run
from tests.servers import Server

MANIFEST = """
project:
  name: {name}
packages:
  {name}:
    inputs:
      greeting: hi
    actions:
      hello:
        function: hello.py
        web-export: true
    sequences:
      twice:
        actions: hello, hello
    triggers:
      {name}-t: {{}}
    rules:
      {name}-r:
        trigger: {name}-t
        action: hello
"""


def test_deploy_and_undeploy(server: Server, home: Path, tmp_path: Path, name: str) -> None:
    (tmp_path / "hello.py").write_text("def main(a):\n    return {'said': a['greeting']}\n")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(MANIFEST.format(name=name))
    run = Run(None, ["--apihost", server.url, "-u", server.auth])
    result = run("deploy", str(manifest))
    assert result.exit_code == 0, result.stderr
    assert f"ok: deployed rule {name}-r" in result.stdout
    assert f"ok: deployed project {name}" in result.stdout
    invoked = run("action", "invoke", f"{name}/twice", "-r")
    assert invoked.exit_code == 0 and '"said": "hi"' in invoked.stdout
    again = run("project", "deploy", "-m", str(manifest))
    assert again.exit_code == 0, again.stderr
    gone = run("undeploy", str(manifest))
    assert gone.exit_code == 0 and f"ok: undeployed package {name}" in gone.stdout
    assert run("action", "get", f"{name}/hello").exit_code != 0


def test_bad_manifest_is_an_error(server: Server, home: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("packages: [1, 2]\n")
    result = Run(None, ["--apihost", server.url, "-u", server.auth])("deploy", str(manifest))
    assert result.exit_code != 0
    assert result.stderr.startswith("error: Invalid manifest: packages must be a mapping")
