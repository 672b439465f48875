"""Secret parameters over the REST API (both deployments): redacted where shown, delivered
to the action, masked in its activation's logs and result, kept by a GET-then-PUT."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx

from pwsk.redact import REDACTED
from tests.api.helpers import NS, invoke, put_action, wait_activation
from tests.keys.conftest import as_key, create
from tests.servers import Server

TOKEN = "7731992044:AAH-tok3n-Sup3rS3cret_value"
NEW_TOKEN = "8812:another-S3cret-token"
# Prints the secrets (logs), returns one (result) and a digest the test can check.
SPILL = '''import hashlib, json, os
def main(args):
    t = args.get("token")
    print("token is", t)
    print(json.dumps(args))
    print("env", os.environ.get("INIT_TOKEN"))
    creds = args.get("creds") or {}
    print("password", creds.get("password"))
    return {"token": t, "digest": hashlib.sha256(str(t).encode()).hexdigest(),
            "plain": args.get("plain")}
'''


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def params(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["key"]: p for p in doc["parameters"]}


def run(api: httpx.Client, name: str, **extra: Any) -> dict[str, Any]:
    r = invoke(api, name, **extra)
    assert r.status_code == 200, r.text
    record: dict[str, Any] = r.json()
    return record


def run_seeing(api: httpx.Client, name: str, want: str) -> dict[str, Any]:
    """Run until the action sees the parameter digest ``want``: on the distributed stack an
    update reaches the other controller's action cache through the invalidation topic, a
    moment after the PUT that made it (as in OpenWhisk)."""
    deadline = time.monotonic() + 10
    while True:
        record = run(api, name)
        if record["response"]["result"].get("digest") == want or time.monotonic() > deadline:
            return record
        time.sleep(0.2)


def assert_masked(api: httpx.Client, record: dict[str, Any], *secrets: str) -> None:
    """Neither the blocking answer nor the stored record holds a secret's text."""
    stored = wait_activation(api, record["activationId"])
    for text in (str(record), api.get(f"{NS}/activations/{record['activationId']}").text):
        for secret in secrets:
            assert secret not in text
    assert stored["logs"] == record["logs"]


def test_secret_is_redacted_delivered_and_masked(api: httpx.Client, name: str) -> None:
    doc = put_action(api, name, SPILL, parameters=[
        {"key": "token", "value": TOKEN, "secret": True},
        {"key": "plain", "value": "visible"},
    ])
    assert params(doc)["token"] == {"key": "token", "value": REDACTED, "secret": True}
    shown = api.get(f"{NS}/actions/{name}").json()
    assert params(shown)["token"]["value"] == REDACTED
    assert params(shown)["plain"]["value"] == "visible"
    assert TOKEN not in api.get(f"{NS}/actions").text
    assert TOKEN not in api.get(f"{NS}/actions/{name}", params={"code": "false"}).text

    record = run(api, name)
    result = record["response"]["result"]
    assert result["digest"] == digest(TOKEN)  # the action got the real value
    assert result["token"] == REDACTED and result["plain"] == "visible"
    assert any(f"token is {REDACTED}" in line for line in record["logs"]), record["logs"]
    assert_masked(api, record, TOKEN)
    # The caller's own value for the key wins, and is masked all the same.
    overridden = invoke(api, name, {"token": "caller-value"})
    assert overridden.json()["response"]["result"]["digest"] == digest("caller-value")
    assert "caller-value" not in overridden.text

    deleted = api.delete(f"{NS}/actions/{name}")
    assert deleted.status_code == 200 and TOKEN not in deleted.text


def test_get_then_put_keeps_the_secret(api: httpx.Client, name: str) -> None:
    put_action(api, name, SPILL, parameters=[{"key": "token", "value": TOKEN, "secret": True},
                                            {"key": "plain", "value": 1}])
    doc = api.get(f"{NS}/actions/{name}").json()
    doc["parameters"].append({"key": "extra", "value": 2})
    r = api.put(f"{NS}/actions/{name}", params={"overwrite": "true"}, json=doc)
    assert r.status_code == 200, r.text
    assert run(api, name)["response"]["result"]["digest"] == digest(TOKEN)
    # A client that drops the unknown ``secret`` field sends the marker alone: kept too.
    bare = [{"key": p["key"], "value": p["value"]} for p in doc["parameters"]]
    r = api.put(f"{NS}/actions/{name}", params={"overwrite": "true"},
                json={"parameters": bare})
    assert r.status_code == 200, r.text
    assert params(r.json())["token"] == {"key": "token", "value": REDACTED, "secret": True}
    assert run(api, name)["response"]["result"]["digest"] == digest(TOKEN)
    # A new value replaces it; leaving it out removes it.
    r = api.put(f"{NS}/actions/{name}", params={"overwrite": "true"}, json={"parameters": [
        {"key": "token", "value": NEW_TOKEN, "secret": True}]})
    assert r.status_code == 200, r.text
    record = run_seeing(api, name, digest(NEW_TOKEN))
    assert record["response"]["result"]["digest"] == digest(NEW_TOKEN)
    assert_masked(api, record, NEW_TOKEN)
    r = api.put(f"{NS}/actions/{name}", params={"overwrite": "true"},
                json={"parameters": [{"key": "plain", "value": 3}]})
    assert r.status_code == 200 and "token" not in params(r.json())
    assert run_seeing(api, name, digest("None"))["response"]["result"]["digest"] == digest("None")


def test_bad_secret_parameters_are_400(api: httpx.Client, name: str) -> None:
    code = {"kind": "python:3.11", "code": SPILL}
    for parameters, words in (
        ([{"key": "token", "value": REDACTED, "secret": True}], "redaction marker"),
        ([{"key": "token", "value": "x", "secret": "yes"}], "must be a boolean"),
    ):
        r = api.put(f"{NS}/actions/{name}", json={"exec": code, "parameters": parameters})
        assert r.status_code == 400, r.text
        assert words in r.json()["error"] and r.json()["code"]
    assert api.get(f"{NS}/actions/{name}").status_code == 404


def test_init_and_structured_secrets_are_masked(api: httpx.Client, name: str) -> None:
    creds = {"user": "brewer", "password": "hunter2-Pa55word"}
    put_action(api, name, SPILL, parameters=[
        {"key": "INIT_TOKEN", "value": TOKEN, "init": True, "secret": True},
        {"key": "creds", "value": creds, "secret": True},
    ])
    shown = params(api.get(f"{NS}/actions/{name}").json())
    assert shown["INIT_TOKEN"] == {"key": "INIT_TOKEN", "value": REDACTED, "init": True,
                                   "secret": True}
    record = run(api, name)
    logs = "\n".join(record["logs"])
    assert f"env {REDACTED}" in logs and f"password {REDACTED}" in logs, logs
    assert_masked(api, record, TOKEN, "hunter2-Pa55word")


def test_package_and_binding_secrets(api: httpx.Client, name: str) -> None:
    pkg, binding = f"{name}-p", f"{name}-b"
    r = api.put(f"{NS}/packages/{pkg}", json={"parameters": [
        {"key": "token", "value": TOKEN, "secret": True}, {"key": "plain", "value": "p"}]})
    assert r.status_code == 200 and TOKEN not in r.text
    put_action(api, f"{pkg}/spill", SPILL)
    r = api.put(f"{NS}/packages/{binding}", json={
        "binding": {"namespace": "_", "name": pkg},
        "parameters": [{"key": "plain", "value": "b"}]})
    assert r.status_code == 200, r.text
    merged = api.get(f"{NS}/packages/{binding}")
    assert merged.status_code == 200 and TOKEN not in merged.text
    assert params(merged.json())["token"]["value"] == REDACTED
    # GET then PUT of the binding: the merged marker stays the package's value.
    r = api.put(f"{NS}/packages/{binding}", params={"overwrite": "true"},
                json={"parameters": merged.json()["parameters"]})
    assert r.status_code == 200, r.text
    bare = [{"key": p["key"], "value": p["value"]} for p in merged.json()["parameters"]]
    r = api.put(f"{NS}/packages/{binding}", params={"overwrite": "true"},
                json={"parameters": bare})
    assert r.status_code == 200, r.text
    for path in (f"{pkg}/spill", f"{binding}/spill"):
        record = run(api, path)
        assert record["response"]["result"]["digest"] == digest(TOKEN), path
        assert_masked(api, record, TOKEN)
    # A binding's own secret overrides the package's, and is redacted and masked.
    r = api.put(f"{NS}/packages/{binding}", params={"overwrite": "true"}, json={
        "parameters": [{"key": "token", "value": NEW_TOKEN, "secret": True}]})
    assert r.status_code == 200 and NEW_TOKEN not in r.text
    record = run(api, f"{binding}/spill")
    assert record["response"]["result"]["digest"] == digest(NEW_TOKEN)
    assert_masked(api, record, NEW_TOKEN)
    assert api.delete(f"{NS}/packages/{binding}").status_code == 200
    r = api.delete(f"{NS}/packages/{pkg}", params={"force": "true"})
    assert r.status_code == 200 and TOKEN not in r.text


def test_trigger_secrets_reach_the_rule_action_masked(api: httpx.Client, name: str) -> None:
    put_action(api, name, SPILL)
    r = api.put(f"{NS}/triggers/{name}-t", json={"parameters": [
        {"key": "token", "value": TOKEN, "secret": True}]})
    assert r.status_code == 200 and TOKEN not in r.text
    assert TOKEN not in api.get(f"{NS}/triggers/{name}-t").text
    r = api.put(f"{NS}/rules/{name}-r", json={"trigger": f"/_/{name}-t",
                                              "action": f"/_/{name}"})
    assert r.status_code == 200, r.text
    fired = api.post(f"{NS}/triggers/{name}-t", json={"plain": "from-fire"})
    assert fired.status_code == 202, fired.text
    trigger_record = wait_activation(api, fired.json()["activationId"])
    assert TOKEN not in str(trigger_record)
    deadline = time.monotonic() + 60
    while not trigger_record["logs"] and time.monotonic() < deadline:
        time.sleep(0.1)
        trigger_record = wait_activation(api, fired.json()["activationId"])
    line = trigger_record["logs"][0]
    assert '"success":true' in line, line
    activation_id = line.split('"activationId":"')[1][:32]
    record = wait_activation(api, activation_id, timeout=60)
    assert record["response"]["result"]["digest"] == digest(TOKEN)
    assert record["response"]["result"]["plain"] == "from-fire"
    assert_masked(api, record, TOKEN)
    api.delete(f"{NS}/rules/{name}-r")
    api.delete(f"{NS}/triggers/{name}-t")


def test_shared_package_secrets_stay_with_their_owner(api: httpx.Client, server: Server,
                                                     name: str) -> None:
    """Another namespace reads a published package and binds and invokes its action: it sees
    the owner's secret nowhere, and the action still gets it."""
    pkg = f"{name}-shared"
    r = api.put(f"{NS}/packages/{pkg}", json={"publish": True, "parameters": [
        {"key": "token", "value": TOKEN, "secret": True}]})
    assert r.status_code == 200, r.text
    put_action(api, f"{pkg}/spill", SPILL)
    owner = api.get("/api/v1/namespaces").json()[0]
    with server.client(server.system_auth) as admin:
        other = create(admin, f"s{name}")
    with as_key(server.url, other["key"]) as them:
        shown = them.get(f"/api/v1/namespaces/{owner}/packages/{pkg}")
        assert shown.status_code == 200 and TOKEN not in shown.text, shown.text
        r = them.put(f"{NS}/packages/{name}-b", json={
            "binding": {"namespace": owner, "name": pkg}})
        assert r.status_code == 200, r.text
        merged = them.get(f"{NS}/packages/{name}-b")
        assert TOKEN not in merged.text and REDACTED in merged.text
        for path in (f"/api/v1/namespaces/{owner}/actions/{pkg}/spill",
                     f"{NS}/actions/{name}-b/spill"):
            r = them.post(path, params={"blocking": "true"}, json={})
            assert r.status_code == 200, r.text
            assert r.json()["response"]["result"]["digest"] == digest(TOKEN)
            assert_masked(them, r.json(), TOKEN)
