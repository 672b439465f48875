"""The CLI end to end against a real ``pwsk standalone`` (the session ``server`` fixture)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.conftest import Run
from tests.servers import ROOT, Server

ID = re.compile(r"[0-9a-f]{32}")
HELLO = (
    "def main(args):\n"
    "    name = args.get('name', 'stranger')\n"
    "    print('greeting', name)\n"
    "    return {'greeting': f'Hello {name}'}\n"
)
UPPER = "def main(args):\n    return {'greeting': args['greeting'].upper()}\n"
FAIL = "def main(args):\n    raise ValueError('no way')\n"

Cli = Callable[..., Result]


@pytest.fixture
def wsk(server: Server, home: Path) -> Cli:
    """``wsk(...)`` runs the CLI in-process against the server, asserting nothing."""
    return Run(None, ["--apihost", server.url, "-u", server.auth])


@pytest.fixture
def source(tmp_path: Path) -> Callable[[str, str], str]:
    def write(filename: str, code: str) -> str:
        path = tmp_path / filename
        path.write_text(code)
        return str(path)

    return write


def ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def activation_ids(wsk: Cli, action: str, at_least: int = 1, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        ids = ID.findall(ok(wsk("activation", "list", action)))
        if len(ids) >= at_least or time.monotonic() > deadline:
            return ids
        time.sleep(0.2)


def test_action_lifecycle(wsk: Cli, name: str, source: Callable[[str, str], str]) -> None:
    code = source("hello.py", HELLO)
    assert ok(wsk("action", "create", name, code)) == f"ok: created action {name}\n"
    result = wsk("action", "create", name, code)
    assert result.exit_code == 153
    assert re.fullmatch(
        rf"error: Unable to create action '{name}': resource already exists \(code \w+\)\n"
        rf"Run 'pwsk action create --help' for usage.\n",
        result.stderr,
    )
    assert json.loads(ok(wsk("action", "invoke", name, "-r", "-p", "name", "Ada"))) == {
        "greeting": "Hello Ada"
    }
    assert ok(wsk("action", "update", name, "-p", "name", "Bob", "-m", "128")) == (
        f"ok: updated action {name}\n"
    )
    blocking = ok(wsk("action", "invoke", name, "--blocking"))
    header, body = blocking.split("\n", 1)
    assert re.fullmatch(rf"ok: invoked /_/{name} with id [0-9a-f]{{32}}", header)
    record = json.loads(body)
    assert record["response"]["result"] == {"greeting": "Hello Bob"}
    assert record["activationId"] == header.rsplit(" ", 1)[1]

    got = ok(wsk("action", "get", name))
    assert got.startswith(f"ok: got action {name}\n")
    action = json.loads(got.split("\n", 1)[1])
    assert action["limits"]["memory"] == 128
    assert action["parameters"] == [{"key": "name", "value": "Bob"}]
    assert json.loads(ok(wsk("action", "get", name, "limits", "--json")))["memory"] == 128
    assert f"/guest/{name} " in ok(wsk("action", "list", "-l", "200"))

    assert ok(wsk("action", "delete", name)) == f"ok: deleted action {name}\n"
    gone = wsk("action", "get", name)
    assert gone.exit_code == 148
    assert gone.stderr.startswith(
        f"error: Unable to get action '{name}': The requested resource does not exist. (code "
    )


def test_non_blocking_invoke_then_activation_commands(
    wsk: Cli, name: str, source: Callable[[str, str], str]
) -> None:
    ok(wsk("action", "create", name, source("hello.py", HELLO)))
    out = ok(wsk("action", "invoke", name, "-p", "name", "Eve"))
    match = re.fullmatch(rf"ok: invoked /_/{name} with id ([0-9a-f]{{32}})\n", out)
    assert match
    activation_id = match.group(1)
    assert activation_id in activation_ids(wsk, name)

    got = ok(wsk("activation", "get", activation_id))
    assert got.startswith(f"ok: got activation {activation_id}\n")
    assert json.loads(got.split("\n", 1)[1])["response"]["result"] == {"greeting": "Hello Eve"}
    assert json.loads(ok(wsk("activation", "result", activation_id))) == {"greeting": "Hello Eve"}
    logs = ok(wsk("activation", "logs", activation_id))
    assert re.fullmatch(r"\S+Z\s+stdout: greeting Eve\n", logs)
    assert ok(wsk("activation", "logs", activation_id, "--strip")) == "greeting Eve\n"
    assert ok(wsk("activation", "get", activation_id, "-s")).startswith(
        f"activation result for '/guest/{name}' (success at "
    )
    table = ok(wsk("activation", "list", name)).splitlines()
    assert table[0].split() == [
        "Datetime",
        "Activation",
        "ID",
        "Kind",
        "Start",
        "Duration",
        "Status",
        "Entity",
    ]
    row = next(line for line in table if activation_id in line)
    assert "python:" in row and " success " in row and f"guest/{name}:0.0.1" in row
    assert row.split()[4] in ("cold", "warm")

    last = ok(wsk("activation", "get", "--last"))
    assert re.match(r"ok: got activation [0-9a-f]{32}\n\{", last)
    assert ok(wsk("activation", "result", "--last")).startswith("{")


def test_application_error_exit_code(
    wsk: Cli, name: str, source: Callable[[str, str], str]
) -> None:
    ok(wsk("action", "create", name, source("fail.py", FAIL)))
    result = wsk("action", "invoke", name, "-b")
    assert result.exit_code == 246  # 502 - 256, like wsk
    assert result.stdout == ""
    assert result.stderr.startswith(f"ok: invoked /_/{name} with id ")
    record = json.loads(result.stderr.split("\n", 1)[1])
    assert record["response"]["status"] == "application error"
    assert "no way" in record["response"]["result"]["error"]
    result = wsk("action", "invoke", name, "-r")
    assert result.exit_code == 246
    assert "no way" in json.loads(result.stderr)["error"]


def test_invoke_missing_action(wsk: Cli, name: str) -> None:
    result = wsk("action", "invoke", name)
    assert result.exit_code == 148
    assert result.stderr.startswith(f"error: Unable to invoke action '{name}': ")


def test_zip_action_needs_kind(wsk: Cli, name: str, tmp_path: Path) -> None:
    archive = tmp_path / "app.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("__main__.py", "def main(args):\n    return {'zipped': args.get('n', 0)}\n")
    archive.write_bytes(buffer.getvalue())
    result = wsk("action", "create", name, str(archive))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: Invalid argument(s). creating an action from a .zip artifact requires "
        "specifying the action kind explicitly\n"
    )
    ok(wsk("action", "create", name, str(archive), "--kind", "python:default"))
    assert json.loads(ok(wsk("action", "invoke", name, "-r", "-p", "n", "7"))) == {"zipped": 7}
    exec_ = json.loads(ok(wsk("action", "get", name, "exec", "--json")))
    assert exec_["binary"] is True


def test_sequence(wsk: Cli, name: str, source: Callable[[str, str], str]) -> None:
    ok(wsk("action", "create", f"{name}-hello", source("hello.py", HELLO)))
    ok(wsk("action", "create", f"{name}-upper", source("upper.py", UPPER)))
    ok(wsk("action", "create", name, "--sequence", f"{name}-hello,{name}-upper"))
    assert json.loads(ok(wsk("action", "invoke", name, "-r", "-p", "name", "Zed"))) == {
        "greeting": "HELLO ZED"
    }
    exec_ = json.loads(ok(wsk("action", "get", name, "exec", "--json")))
    assert exec_["kind"] == "sequence"
    assert exec_["components"] == [f"/guest/{name}-hello", f"/guest/{name}-upper"]


def test_names_with_spaces_and_symbols(
    wsk: Cli, name: str, source: Callable[[str, str], str]
) -> None:
    odd = f"{name} a&b@c"
    ok(wsk("action", "create", odd, source("hello.py", HELLO)))
    assert json.loads(ok(wsk("action", "invoke", odd, "-r"))) == {"greeting": "Hello stranger"}
    assert ok(wsk("action", "delete", odd)) == f"ok: deleted action {odd}\n"


def test_triggers_and_rules(wsk: Cli, name: str, source: Callable[[str, str], str]) -> None:
    action, trigger, rule = f"{name}-a", f"{name}-t", f"{name}-r"
    ok(wsk("action", "create", action, source("hello.py", HELLO)))
    assert ok(wsk("trigger", "create", trigger, "-p", "name", "Trig")) == (
        f"ok: created trigger {trigger}\n"
    )
    # No rule yet: the server answers 204 and wsk prints an empty id.
    assert ok(wsk("trigger", "fire", trigger)) == f"ok: triggered /_/{trigger} with id \n"
    assert ok(wsk("rule", "create", rule, trigger, action)) == f"ok: created rule {rule}\n"
    assert ok(wsk("rule", "status", rule)) == f"ok: rule {rule} is active\n"
    fired = ok(wsk("trigger", "fire", trigger, "-p", "extra", "1"))
    match = re.fullmatch(rf"ok: triggered /_/{trigger} with id ([0-9a-f]{{32}})\n", fired)
    assert match
    assert match.group(1) in activation_ids(wsk, trigger)
    ran = activation_ids(wsk, action)
    assert ran
    result = json.loads(ok(wsk("activation", "result", ran[0])))
    assert result == {"greeting": "Hello Trig"}

    rules = ok(wsk("rule", "list", "-l", "200"))
    assert re.search(rf"/guest/{rule} +private +active\n", rules)
    assert ok(wsk("rule", "disable", rule)) == f"ok: disabled rule {rule}\n"
    assert ok(wsk("rule", "status", rule)) == f"ok: rule {rule} is inactive\n"
    assert ok(wsk("trigger", "fire", trigger)) == f"ok: triggered /_/{trigger} with id \n"
    assert ok(wsk("rule", "enable", rule)) == f"ok: enabled rule {rule}\n"
    got = json.loads(ok(wsk("trigger", "get", trigger, "--json")))
    assert got["rules"][f"guest/{rule}"]["status"] == "active"
    assert f"/guest/{trigger} " in ok(wsk("trigger", "list", "-l", "200"))
    assert ok(wsk("rule", "delete", rule, "--disable")) == f"ok: deleted rule {rule}\n"
    assert ok(wsk("trigger", "delete", trigger)) == f"ok: deleted trigger {trigger}\n"
    assert wsk("trigger", "get", trigger).exit_code == 148


def test_packages_and_bindings(wsk: Cli, name: str, source: Callable[[str, str], str]) -> None:
    ok(wsk("package", "create", name, "-p", "name", "Pkg"))
    ok(wsk("action", "create", f"{name}/greet", source("hello.py", HELLO)))
    assert json.loads(ok(wsk("action", "invoke", f"{name}/greet", "-r"))) == {
        "greeting": "Hello Pkg"
    }
    assert ok(wsk("package", "bind", name, f"{name}-b", "-p", "name", "Bound")) == (
        f"ok: created binding {name}-b\n"
    )
    assert json.loads(ok(wsk("action", "invoke", f"{name}-b/greet", "-r"))) == {
        "greeting": "Hello Bound"
    }
    assert f"/guest/{name}/greet " in ok(wsk("action", "list", name))
    summary = ok(wsk("package", "get", name, "-s"))
    assert summary.startswith(f"package /guest/{name}: Returns a result based on parameter name")
    assert f" action /guest/{name}/greet" in summary
    busy = wsk("package", "delete", name)
    assert busy.exit_code == 153
    assert "Package not empty" in busy.stderr
    ok(wsk("package", "delete", f"{name}-b"))
    ok(wsk("action", "delete", f"{name}/greet"))
    assert ok(wsk("package", "delete", name)) == f"ok: deleted package {name}\n"


def test_namespace_and_property(wsk: Cli, server: Server) -> None:
    assert ok(wsk("namespace", "list")) == "namespaces\nguest\n"
    everything = ok(wsk("list"))
    assert everything.startswith("Entities in namespace: default\npackages\n")
    props = ok(wsk("property", "get", "--namespace", "--apibuild"))
    assert props == "whisk namespace\t\tguest\nwhisk API build\t\tpwsk\n"


def test_as_a_subprocess(server: Server, home: Path, name: str) -> None:
    """The real entry point: exit codes reach the shell, output is not colored in a pipe."""
    env = {**os.environ, "HOME": str(home), "WHISK_APIHOST": server.url, "WHISK_AUTH": server.auth}

    def pwsk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pwsk.cli.main", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = pwsk("trigger", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("triggers\n"), listed.stderr
    missing = pwsk("trigger", "get", name)
    assert missing.returncode == 148
    assert missing.stderr.startswith(f"error: Unable to get trigger '{name}': ")
    assert "\x1b[" not in missing.stderr


FEED = (
    "def main(args):\n"
    "    if args.get('refuse'):\n"
    "        return {'error': 'feed refused'}\n"
    "    print(args['lifecycleEvent'], args['triggerName'], args.get('x'))\n"
    "    return {'event': args['lifecycleEvent'], 'trigger': args['triggerName']}\n"
)


def test_trigger_with_feed(wsk: Cli, name: str, source: Callable[[str, str], str]) -> None:
    feed, trigger = f"{name}-feed", f"{name}-t"
    ok(wsk("action", "create", feed, source("feed.py", FEED)))
    created = ok(wsk("trigger", "create", trigger, "--feed", feed, "-p", "x", "1"))
    header, rest = created.split("\n", 1)
    assert re.fullmatch(rf"ok: invoked /_/{feed} with id [0-9a-f]{{32}}", header)
    assert rest.endswith(f"ok: created trigger {trigger}\n")
    record = json.loads(rest.rsplit("ok: created", 1)[0])
    assert record["response"]["result"] == {"event": "CREATE", "trigger": f"/_/{trigger}"}
    got = json.loads(ok(wsk("trigger", "get", trigger, "--json")))
    assert {"key": "feed", "value": f"/_/{feed}"} in got["annotations"]
    assert got["parameters"] == []  # with a feed, -p goes to the feed action

    deleted = ok(wsk("trigger", "delete", trigger))
    assert deleted.endswith(f"ok: deleted trigger {trigger}\n")
    assert json.loads(deleted.rsplit("ok: deleted", 1)[0])["response"]["result"]["event"] == (
        "DELETE"
    )

    refused = wsk("trigger", "create", trigger, "--feed", feed, "-p", "refuse", "true")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"error: Unable to create trigger '{trigger}': Unable to configure feed '/_/{feed}': "
        "The following application error was received: feed refused\n"
    )
    assert wsk("trigger", "get", trigger).exit_code == 148  # rolled back


SLOW = "import time\n\ndef main(args):\n    time.sleep(2)\n    return {'slept': True}\n"


def test_client_against_the_server(server: Server, name: str) -> None:
    from pwsk.client import Client, ClientError

    with Client(server.url, server.auth) as client:
        assert client.info()["api_version"] == "1.0.0"
        assert client.namespaces() == ["guest"]
        assert client.limits()["concurrentInvocations"] > 0
        client.put_action(name, {"exec": {"kind": "python:default", "code": SLOW}})
        assert client.count("actions") >= 1
        run = client.invoke(name, blocking=True, timeout_ms=300)
        assert run.pending and run.activation_id and ID.fullmatch(run.activation_id)
        with pytest.raises(ClientError) as err:
            client.invoke(name, blocking=True, timeout_ms=120_000)
        assert err.value.status == 400 and err.value.code
        done = client.invoke(name, blocking=True, result=True)
        assert (done.status, done.body) == (200, {"slept": True})


@pytest.mark.anyio
async def test_async_client_against_the_server(server: Server, name: str) -> None:
    from pwsk.client import AsyncClient

    async with AsyncClient(server.url, server.auth) as client:
        await client.put_action(name, {"exec": {"kind": "python:default", "code": HELLO}})
        run = await client.invoke(name, {"name": "Async"}, blocking=True)
        assert run.succeeded and run.body["response"]["result"] == {"greeting": "Hello Async"}
        logs = await client.activation_logs(str(run.activation_id))
        assert logs and logs[0].endswith("stdout: greeting Async")
        await client.delete_action(name)


ECHO = "def main(args):\n    return {k: v for k, v in args.items() if k != '__ow_headers'}\n"
ITEM = (
    "def main(args):\n"
    "    return {'statusCode': 201, 'headers': {'X-Item': args.get('id', '')},\n"
    "            'body': {'item': args.get('id'), 'method': args['__ow_method']}}\n"
)


def test_web_action_url(wsk: Cli, name: str, source: Callable[[str, str], str]) -> None:
    import httpx

    ok(wsk("action", "create", name, source("echo.py", ECHO)))
    plain = ok(wsk("action", "get", name, "--url")).splitlines()[1]
    assert plain.endswith(f"/api/v1/namespaces/guest/actions/{name}")
    assert ok(wsk("action", "update", name, "--web", "true")) == f"ok: updated action {name}\n"
    out = ok(wsk("action", "get", name, "--url"))
    header, url = out.splitlines()
    assert header == f"ok: got action {name}"
    assert url.endswith(f"/api/v1/web/guest/default/{name}")
    answer = httpx.get(url + ".json", params={"who": "web"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["who"] == "web" and answer.json()["__ow_method"] == "get"

    ok(wsk("action", "update", name, "--web-secure", "s3cret"))
    assert httpx.get(url + ".json", timeout=30).status_code == 401
    secured = httpx.get(url + ".json", headers={"X-Require-Whisk-Auth": "s3cret"}, timeout=30)
    assert secured.status_code == 200
    ok(wsk("action", "update", name, "--web", "false"))
    assert httpx.get(url + ".json", timeout=30).status_code == 404
    assert ok(wsk("action", "get", name, "--url")).splitlines()[1] == plain


def test_api_routes(wsk: Cli, server: Server, name: str, source: Callable[[str, str], str]) -> None:
    import httpx

    echo, item = f"{name}-echo", f"{name}-item"
    ok(wsk("action", "create", echo, source("echo.py", ECHO), "--web", "true"))
    ok(wsk("action", "create", item, source("item.py", ITEM), "--web", "true"))
    base = f"/{name}"
    gateway = f"{server.url}/gw/guest{base}"

    created = ok(wsk("api", "create", base, "/echo", "get", echo, "--apiname", f"{name}-api"))
    assert created == f"ok: created API {base}/echo GET for action /_/{echo}\n{gateway}/echo\n"
    answer = httpx.get(f"{gateway}/echo", params={"q": "1"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["q"] == "1"

    refused = wsk("api", "create", base, "/items/{id}", "put", item)
    assert refused.exit_code == 1 and "response type of 'http' is required" in refused.stderr
    ok(wsk("api", "create", base, "/items/{id}", "put", item, "--response-type", "http"))
    put = httpx.put(f"{gateway}/items/42", timeout=30)
    assert put.status_code == 201, put.text
    assert put.headers["x-item"] == "42" and put.json() == {"item": "42", "method": "put"}

    table = ok(wsk("api", "list", base)).splitlines()
    assert table[0] == "ok: APIs"
    assert table[1].split() == ["Action", "Verb", "API", "Name", "URL"]
    rows = sorted(line.split() for line in table[2:])
    assert rows == sorted(
        [
            [f"/guest/{echo}", "get", f"{name}-api", f"{gateway}/echo"],
            [f"/guest/{item}", "put", f"{name}-api", f"{gateway}/items/{{id}}"],
        ]
    )
    assert f"{gateway}/echo" in ok(wsk("api", "list"))
    full = ok(wsk("api", "list", f"{name}-api", "/echo", "get", "--full"))
    assert f"   Base path: {base}\n   Path: /echo\n   Verb: get\n" in full

    swagger = json.loads(ok(wsk("api", "get", base)))
    assert swagger["swagger"] == "2.0" and swagger["basePath"] == base
    assert set(swagger["paths"]) == {"/echo", "/items/{id}"}
    assert json.loads(ok(wsk("api", "get", f"{name}-api", "--full")))["gwApiUrl"] == gateway
    assert ok(wsk("api", "get", base, "--format", "yaml")).startswith(f"basePath: {base}\n")

    assert ok(wsk("api", "delete", base, "/items/{id}", "put")) == (
        f"ok: deleted /items/{{id}} PUT from {base}\n"
    )
    assert httpx.put(f"{gateway}/items/42", timeout=30).status_code == 404
    assert ok(wsk("api", "delete", base)) == f"ok: deleted API {base}\n"
    assert httpx.get(f"{gateway}/echo", timeout=30).status_code == 404
    gone = wsk("api", "get", base)
    assert (gone.exit_code, gone.stderr) == (1, f"error: API does not exist for basepath {base}\n")
    again = wsk("api", "delete", base)
    assert again.exit_code == 1 and again.stderr.startswith("error: Unable to delete API: ")


def test_api_needs_a_web_action(wsk: Cli, name: str, source: Callable[[str, str], str]) -> None:
    ok(wsk("action", "create", name, source("echo.py", ECHO)))
    result = wsk("api", "create", f"/{name}", "/x", "get", name)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: Action '/_/{name}' is not a web action.")


def test_api_from_a_swagger_file(
    wsk: Cli, server: Server, name: str, source: Callable[[str, str], str], tmp_path: Path
) -> None:
    import httpx

    ok(wsk("action", "create", name, source("echo.py", ECHO), "--web", "true"))
    doc = {
        "swagger": "2.0",
        "basePath": f"/{name}",
        "info": {"title": name, "version": "1.0"},
        "paths": {
            "/hi": {
                "post": {
                    "operationId": "hi",
                    "responses": {},
                    "x-openwhisk": {"namespace": "guest", "action": name, "package": ""},
                }
            }
        },
    }
    path = tmp_path / "api.json"
    path.write_text(json.dumps(doc))
    gateway = f"{server.url}/gw/guest/{name}"
    assert ok(wsk("api", "create", "-c", str(path))) == (
        f"ok: created API /{name}/hi post for action /guest/{name}\n{gateway}/hi\n"
    )
    assert httpx.post(f"{gateway}/hi", json={"n": 5}, timeout=30).json()["n"] == 5
    ok(wsk("api", "delete", name))  # by API name


def test_verbose_shows_http_but_never_the_key(
    wsk: Cli, server: Server, name: str, source: Callable[[str, str], str]
) -> None:
    import base64

    ok(wsk("action", "create", name, source("echo.py", ECHO), "--web", "true"))
    # api create sends the key in its body (the gateway's "authkey"), as wsk does.
    result = wsk("-v", "api", "create", f"/{name}", "/x", "get", name)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"ok: created API /{name}/x GET")
    trace = result.stderr
    assert f"REQUEST:\n[GET]\t{server.url}/api/v1/namespaces/_/actions/{name}?code=false" in trace
    assert f"[POST]\t{server.url}/api/v1/web/whisk.system/apimgmt/createApi.http?" in trace
    assert '"authorization": "Basic ***"' in trace
    assert '"authkey":"***"' in trace
    assert "RESPONSE:\nGot response with code 200" in trace
    assert "Req Body\n" in trace and "Response body received:\n" in trace
    key = server.auth
    for secret in (key, key.split(":")[1], base64.b64encode(key.encode()).decode()):
        assert secret not in trace
    ok(wsk("api", "delete", f"/{name}"))


def test_completion_script_drives_the_cli(server: Server, home: Path, tmp_path: Path) -> None:
    import shutil

    script = ok(Run(None, [])("completion", "bash"))
    assert "_pwsk_completion" in script
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    # Source the script in bash and run its completion function on a partial command line,
    # with `pwsk` on PATH, as a user's shell would.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pwsk = bin_dir / "pwsk"
    pwsk.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pwsk.cli.main "$@"\n')
    pwsk.chmod(0o755)
    (tmp_path / "completion.sh").write_text(script)
    probe = (
        f"source {tmp_path / 'completion.sh'}\n"
        "COMP_WORDS=(pwsk api cr); COMP_CWORD=2\n"
        "_pwsk_completion pwsk\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(home)}
    done = subprocess.run(
        [bash, "--norc", "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["create"]


def test_refresh_and_sdk_on_a_server_without_them(
    wsk: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = wsk("package", "refresh")
    assert (result.exit_code, result.stderr) == (
        3,
        "error: The package refresh feature is not implemented in the target deployment\n",
    )
    monkeypatch.chdir(tmp_path)
    result = wsk("sdk", "install", "docker")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: The docker SDK installation failed: Unable to retrieve 'blackbox.tar.gz' SDK: "
    )
    assert list(tmp_path.iterdir()) == []
