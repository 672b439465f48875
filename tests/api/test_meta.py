"""Info endpoints, namespaces, auth, CORS and transaction ids."""

from __future__ import annotations

import httpx

from tests.servers import GUEST, SYSTEM, Server


def test_root_lists_limits_and_runtimes(server: Server) -> None:
    body = httpx.get(server.url + "/").json()
    assert body["description"] == "OpenWhisk"
    assert body["api_paths"] == ["/api/v1"]
    assert body["limits"]["max_action_memory"] == 512 * 1024 * 1024
    kinds = {rt["kind"] for fam in body["runtimes"].values() for rt in fam}
    assert {"python:3.11", "nodejs:20"} <= kinds


def test_api_info_needs_no_auth(server: Server) -> None:
    r = httpx.get(server.url + "/api/v1")
    assert r.status_code == 200
    assert r.json()["api_version_path"] == "v1"


def test_namespaces_lists_only_own(server: Server) -> None:
    with server.client(GUEST) as guest, server.client(SYSTEM) as system:
        assert guest.get("/api/v1/namespaces").json() == ["guest"]
        assert system.get("/api/v1/namespaces").json() == ["whisk.system"]


def test_limits_follow_the_deployment(server: Server, api: httpx.Client) -> None:
    body = api.get("/api/v1/namespaces/_/limits").json()
    # standalone starts generous (6000/100/6000); the test stack sets its own via PWSK_*
    expected = {k: int(server.env.get(f"PWSK_{v}", d)) for k, v, d in (
        ("invocationsPerMinute", "INVOCATIONS_PER_MINUTE", 6000),
        ("concurrentInvocations", "CONCURRENT_INVOCATIONS", 100),
        ("firesPerMinute", "FIRES_PER_MINUTE", 6000))}
    assert {k: body[k] for k in expected} == expected
    assert body["maxActionTimeout"] == 300000
    assert body["maxActionMemory"] == 512 * 1024 * 1024


def test_settings_default_to_openwhisk_throttles() -> None:
    from pwsk.settings import Settings

    s = Settings()
    assert (s.invocations_per_minute, s.concurrent_invocations, s.fires_per_minute) == (
        60, 30, 60)


def test_missing_auth_is_401_with_challenge(server: Server) -> None:
    r = httpx.get(server.url + "/api/v1/namespaces/_/actions")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="OpenWhisk secure realm"'
    assert r.json()["error"] == (
        "The resource requires authentication, which was not supplied with the request")


def test_wrong_key_is_401(server: Server) -> None:
    uuid = GUEST.split(":")[0]
    with server.client(f"{uuid}:wrong") as client:
        r = client.get("/api/v1/namespaces/_/actions")
    assert r.status_code == 401
    assert r.json()["error"] == "The supplied authentication is invalid"
    with server.client("nobody:nothing") as client:
        assert client.get("/api/v1/namespaces").status_code == 401
    r = httpx.get(server.url + "/api/v1/namespaces", headers={"Authorization": "Basic !!!"})
    assert r.status_code == 401


def test_other_namespace_is_403(api: httpx.Client) -> None:
    r = api.get("/api/v1/namespaces/whisk.system/actions")
    assert r.status_code == 403
    assert r.json()["error"] == (
        "The supplied authentication is not authorized to access this resource.")


def test_request_id_is_echoed_and_used_as_error_code(api: httpx.Client) -> None:
    rid = "a" * 32
    r = api.get("/api/v1/namespaces/_/actions/nope", headers={"X-Request-ID": rid})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == rid
    assert r.json() == {"error": "The requested resource does not exist.", "code": rid}
    generated = api.get("/api/v1/namespaces").headers["x-request-id"]
    assert len(generated) == 32 and generated.isalnum()


def test_cors_headers_and_options(server: Server, api: httpx.Client) -> None:
    r = api.get("/api/v1/namespaces")
    assert r.headers["access-control-allow-origin"] == "*"
    assert "PUT" in r.headers["access-control-allow-methods"]
    opt = httpx.options(server.url + "/api/v1/namespaces/_/actions/x")
    assert opt.status_code == 200
    assert opt.headers["access-control-allow-headers"].startswith("Authorization")


def test_unknown_path_is_json_404(api: httpx.Client) -> None:
    r = api.get("/api/v1/nothing/here")
    assert r.status_code == 404
    assert set(r.json()) == {"error", "code"}
