"""``pwsk api`` against a scripted server: arguments, the apidoc sent, wsk's messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import FAKE_HOST, GUEST, TID, FakeWhisk, Run

NS = "/api/v1/namespaces/_"
MGMT = "/api/v1/web/whisk.system/apimgmt"
GW = f"{FAKE_HOST}/gw/guest"
UUID = GUEST.split(":")[0]
WEB = {"namespace": "guest", "name": "hello", "annotations": [{"key": "web-export", "value": True}]}


def swagger(base: str = "/shop", title: str = "/shop", **paths: dict[str, Any]) -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "basePath": base,
        "info": {"title": title, "version": "1.0.0"},
        "paths": paths,
    }


def op(action: str, package: str = "") -> dict[str, Any]:
    return {
        "operationId": "x",
        "responses": {},
        "x-openwhisk": {
            "namespace": "guest",
            "action": action,
            "package": package,
            "url": "ignored",
        },
    }


def entry(doc: dict[str, Any]) -> dict[str, Any]:
    key = f"API:guest:{doc['basePath']}"
    return {
        "id": key,
        "key": key,
        "value": {
            "namespace": "guest",
            "gwApiActivated": True,
            "tenantId": "guest",
            "gwApiUrl": f"{GW}{doc['basePath']}",
            "apidoc": doc,
        },
    }


SHOP = swagger(
    **{"/items": {"get": op("list"), "post": op("add", "tools")}, "/items/{id}": {"get": op("one")}}
)


@pytest.fixture
def web(fake: FakeWhisk) -> FakeWhisk:
    fake.on("GET", f"{NS}/actions/hello", 200, WEB)
    fake.on(
        "POST",
        f"{MGMT}/createApi.http",
        200,
        entry(swagger(**{"/items": {"get": op("hello")}}))["value"],
    )
    return fake


# --- create ---------------------------------------------------------------------------------


def test_create_sends_wsks_apidoc(run: Run, web: FakeWhisk) -> None:
    result = run("api", "create", "/shop", "/items", "get", "hello", "--apiname", "Shop")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"ok: created API /shop/items GET for action /_/hello\n{GW}/shop/items\n"
    )
    check, create = web.requests
    assert check.url.path == f"{NS}/actions/hello" and check.url.params["code"] == "false"
    assert dict(create.url.params) == {
        "responsetype": "json",
        "spaceguid": UUID,
        "accesstoken": "DUMMY TOKEN",
    }
    assert web.body() == {
        "apidoc": {
            "namespace": "_",
            "apiName": "Shop",
            "gatewayBasePath": "/shop",
            "gatewayPath": "/items",
            "gatewayMethod": "GET",
            "id": "API:_:/shop",
            "action": {
                "name": "hello",
                "namespace": "_",
                "backendMethod": "GET",
                "backendUrl": f"{FAKE_HOST}/api/v1/web/_/default/hello.http",
                "authkey": GUEST,
            },
        }
    }


def test_create_without_base_path_uses_root(run: Run, web: FakeWhisk) -> None:
    web.on("GET", f"{NS}/actions/pkg/hello", 200, WEB)
    result = run("api", "create", "/items", "POST", "pkg/hello")
    assert result.stdout.startswith("ok: created API /items POST for action /_/pkg/hello\n")
    doc = web.body()["apidoc"]
    assert (doc["gatewayBasePath"], doc["id"]) == ("/", "API:_:/")
    assert doc["action"]["name"] == "pkg/hello"
    assert doc["action"]["backendUrl"].endswith("/web/_/pkg/hello.http")


def test_create_with_path_parameters_needs_http(run: Run, web: FakeWhisk) -> None:
    result = run("api", "create", "/shop", "/items/{id}", "get", "hello")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: Unable to parse api command arguments: A response type of 'http' is required "
        "when using path parameters.\nRun 'pwsk api create --help' for usage.\n"
    )
    assert web.requests == []
    result = run("api", "create", "/shop", "/items/{id}", "get", "hello", "--response-type", "http")
    assert result.exit_code == 0, result.output
    assert web.last.url.params["responsetype"] == "http"
    assert web.body()["apidoc"]["pathParameters"] == [
        {
            "name": "id",
            "in": "path",
            "description": "Default description for 'id'",
            "required": True,
            "type": "string",
        }
    ]


def test_create_forwards_the_web_secret(run: Run, fake: FakeWhisk) -> None:
    secured = {
        **WEB,
        "annotations": [*WEB["annotations"], {"key": "require-whisk-auth", "value": 1234}],
    }
    fake.on("GET", f"{NS}/actions/hello", 200, secured)
    fake.on("POST", f"{MGMT}/createApi.http", 200, entry(swagger())["value"])
    assert run("api", "create", "/shop", "/x", "get", "hello").exit_code == 0
    assert fake.body()["apidoc"]["action"]["secureKey"] == 1234


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (),
            "Invalid argument(s). Specify a swagger file or specify an API base path with an "
            "API path, an API verb, and an action name.",
        ),
        (("/a", "/b"), "Invalid argument(s). Specify a swagger file"),
        (("/a", "/b", "get", "x", "extra"), "Invalid argument(s): extra. Specify a swagger file"),
        (
            ("/shop", "items", "get", "hello"),
            "Unable to parse api command arguments: 'items' must begin with '/'.",
        ),
        (
            ("/shop", "/items", "fetch", "hello"),
            "Unable to parse api command arguments: 'fetch' is not a valid API verb.  Valid values "
            "are: [GET PUT POST DELETE PATCH HEAD OPTIONS]",
        ),
        (
            ("/shop/{x}", "/items", "get", "hello"),
            "Unable to parse api command arguments: The base path '/shop/{x}' cannot have "
            "parameters. Only the relative path supports path parameters.",
        ),
        (
            ("/shop", "/items", "get", "/a/b/c/d"),
            "Unable to parse api command arguments: '/a/b/c/d' is not a valid action name:",
        ),
    ],
)
def test_create_argument_errors(
    run: Run, fake: FakeWhisk, args: tuple[str, ...], message: str
) -> None:
    result = run("api", "create", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {message}")
    assert result.stderr.endswith("Run 'pwsk api create --help' for usage.\n")
    assert fake.requests == []


def test_create_needs_a_web_action(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{NS}/actions/plain", 200, {"name": "plain", "annotations": []})
    result = run("api", "create", "/shop", "/x", "get", "plain")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: Action '/_/plain' is not a web action. Issue 'pwsk action update \"/_/plain\" "
        "--web true' to convert the action to a web action.\n"
    )
    result = run("api", "create", "/shop", "/x", "get", "missing")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: Unable to get action '/_/missing': The requested resource does not exist. "
        f"(code {TID})"
    )
    assert [r.method for r in fake.requests] == ["GET", "GET"]


def test_create_refused_by_the_server_exits_1(run: Run, web: FakeWhisk) -> None:
    web.on("POST", f"{MGMT}/createApi.http", 400, {"error": "bad route", "code": TID})
    result = run("api", "create", "/shop", "/x", "get", "hello")
    assert result.exit_code == 1  # wsk's api commands exit 1, not status - 256
    assert result.stderr == f"error: Unable to create API: bad route (code {TID})\n"


def test_create_under_an_api_name(run: Run, web: FakeWhisk) -> None:
    web.on("GET", f"{MGMT}/getApi.http", 200, {"apis": [entry(swagger("/shop", "Shop"))]})
    result = run("api", "create", "Shop", "/items", "get", "hello")
    assert result.exit_code == 0, result.output
    assert web.requests[0].url.params["basepath"] == "Shop"
    assert web.body()["apidoc"]["gatewayBasePath"] == "/shop"
    assert web.body()["apidoc"]["apiName"] == "Shop"
    assert result.stdout.startswith("ok: created API /shop/items GET")
    result = run("api", "create", "Shop", "/items", "get", "hello", "-n", "Other")
    assert "An API name can only be specified once." in result.stderr
    web.on("GET", f"{MGMT}/getApi.http", 200, {"apis": []})
    result = run("api", "create", "Nope", "/items", "get", "hello")
    assert result.exit_code == 1
    assert "API does not exist for API name Nope" in result.stderr


def test_create_from_a_swagger_file(run: Run, fake: FakeWhisk, tmp_path: Path) -> None:
    doc = swagger(**{"/items": {"get": op("list")}})
    fake.on("POST", f"{MGMT}/createApi.http", 200, entry(doc)["value"])
    path = tmp_path / "api.json"
    path.write_text(json.dumps(doc))
    result = run("api", "create", "--config-file", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"ok: created API /shop/items get for action /guest/list\n{GW}/shop/items\n"
    )
    sent = fake.body()["apidoc"]
    assert sent["namespace"] == "_" and json.loads(sent["swagger"]) == doc
    yml = tmp_path / "api.yaml"
    yml.write_text(
        "swagger: '2.0'\nbasePath: /shop\ninfo: {title: t, version: '1'}\n"
        "paths: {/items: {get: {operationId: x}}}\n"
    )
    assert run("api", "create", "-c", str(yml)).exit_code == 0
    assert json.loads(fake.body()["apidoc"]["swagger"])["basePath"] == "/shop"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "Error parsing swagger file '"),
        (
            '{"swagger": "2.0"}',
            "Swagger file is invalid (missing basePath, info, paths, or swagger fields)",
        ),
        (
            json.dumps(swagger("shop", **{"/x": {}})),
            "Swagger file basePath must start with a leading slash (/)",
        ),
    ],
)
def test_swagger_file_errors(run: Run, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "api.json"
    path.write_text(content)
    result = run("api", "create", "-c", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: Unable to parse swagger file: {message}")
    missing = run("api", "create", "-c", str(tmp_path / "absent.json"))
    assert "Unable to parse swagger file: Error reading swagger file" in missing.stderr


# --- get ------------------------------------------------------------------------------------


def test_get_prints_the_swagger(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{MGMT}/getApi.http", 200, {"apis": [entry(SHOP)]})
    result = run("api", "get", "/shop")
    assert result.exit_code == 0 and json.loads(result.stdout) == SHOP
    assert fake.last.url.params["basepath"] == "/shop"
    assert result.stdout.startswith('{\n    "swagger": "2.0",')
    full = json.loads(run("api", "get", "/shop", "--full").stdout)
    assert full["gwApiUrl"] == f"{GW}/shop" and full["apidoc"] == SHOP
    yml = run("api", "get", "/shop", "--format", "YAML").stdout
    assert yml.startswith("basePath: /shop\ninfo:\n  title: /shop\n")
    import yaml

    assert yaml.safe_load(yml) == SHOP


def test_get_errors(run: Run, fake: FakeWhisk) -> None:
    result = run("api", "get", "/shop", "--format", "xml")
    assert (result.exit_code, result.stderr) == (1, "error: Invalid format type: xml\n")
    fake.on("GET", f"{MGMT}/getApi.http", 200, {"apis": []})
    result = run("api", "get", "/shop")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: API does not exist for basepath /shop\n",
    )
    assert run("api", "get", "Shop").stderr == "error: API does not exist for API name Shop\n"
    assert run("api", "get").stderr.startswith(
        "error: Invalid argument(s). An API base path or API name is required."
    )


# --- list -----------------------------------------------------------------------------------


def test_list_table(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{MGMT}/getApi.http", 200, {"apis": [entry(SHOP)]})
    result = run("api", "list")
    assert result.exit_code == 0, result.output
    assert dict(fake.last.url.params) == {
        "limit": "30",
        "skip": "0",
        "spaceguid": UUID,
        "accesstoken": "DUMMY TOKEN",
    }
    action_w, name_w = len("/guest/tools/add"), len("API Name")
    assert result.stdout.splitlines() == [
        "ok: APIs",
        f"{'Action':<{action_w}} {'Verb':>7} {'API Name':>{name_w + 1}}  URL",
        f"{'/guest/list':<{action_w}} {'get':>7} {'/shop':>{name_w + 1}}  {GW}/shop/items",
        f"{'/guest/tools/add':<{action_w}} {'post':>7} {'/shop':>{name_w + 1}}  {GW}/shop/items",
        f"{'/guest/one':<{action_w}} {'get':>7} {'/shop':>{name_w + 1}}  {GW}/shop/items/{{id}}",
    ]


def test_list_filters_sorts_and_full(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{MGMT}/getApi.http", 200, {"apis": [entry(SHOP)]})
    result = run("api", "list", "/shop", "/items", "GET", "-l", "5")
    assert dict(fake.last.url.params) == {
        "basepath": "/shop",
        "relpath": "/items",
        "operation": "GET",
        "spaceguid": UUID,
        "accesstoken": "DUMMY TOKEN",
    }
    rows = result.stdout.splitlines()[2:]
    assert len(rows) == 1 and rows[0].startswith("/guest/list")
    # wsk sorts on base path + path + verb as one string: "/items/{id}get" < "/itemsget".
    sorted_rows = run("api", "list", "-n").stdout.splitlines()[2:]
    assert [r.split()[0] for r in sorted_rows] == ["/guest/one", "/guest/list", "/guest/tools/add"]
    full = run("api", "list", "/shop", "/items", "post", "--full").stdout
    assert full == (
        "ok: APIs\n"
        "Action: /guest/tools/add\n"
        "   API Name: /shop\n"
        "   Base path: /shop\n"
        "   Path: /items\n"
        "   Verb: post\n"
        f"   URL: {GW}/shop/items\n"
    )
    assert json.loads(run("api", "list", "--json").stdout) == [entry(SHOP)]


def test_list_empty_and_errors(run: Run, fake: FakeWhisk) -> None:
    fake.on("GET", f"{MGMT}/getApi.http", 200, {"apis": []})
    assert run("api", "list").stdout == (
        f"ok: APIs\n{'Action':<30} {'Verb':>7} {'API Name':>20}  URL\n"
    )
    assert run("api", "list", "-f").stdout == "ok: APIs\n\n"
    result = run("api", "list", "/shop", "items")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1,
        "error: 'items' must begin with '/'.",
    )
    fake.on("GET", f"{MGMT}/getApi.http", 500, {"error": "gateway down", "code": TID})
    result = run("api", "list")
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: Unable to obtain the API list: gateway down (code {TID})\n",
    )
    assert run("api", "list", "/shop").exit_code == 500 - 256  # a getApi keeps the status


# --- delete ---------------------------------------------------------------------------------


def test_delete_messages(run: Run, fake: FakeWhisk) -> None:
    fake.on("DELETE", f"{MGMT}/deleteApi.http", 200, {})
    assert run("api", "delete", "/shop").stdout == "ok: deleted API /shop\n"
    assert dict(fake.last.url.params) == {
        "basepath": "/shop",
        "spaceguid": UUID,
        "accesstoken": "DUMMY TOKEN",
    }
    assert run("api", "delete", "/shop", "/items").stdout == "ok: deleted /items from /shop\n"
    assert fake.last.url.params["relpath"] == "/items"
    result = run("api", "delete", "/shop", "/items", "post")
    assert result.stdout == "ok: deleted /items POST from /shop\n"
    assert fake.last.url.params["operation"] == "POST"


def test_delete_errors(run: Run, fake: FakeWhisk) -> None:
    result = run("api", "delete")
    assert result.stderr.startswith(
        "error: Invalid argument(s). An API base path or API name is required.  An optional "
        "API relative path and operation may also be provided."
    )
    assert "'nope' is not a valid API verb" in run("api", "delete", "/a", "/b", "nope").stderr
    result = run("api", "delete", "/none")
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: Unable to delete API: The requested resource does not exist. (code {TID})\n",
    )


def test_api_gateway_access_token_from_wskprops(fake: FakeWhisk, home: Path) -> None:
    (home / ".wskprops").write_text(
        f"APIHOST={FAKE_HOST}\nAUTH={GUEST}\nAPIGW_ACCESS_TOKEN=secret-token\n"
    )
    fake.on("GET", f"{MGMT}/getApi.http", 200, {"apis": []})
    assert Run(fake.transport(), [])("api", "list").exit_code == 0
    assert fake.last.url.params["accesstoken"] == "secret-token"
