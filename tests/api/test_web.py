"""Web actions (spec §5.4): routing, __ow_* arguments, raw mode, auth, content handlers."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.api.helpers import ECHO, NS, put_action
from tests.servers import Server

WEB = [{"key": "web-export", "value": True}, {"key": "final", "value": True}]


def web_action(api: httpx.Client, name: str, code: str, annotations: list[dict[str, object]]
               | None = None, **extra: object) -> None:
    put_action(api, name, code, annotations=WEB + (annotations or []), **extra)


@pytest.fixture
def anon(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/v1/web/guest/default", timeout=60) as client:
        yield client


def test_json_body_query_and_ow_fields(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    web_action(api, name, "def main(a):\n    return {'body': a}\n")
    r = anon.post(f"/{name}/extra/path?q=1", json={"b": 2}, headers={"X-Thing": "v"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["q"] == "1" and body["b"] == 2
    assert body["__ow_method"] == "post" and body["__ow_path"] == "/extra/path"
    assert body["__ow_headers"]["x-thing"] == "v"
    assert "__ow_user" not in body
    assert r.headers["access-control-allow-origin"] == "*"


def test_not_exported_is_404(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO)
    assert anon.get(f"/{name}.json").status_code == 404
    assert anon.get("/nothing-here.json").status_code == 404


def test_http_response(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    code = ("def main(a):\n    return {'statusCode': 201, 'headers': {'X-A': 'b', "
            "'Set-Cookie': ['c=1', 'd=2']}, 'body': '<b>hi</b>'}\n")
    web_action(api, name, code)
    r = anon.get(f"/{name}")
    assert r.status_code == 201
    assert r.text == "<b>hi</b>" and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-a"] == "b"
    assert r.headers.get_list("set-cookie") == ["c=1", "d=2"]


def test_http_binary_and_json_bodies(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    png = base64.b64encode(b"\x89PNG\r\n").decode()
    web_action(api, name, "def main(a):\n    return {'headers': {'Content-Type': 'image/png'},"
                          f" 'body': '{png}'}}\n")
    r = anon.get(f"/{name}.http")
    assert r.content == b"\x89PNG\r\n" and r.headers["content-type"] == "image/png"
    web_action(api, f"{name}-j", "def main(a):\n    return {'body': {'k': [1]}}\n")
    r = anon.get(f"/{name}-j.http")
    assert r.json() == {"k": [1]} and r.headers["content-type"] == "application/json"
    web_action(api, f"{name}-e", "def main(a):\n    return {}\n")
    assert anon.get(f"/{name}-e.http").status_code == 204


def test_invalid_http_shape_is_400(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    web_action(api, name, "def main(a):\n    return {'statusCode': 'abc'}\n")
    r = anon.get(f"/{name}.http")
    assert r.status_code == 400
    assert r.json()["error"] == "Response is not valid 'message/http'."


def test_text_html_and_projection(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    web_action(api, name, "def main(a):\n    return {'text': 'plain', 'html': '<p>x</p>', "
                          "'nested': {'v': 5}}\n")
    assert anon.get(f"/{name}.text").text == "plain"
    assert anon.get(f"/{name}.html").text == "<p>x</p>"
    assert anon.get(f"/{name}.json/nested").json() == {"v": 5}
    assert anon.get(f"/{name}.text/nested/v").text == "5"
    r = anon.get(f"/{name}.json/missing")
    assert r.status_code == 404
    assert r.json()["error"] == "Response does not include requested property."
    r = anon.get(f"/{name}.json/text")
    assert r.status_code == 400
    assert r.json()["error"] == "Response is not valid 'application/json'."


def test_errors_project(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    web_action(api, name, "def main(a):\n    return {'error': {'statusCode': 418, "
                          "'body': 'teapot'}}\n")
    r = anon.get(f"/{name}.http")
    assert r.status_code == 418 and r.text == "teapot"
    web_action(api, f"{name}-d", "def main(a):\n    return 7\n")
    r = anon.get(f"/{name}-d.json")
    assert r.status_code == 400
    assert r.json()["error"] == "There was an error processing your request."


def test_raw_mode(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    web_action(api, name, ECHO, annotations=[{"key": "raw-http", "value": True}])
    r = anon.post(f"/{name}.json?a=1&b=2", content=b"hello", headers={"Content-Type":
                                                                      "text/plain"})
    body = r.json()
    assert body["__ow_query"] == "a=1&b=2" and body["__ow_body"] == "hello"
    assert "a" not in body
    r = anon.post(f"/{name}.json", json={"j": 1})
    assert base64.b64decode(r.json()["__ow_body"]) == b'{"j":1}'


def test_form_and_non_object_bodies(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    web_action(api, name, ECHO)
    assert anon.post(f"/{name}.json", data={"f": "v"}).json()["f"] == "v"
    assert anon.post(f"/{name}.json", json=[1, 2]).json()["__ow_body"] == [1, 2]
    r = anon.put(f"/{name}.json", content=b"\x00\x01", headers={"Content-Type":
                                                                 "application/octet-stream"})
    assert base64.b64decode(r.json()["__ow_body"]) == b"\x00\x01"


def test_final_and_reserved_parameters(api: httpx.Client, anon: httpx.Client, name: str) -> None:
    web_action(api, name, ECHO, parameters=[{"key": "fixed", "value": 1}])
    r = anon.get(f"/{name}.json?fixed=2")
    assert r.status_code == 400
    assert r.json()["error"] == (
        "Request defines parameters that are not allowed (e.g., reserved properties).")
    assert anon.get(f"/{name}.json?__ow_user=x").status_code == 400
    assert anon.get(f"/{name}.json?other=2").json()["fixed"] == 1


def test_require_whisk_auth(server: Server, api: httpx.Client, anon: httpx.Client,
                            name: str) -> None:
    web_action(api, name, ECHO, annotations=[{"key": "require-whisk-auth", "value": "s3cret"}])
    assert anon.get(f"/{name}.json").status_code == 401
    ok = anon.get(f"/{name}.json", headers={"X-Require-Whisk-Auth": "s3cret"})
    assert ok.status_code == 200
    web_action(api, f"{name}-b", ECHO,
               annotations=[{"key": "require-whisk-auth", "value": True}])
    assert anon.get(f"/{name}-b.json").status_code == 401
    authed = anon.get(f"/{name}-b.json", auth=tuple(server.auth.split(":", 1)))  # type: ignore[arg-type]
    assert authed.status_code == 200 and authed.json()["__ow_user"] == "guest"


def test_options_cors_and_custom_options(api: httpx.Client, anon: httpx.Client,
                                         name: str) -> None:
    web_action(api, name, ECHO)
    r = anon.options(f"/{name}.json", headers={"Access-Control-Request-Headers": "X-Y"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-methods"] == (
        "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH")
    assert r.headers["access-control-allow-headers"] == "X-Y"
    web_action(api, f"{name}-c", "def main(a):\n    return {'statusCode': 200, 'headers': "
                                 "{'Allow': 'GET'}, 'body': a['__ow_method']}\n",
               annotations=[{"key": "web-custom-options", "value": True}])
    r = anon.options(f"/{name}-c")
    assert r.text == "options" and r.headers["allow"] == "GET"
    assert "access-control-allow-origin" not in r.headers


def test_package_web_action(api: httpx.Client, server: Server, name: str) -> None:
    api.put(f"{NS}/packages/{name}", json={"parameters": [{"key": "p", "value": "pkg"}]})
    web_action(api, f"{name}/w", ECHO)
    r = httpx.get(f"{server.url}/api/v1/web/guest/{name}/w.json")
    assert r.status_code == 200 and r.json()["p"] == "pkg"
    r = httpx.get(f"{server.url}/api/v1/web/_/{name}/w.json")
    assert r.status_code == 404
