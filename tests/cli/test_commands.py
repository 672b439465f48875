"""The CLI against a scripted server: request bodies, wsk's messages and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import FAKE_HOST, GUEST, TID, FakeWhisk, Run

NS = "/api/v1/namespaces/_"
LOG_LINE = "2024-05-01T10:00:00.123456789Z  stdout: hello"
RECORD: dict[str, Any] = {
    "activationId": "a" * 32,
    "namespace": "guest",
    "name": "hello",
    "response": {"result": {"greeting": "hi"}, "status": "success", "success": True},
    "logs": [LOG_LINE],
}


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.py"
    path.write_text("def main(args):\n    return {'greeting': 'hi'}\n")
    return path


# --- configuration and global flags ------------------------------------------------------


def test_property_set_get_unset(home: Path) -> None:
    run = Run(None, [])
    result = run(
        "property", "set", "--apihost", "http://127.0.0.1:3233", "-u", GUEST, "--namespace", "guest"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "ok: whisk auth set. Run 'pwsk property get --auth' to see the new value.\n"
        "ok: whisk API host set to http://127.0.0.1:3233\n"
        "ok: whisk namespace set to guest\n"
    )
    props = (home / ".wskprops").read_text()
    assert f"AUTH={GUEST}\n" in props and "APIHOST=http://127.0.0.1:3233\n" in props
    result = run("property", "get", "--auth", "--apihost")
    assert result.stdout == f"whisk API host\t\thttp://127.0.0.1:3233\nwhisk auth\t\t{GUEST}\n"
    assert run("property", "get", "--apihost", "-o", "raw").stdout == "http://127.0.0.1:3233\n"
    result = run("property", "unset", "--auth", "--apiversion")
    assert result.stdout == (
        "ok: whisk auth unset.\n"
        "ok: whisk API version unset; the default value of v1 will be used.\n"
    )
    assert "AUTH" not in (home / ".wskprops").read_text()


def test_wsk_config_file_is_used(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSK_CONFIG_FILE", str(home / "custom"))
    assert Run(None, [])("property", "set", "--apiversion", "v1").exit_code == 0
    assert (home / "custom").read_text() == "APIVERSION=v1\n"
    assert not (home / ".wskprops").exists()


def test_properties_file_configures_commands(fake: FakeWhisk, home: Path) -> None:
    (home / ".wskprops").write_text(f"APIHOST={FAKE_HOST}\nAUTH={GUEST}\n")
    fake.on("GET", "/api/v1/namespaces", 200, ["guest"])
    result = Run(fake.transport(), [])("namespace", "list")
    assert result.exit_code == 0 and result.stdout == "namespaces\nguest\n"


def test_global_flags_also_after_the_command(fake: FakeWhisk, home: Path) -> None:
    fake.on("GET", f"{NS}/triggers", 200, [])
    result = Run(fake.transport(), [])("trigger", "list", "--apihost", FAKE_HOST, "-u", GUEST, "-i")
    assert result.exit_code == 0, result.output
    assert result.stdout == "triggers\n"


def test_missing_apihost_and_auth(home: Path) -> None:
    result = Run(None, [])("action", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: The API host is not valid: An API host must be provided.\n"
    )
    assert "pwsk property set --apihost" in result.stderr
    result = Run(None, ["--apihost", FAKE_HOST])("action", "list")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: Authorization key is not configured (--auth is required)\n"
        "Run 'pwsk action list --help' for usage.\n"
    )


def test_unreachable_server_exits_3(home: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = Run(httpx.MockTransport(refuse), ["--apihost", FAKE_HOST, "-u", GUEST])(
        "action", "get", "x"
    )
    assert result.exit_code == 3
    assert result.stderr.startswith("error: Unable to get action 'x': GET http://whisk.test")


def test_verbose_goes_to_stderr(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{NS}/rules", 200, [])
    result = run("rule", "list", "-v")
    assert result.stdout == "rules\n"
    assert "REQUEST:\n[GET]" in result.stderr and "Basic ***" in result.stderr


# --- usage errors -------------------------------------------------------------------------


def test_argument_count_errors(run: Run) -> None:
    result = run("action", "invoke")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: Invalid argument(s). An action name is required.\n"
        "Run 'pwsk action invoke --help' for usage.\n"
    )
    result = run("rule", "create", "r", "t", "a", "extra")
    assert result.stderr.startswith(
        "error: Invalid argument(s): extra. A rule, trigger and action name are required."
    )


def test_unknown_option_is_a_usage_error(run: Run) -> None:
    result = run("action", "list", "--bogus")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: No such option '--bogus'")
    assert result.stderr.endswith("Run 'pwsk action list --help' for usage.\n")


def test_invalid_names_are_reported(run: Run) -> None:
    result = run("action", "get", "/ns/p/a/b")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: '/ns/p/a/b' is not a valid qualified name:")


def test_help_has_examples(run: Run) -> None:
    result = run("action", "create", "--help")
    assert result.exit_code == 0
    assert "pwsk action create hello hello.py" in result.stdout
    assert "-p, --param KEY VALUE" in result.stdout


# --- actions ------------------------------------------------------------------------------


def test_action_create_request(run: Run, fake: FakeWhisk, hello: Path) -> None:
    fake.on("PUT", f"{NS}/actions/hello", 200, {"name": "hello"})
    result = run(
        "action",
        "create",
        "hello",
        str(hello),
        "-p",
        "n",
        "5",
        "-p",
        "who",
        "Ada",
        "-a",
        "description",
        "Says hi",
        "-t",
        "3000",
        "-m",
        "128",
        "--web",
        "true",
    )
    assert (result.exit_code, result.stdout) == (0, "ok: created action hello\n")
    assert fake.last.url.params["overwrite"] == "false"
    assert fake.body() == {
        "limits": {"timeout": 3000, "memory": 128},
        "exec": {"code": hello.read_text(), "kind": "python:default"},
        "parameters": [{"key": "n", "value": 5}, {"key": "who", "value": "Ada"}],
        "annotations": [
            {"key": "description", "value": "Says hi"},
            {"key": "web-export", "value": True},
            {"key": "raw-http", "value": False},
            {"key": "final", "value": True},
        ],
    }


def test_action_update_without_code(run: Run, fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/actions/pkg/hello", 200, {"name": "hello"})
    result = run("action", "update", "pkg/hello", "--del-annotation", "description", "-l", "5")
    assert (result.exit_code, result.stdout) == (0, "ok: updated action pkg/hello\n")
    assert fake.last.url.params["overwrite"] == "true"
    assert fake.body() == {"limits": {"logs": 5}, "delAnnotations": ["description"]}


def test_action_sequence_components_are_qualified(run: Run, fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/actions/both", 200, {})
    assert run("action", "create", "both", "--sequence", "a,pkg/b,/other/c").exit_code == 0
    assert fake.body()["exec"] == {
        "kind": "sequence",
        "components": ["/_/a", "/_/pkg/b", "/other/c"],
    }


def test_action_create_needs_code(run: Run) -> None:
    result = run("action", "create", "hello")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: Invalid argument(s). An action name and code artifact are required.\n"
    )


def test_action_create_conflict(run: Run, fake: FakeWhisk, hello: Path) -> None:
    fake.on("PUT", f"{NS}/actions/hello", 409, {"error": "resource already exists", "code": TID})
    result = run("action", "create", "hello", str(hello))
    assert result.exit_code == 153  # 409 - 256, as wsk
    assert result.stderr == (
        f"error: Unable to create action 'hello': resource already exists (code {TID})\n"
        "Run 'pwsk action create --help' for usage.\n"
    )


def test_web_secure_requires_a_web_action(run: Run, fake: FakeWhisk, hello: Path) -> None:
    result = run("action", "create", "hello", str(hello), "--web-secure", "s3")
    assert result.exit_code == 2
    assert "only valid when the --web option is enabled" in result.stderr
    fake.on("PUT", f"{NS}/actions/hello", 200, {})
    assert run("action", "create", "hello", str(hello), "--web", "yes", "--web-secure", "s3")
    assert {"key": "require-whisk-auth", "value": "s3"} in fake.body()["annotations"]


def test_invoke_non_blocking(run: Run, fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/actions/hello", 202, {"activationId": "b" * 32})
    result = run("action", "invoke", "hello", "-p", "name", "Ada")
    assert (result.exit_code, result.stdout) == (0, f"ok: invoked /_/hello with id {'b' * 32}\n")
    assert fake.last.url.params["blocking"] == "false"
    assert fake.body() == {"name": "Ada"}


def test_invoke_blocking_prints_the_record_sorted(run: Run, fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/actions/hello", 200, RECORD)
    result = run("action", "invoke", "hello", "--blocking")
    assert result.exit_code == 0
    header, body = result.stdout.split("\n", 1)
    assert header == f"ok: invoked /_/hello with id {'a' * 32}"
    assert body.startswith('{\n    "activationId": "')
    assert body.index('"logs"') < body.index('"name"') < body.index('"response"')


def test_invoke_result_only(run: Run, fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/actions/hello", 200, {"greeting": "hi", "a": [1]})
    result = run("action", "invoke", "hello", "-r")
    assert result.stdout == '{\n    "a": [\n        1\n    ],\n    "greeting": "hi"\n}\n'
    assert dict(fake.last.url.params) == {"blocking": "true", "result": "true"}


def test_invoke_application_error(run: Run, fake: FakeWhisk) -> None:
    failed = {
        **RECORD,
        "response": {"result": {"error": "boom"}, "success": False, "status": "application error"},
    }
    fake.on("POST", f"{NS}/actions/hello", 502, failed)
    result = run("action", "invoke", "hello", "-b")
    assert result.exit_code == 246  # 502 - 256
    assert result.stdout == ""
    assert result.stderr.startswith(f"ok: invoked /_/hello with id {'a' * 32}\n{{")
    assert '"error": "boom"' in result.stderr
    fake.on("POST", f"{NS}/actions/hello", 502, {"error": "boom"})
    result = run("action", "invoke", "hello", "-r")
    assert (result.exit_code, result.stderr) == (246, '{\n    "error": "boom"\n}\n')


def test_invoke_still_running_after_the_blocking_wait(run: Run, fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/actions/slow", 202, {"activationId": "c" * 32})
    result = run("action", "invoke", "slow", "-b")
    assert result.exit_code == 202
    assert result.stderr == (
        f"ok: invoked /_/slow, but the request has not yet finished, with id {'c' * 32}\n"
    )


def test_invoke_refused(run: Run, fake: FakeWhisk) -> None:
    result = run("action", "invoke", "missing")
    assert result.exit_code == 148  # 404 - 256
    assert result.stderr.startswith(
        f"error: Unable to invoke action 'missing': The requested resource does not exist. "
        f"(code {TID})\n"
    )


def test_action_get_variants(
    run: Run, fake: FakeWhisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    action = {
        "namespace": "guest",
        "name": "hello",
        "exec": {"kind": "python:3.11", "code": "print(1)\n", "binary": False},
        "annotations": [{"key": "web-export", "value": True}],
    }
    fake.on("GET", f"{NS}/actions/hello", 200, action)
    result = run("action", "get", "hello")
    assert result.stdout.startswith('ok: got action hello\n{\n    "namespace": "guest",')
    assert fake.last.url.params["code"] == "false"  # wsk fetches code only to save it
    result = run("action", "get", "hello", "EXEC")
    assert result.stdout.startswith("ok: got action hello, displaying field EXEC\n{")
    assert run("action", "get", "hello", "nonsense").exit_code == 2
    result = run("action", "get", "hello", "--url")
    assert result.stdout == f"ok: got action hello\n{FAKE_HOST}/api/v1/web/guest/default/hello\n"
    assert run("action", "get", "hello", "--json").stdout.startswith("{")
    monkeypatch.chdir(tmp_path)
    result = run("action", "get", "hello", "--save")
    assert result.stdout == f"ok: saved action code to {tmp_path / 'hello.py'}\n"
    assert (tmp_path / "hello.py").read_text() == "print(1)\n"
    assert "already exists" in run("action", "get", "hello", "--save").stderr


def test_action_list_and_delete(run: Run, fake: FakeWhisk) -> None:
    fake.on(
        "GET",
        f"{NS}/actions",
        200,
        [
            {
                "namespace": "guest",
                "name": "b",
                "annotations": [{"key": "exec", "value": "nodejs:20"}],
            },
            {
                "namespace": "guest",
                "name": "a",
                "annotations": [{"key": "exec", "value": "python:3.11"}],
            },
        ],
    )
    result = run("action", "list", "-n", "-l", "2")
    assert result.stdout == (
        f"actions\n{'/guest/a':<70} private python:3.11\n{'/guest/b':<70} private nodejs:20\n"
    )
    assert dict(fake.last.url.params) == {"limit": "2", "skip": "0"}
    fake.on("GET", "/api/v1/namespaces/other/actions/tools/", 200, [])
    assert run("action", "list", "/other/tools").stdout == "actions\n"
    fake.on("DELETE", f"{NS}/actions/hello", 200, {})
    assert run("action", "delete", "hello").stdout == "ok: deleted action hello\n"


# --- triggers, rules, packages ------------------------------------------------------------


def test_trigger_fire(run: Run, fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/triggers/tick", 202, {"activationId": "d" * 32})
    result = run("trigger", "fire", "tick", "-p", "n", "1")
    assert result.stdout == f"ok: triggered /_/tick with id {'d' * 32}\n"
    assert fake.body() == {"n": 1}
    fake.on("POST", f"{NS}/triggers/tick", 204)
    result = run("trigger", "fire", "tick")
    assert (result.exit_code, result.stdout) == (0, "ok: triggered /_/tick with id \n")


def test_trigger_create_and_delete(run: Run, fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/triggers/tick", 200, {})
    assert run("trigger", "create", "tick", "-p", "a", "b").stdout == "ok: created trigger tick\n"
    assert fake.body() == {"parameters": [{"key": "a", "value": "b"}]}
    fake.on("GET", f"{NS}/triggers/tick", 200, {"name": "tick", "annotations": []})
    fake.on("DELETE", f"{NS}/triggers/tick", 200, {})
    assert run("trigger", "delete", "tick").stdout == "ok: deleted trigger tick\n"


def test_rules(run: Run, fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/rules/r", 200, {})
    assert run("rule", "create", "r", "tick", "/guest/hello").stdout == "ok: created rule r\n"
    assert fake.body() == {"trigger": "/_/tick", "action": "/guest/hello"}
    fake.on("POST", f"{NS}/rules/r", 200, {})
    assert run("rule", "disable", "r").stdout == "ok: disabled rule r\n"
    assert fake.body() == {"status": "inactive"}
    assert run("rule", "enable", "r").stdout == "ok: enabled rule r\n"
    fake.on("GET", f"{NS}/rules/r", 200, {"namespace": "guest", "name": "r", "status": "active"})
    assert run("rule", "status", "r").stdout == "ok: rule r is active\n"
    fake.on("GET", f"{NS}/rules", 200, [{"namespace": "guest", "name": "r"}])
    fake.on("GET", "/api/v1/namespaces/guest/rules/r", 200, {"status": "active"})
    assert run("rule", "list").stdout == f"rules\n{'/guest/r':<70} {'private':<20} active\n"


def test_packages(run: Run, fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/packages/tools", 200, {})
    result = run("package", "create", "tools", "--shared", "yes", "-p", "region", "eu")
    assert result.stdout == "ok: created package tools\n"
    assert fake.body() == {
        "parameters": [{"key": "region", "value": "eu"}],
        "annotations": [],
        "publish": True,
    }
    fake.on("PUT", f"{NS}/packages/mine", 200, {})
    assert run("package", "bind", "/whisk.system/utils", "mine").stdout == (
        "ok: created binding mine\n"
    )
    assert fake.body()["binding"] == {"namespace": "whisk.system", "name": "utils"}
    assert run("package", "create", "x", "--shared", "maybe").stderr.startswith(
        "error: Cannot use value 'maybe' for shared."
    )
    assert "instead of a namespace" in run("package", "list", "guest").stderr


# --- activations --------------------------------------------------------------------------


def test_activation_last_logs_result(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{NS}/activations", 200, [{"activationId": "e" * 32, "start": 1}])
    fake.on("GET", f"{NS}/activations/{'e' * 32}", 200, RECORD)
    fake.on("GET", f"{NS}/activations/{'e' * 32}/logs", 200, {"logs": RECORD["logs"]})
    fake.on(
        "GET",
        f"{NS}/activations/{'e' * 32}/result",
        200,
        {"result": {"greeting": "hi"}, "success": True, "status": "success"},
    )
    result = run("activation", "get", "--last")
    assert result.stdout.startswith(f"ok: got activation {'e' * 32}\n{{")
    assert dict(fake.requests[0].url.params) == {"limit": "1", "skip": "0"}
    result = run("activation", "get", "--last", "response")
    assert result.stdout.startswith(f"ok: got activation {'e' * 32}, displaying field response")
    assert run("activation", "logs", "--last").stdout == LOG_LINE + "\n"
    assert run("activation", "logs", "--last", "--strip").stdout == "hello\n"
    assert run("activation", "get", "--last", "-g").stdout == "hello\n"
    assert run("activation", "result", "--last").stdout == '{\n    "greeting": "hi"\n}\n'


def test_activation_last_without_activations(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{NS}/activations", 200, [])
    result = run("activation", "result", "--last")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: Unable to get result for activation: Activation list does not contain any "
        "activations."
    )


def test_activation_list_filters(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{NS}/activations", 200, [])
    result = run("activation", "list", "pkg/hello", "--since", "5", "--upto", "9", "-l", "3")
    assert result.stdout == "\n"  # wsk prints an empty header line for an empty list
    assert dict(fake.last.url.params) == {
        "limit": "3",
        "skip": "0",
        "name": "pkg/hello",
        "since": "5",
        "upto": "9",
    }
    result = run("activation", "list", "--full")
    assert result.stdout == "activations\n"
    assert fake.last.url.params["docs"] == "true"


# --- standalone and misc ------------------------------------------------------------------


def test_standalone_calls_run(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    import pwsk.standalone

    calls: list[dict[str, Any]] = []

    def fake_run(host: str = "127.0.0.1", port: int = 3233, data_dir: Path | None = None) -> None:
        calls.append({"host": host, "port": port, "data_dir": data_dir})

    monkeypatch.setattr(pwsk.standalone, "run", fake_run)
    result = Run(None, [])(
        "standalone", "--port", "4000", "--data-dir", str(home / "d"), "--no-demo"
    )
    assert result.exit_code == 0, result.output
    assert calls == [{"host": "127.0.0.1", "port": 4000, "data_dir": home / "d"}]
    assert "pwsk property set --apihost http://127.0.0.1:4000" in result.stderr


def test_version(home: Path) -> None:
    result = Run(None, [])("--version")
    assert (result.exit_code, result.stdout) == (0, "pwsk 0.1.0\n")


# --- wsk parity: namespace, certificates, refresh, payloads, --json ------------------------


def test_namespace_property_is_ignored_like_wsk(fake: FakeWhisk, home: Path) -> None:
    (home / ".wskprops").write_text(f"APIHOST={FAKE_HOST}\nAUTH={GUEST}\nNAMESPACE=other\n")
    fake.on("GET", f"{NS}/actions/hello", 200, {"name": "hello"})
    assert Run(fake.transport(), [])("action", "get", "hello").exit_code == 0
    assert fake.last.url.path == f"{NS}/actions/hello"


def test_client_certificate_flags(run: Run, fake: FakeWhisk, tmp_path: Path) -> None:
    missing = tmp_path / "absent.pem"
    result = run("--cert", str(missing), "--key", str(missing), "action", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: Unable to load the client certificate '{missing}':")
    assert fake.requests == []


def test_package_refresh(run: Run, fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/packages/refresh", 200, {"added": ["a"], "deleted": ["d1", "d2"]})
    result = run("package", "refresh")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "'_' refreshed successfully\ncreated bindings:\na\nupdated bindings:\n"
        "deleted bindings:\nd1\nd2\n"
    )
    assert json.loads(run("package", "refresh", "--json").stdout)["added"] == ["a"]
    fake.on("POST", "/api/v1/namespaces/guest/packages/refresh", 405, {"error": "no", "code": TID})
    result = run("package", "refresh", "/guest")
    assert (result.exit_code, result.stderr) == (
        3,
        "error: The package refresh feature is not implemented in the target deployment\n",
    )
    fake.on("POST", f"{NS}/packages/refresh", 403, {"error": "not yours", "code": TID})
    result = run("package", "refresh")
    assert (result.exit_code, result.stderr) == (
        403 - 256,
        f"error: Package refresh for namespace '_' failed: not yours (code {TID})\n",
    )
    assert "instead of a namespace" in run("package", "refresh", "pkg").stderr


def test_trigger_fire_payload_argument(run: Run, fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/triggers/tick", 202, {"activationId": "d" * 32})
    result = run("trigger", "fire", "tick", '{"a": 1, "b": 2}', "-p", "b", "3")
    assert result.exit_code == 0, result.output
    assert fake.body() == {"a": 1, "b": 3}
    assert json.loads(run("trigger", "fire", "tick", "--json").stdout) == {"activationId": "d" * 32}
    result = run("trigger", "fire", "tick", "[1]")
    assert result.stderr.startswith("error: Invalid argument(s): [1]. The PAYLOAD must be a JSON")


def test_invoke_json(run: Run, fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/actions/hello", 202, {"activationId": "b" * 32})
    result = run("action", "invoke", "hello", "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, {"activationId": "b" * 32})
    fake.on("POST", f"{NS}/actions/hello", 502, {"error": "boom"})
    result = run("action", "invoke", "hello", "-r", "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (246, {"error": "boom"})
    fake.on("POST", f"{NS}/actions/hello", 202, {"activationId": "c" * 32})
    assert run("action", "invoke", "hello", "-b", "--json").exit_code == 202


def test_json_everywhere_a_structure_is_printed(run: Run, fake: FakeWhisk) -> None:
    web = {"namespace": "guest", "name": "w", "annotations": [{"key": "web-export", "value": True}]}
    fake.on("GET", f"{NS}/actions/w", 200, web)
    assert json.loads(run("action", "get", "w", "--url", "--json").stdout) == {
        "url": f"{FAKE_HOST}/api/v1/web/guest/default/w"
    }
    fake.on("GET", f"{NS}/rules/r", 200, {"name": "r", "status": "inactive"})
    assert json.loads(run("rule", "status", "r", "--json").stdout) == {
        "name": "r",
        "status": "inactive",
    }
    fake.on("GET", f"{NS}/activations/{'e' * 32}/logs", 200, {"logs": [LOG_LINE]})
    assert json.loads(run("activation", "logs", "e" * 32, "--json").stdout) == [LOG_LINE]
    assert json.loads(run("activation", "logs", "e" * 32, "-r", "--json").stdout) == ["hello"]
    for collection in ("actions", "packages", "triggers", "rules"):
        fake.on("GET", f"{NS}/{collection}", 200, [{"namespace": "guest", "name": collection}])
    fake.on("GET", "/api/v1/namespaces/guest/rules/rules", 200, {"status": "active"})
    listed = json.loads(run("list", "--json").stdout)
    assert list(listed) == ["packages", "actions", "triggers", "rules"]
    assert listed["rules"] == [{"namespace": "guest", "name": "rules", "status": "active"}]
    assert json.loads(run("namespace", "get", "--json").stdout) == listed
    fake.on("GET", "/api/v1/namespaces", 200, ["guest"])
    props = json.loads(run("property", "get", "--apihost", "--namespace", "--json").stdout)
    assert props == {"apihost": FAKE_HOST, "namespace": "guest"}


def test_web_flag_mapping(run: Run, fake: FakeWhisk, hello: Path) -> None:
    """Spec 5.4's CLI mapping: true|yes, raw, false|no, and --web-secure."""
    fake.on("PUT", f"{NS}/actions/hello", 200, {})
    fake.on("GET", f"{NS}/actions/hello", 404, {"error": "gone", "code": TID})

    def annotations(*flags: str) -> dict[str, Any]:
        result = run("action", "update", "hello", str(hello), *flags)
        assert result.exit_code == 0, result.output
        return {a["key"]: a["value"] for a in fake.body().get("annotations", [])}

    web = {"web-export": True, "raw-http": False, "final": True}
    assert annotations("--web", "true") == web
    assert annotations("--web", "YES") == web
    assert annotations("--web", "raw") == {**web, "raw-http": True}
    off = {"web-export": False, "raw-http": False, "final": False}
    assert annotations("--web", "false") == off == annotations("--web", "no")
    secured = annotations("--web", "true", "--web-secure", "true")
    assert isinstance(secured["require-whisk-auth"], int) and secured["require-whisk-auth"] > 0
    assert annotations("--web", "true", "--web-secure", "s3cret")["require-whisk-auth"] == "s3cret"
    assert "require-whisk-auth" not in annotations("--web", "true", "--web-secure", "false")
    result = run("action", "update", "hello", str(hello), "--web", "maybe")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid argument 'maybe' for --web flag.")


def test_web_secure_false_removes_an_existing_secret(run: Run, fake: FakeWhisk) -> None:
    existing = {
        "name": "hello",
        "annotations": [
            {"key": "web-export", "value": True},
            {"key": "require-whisk-auth", "value": 42},
        ],
    }
    fake.on("GET", f"{NS}/actions/hello", 200, existing)
    fake.on("PUT", f"{NS}/actions/hello", 200, {})
    assert run("action", "update", "hello", "--web-secure", "false").exit_code == 0
    assert fake.body()["delAnnotations"] == ["require-whisk-auth"]
    assert run("action", "update", "hello", "--web-secure", "true").exit_code == 0
    # An existing numeric secret is kept, as wsk does.
    assert {"key": "require-whisk-auth", "value": 42} in fake.body()["annotations"]


def _leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    import click

    if isinstance(command, click.Group):
        return [
            leaf
            for name, sub in sorted(command.commands.items())
            for leaf in _leaves(sub, (*path, name))
        ]
    return [(path, command)]


def test_every_command_has_help_with_examples() -> None:
    import click

    from pwsk.cli.main import cli

    leaves = _leaves(cli)
    assert len(leaves) > 45
    for path, command in leaves:
        ctx = click.Context(command, info_name=" ".join(("pwsk", *path)))
        text = command.get_help(ctx)
        assert command.help, path
        assert f"pwsk {' '.join(path)}" in text.split("Options:")[0], f"no example: {path}"


def test_spec_command_tree_is_complete() -> None:
    from pwsk.cli.main import cli

    have = {" ".join(path) for path, _ in _leaves(cli)}
    spec = {
        "action create", "action update", "action invoke", "action get", "action delete",
        "action list", "trigger create", "trigger update", "trigger fire", "trigger get",
        "trigger delete", "trigger list", "rule create", "rule update", "rule enable",
        "rule disable", "rule status", "rule get", "rule delete", "rule list", "package create",
        "package update", "package bind", "package get", "package delete", "package list",
        "package refresh", "activation list", "activation get", "activation logs",
        "activation result", "activation poll", "namespace list", "namespace get",
        "property set", "property unset", "property get", "list", "api create", "api get",
        "api delete", "api list", "sdk install", "project deploy", "project undeploy",
        "project export",
    }  # fmt: skip
    assert spec <= have, spec - have
