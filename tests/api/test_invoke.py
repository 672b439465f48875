"""Invoke: blocking/non-blocking, result, every outcome code, limits, logs, annotations."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import ECHO, NS, annotation, invoke, put_action, wait_activation, zip_b64
from tests.servers import Server


def test_blocking_invoke_returns_record(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    print('hello', a['x'])\n    return {'y': a['x']}\n")
    r = invoke(api, name, {"x": 1})
    assert r.status_code == 200, r.text
    rec = r.json()
    assert r.headers["x-openwhisk-activation-id"] == rec["activationId"]
    assert len(rec["activationId"]) == 32
    assert rec["response"] == {"result": {"y": 1}, "success": True, "status": "success",
                               "size": 8}
    assert rec["namespace"] == "guest" and rec["name"] == name and rec["subject"] == "guest"
    assert rec["duration"] == rec["end"] - rec["start"]
    assert any(line.endswith("stdout: hello 1") for line in rec["logs"])
    assert annotation(rec, "path") == f"guest/{name}"
    assert annotation(rec, "kind") == "python:3.11"
    assert annotation(rec, "timeout") is False
    assert annotation(rec, "limits")["memory"] == 256
    assert isinstance(annotation(rec, "waitTime"), int)


def test_init_time_only_on_cold_start(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO)
    first = invoke(api, name).json()
    second = invoke(api, name).json()
    assert annotation(first, "initTime") is not None
    assert annotation(second, "initTime") is None


def test_result_only(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO, parameters=[{"key": "p", "value": "d"}])
    r = invoke(api, name, {"q": 1}, result="true")
    assert r.status_code == 200
    assert r.json() == {"p": "d", "q": 1}


def test_array_result_is_returned_as_array(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    return [1, 2, 3]\n")
    r = invoke(api, name)
    assert r.status_code == 200 and r.json() == [1, 2, 3]


def test_non_blocking_is_202_and_recorded(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO)
    r = api.post(f"{NS}/actions/{name}", json={"a": 1})
    assert r.status_code == 202
    aid = r.json()["activationId"]
    assert r.headers["x-openwhisk-activation-id"] == aid
    rec = wait_activation(api, aid)
    assert rec["response"]["result"] == {"a": 1}


def test_application_error_is_502_and_keeps_container(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    return {'error': 'bad thing'}\n")
    first = invoke(api, name)
    assert first.status_code == 502
    assert first.json()["response"]["status"] == "application error"
    assert first.json()["response"]["result"] == {"error": "bad thing"}
    second = invoke(api, name).json()
    assert annotation(second, "initTime") is None  # container reused


def test_exception_is_application_error(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    raise ValueError('boom')\n")
    r = invoke(api, name)
    assert r.status_code == 502
    assert r.json()["response"]["status"] == "application error"
    assert "boom" in str(r.json()["response"]["result"]["error"])


def test_non_object_result_is_developer_error(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    return 42\n")
    r = invoke(api, name)
    assert r.status_code == 502
    resp = r.json()["response"]
    assert resp["status"] == "action developer error"
    assert resp["result"] == {"error": "The action did not return a dictionary or array."}
    # The container was destroyed: the next run is cold again.
    assert annotation(invoke(api, name).json(), "initTime") is not None


def test_crash_is_developer_error(api: httpx.Client, name: str) -> None:
    put_action(api, name, "import os\ndef main(a):\n    os._exit(3)\n")
    r = invoke(api, name)
    assert r.status_code == 502
    assert r.json()["response"]["result"] == {
        "error": "The action did not produce a valid response and exited unexpectedly."}


def test_init_failure_is_developer_error(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a)\n    return a\n")  # syntax error
    r = invoke(api, name)
    assert r.status_code == 502
    assert r.json()["response"]["status"] == "action developer error"
    assert annotation(r.json(), "initTime") is not None


def test_timeout_is_developer_error(api: httpx.Client, name: str) -> None:
    put_action(api, name, "import time\ndef main(a):\n    time.sleep(5)\n    return {}\n",
               limits={"timeout": 300})
    r = invoke(api, name)
    assert r.status_code == 502
    rec = r.json()
    assert rec["response"]["result"] == {
        "error": "The action exceeded its time limits of 300 milliseconds."}
    assert annotation(rec, "timeout") is True


def test_oversized_result_is_truncated(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    return {'x': 'y' * (1024 * 1024 + 100)}\n")
    r = invoke(api, name)
    assert r.status_code == 502
    resp = r.json()["response"]
    assert resp["status"] == "application error"
    assert resp["result"]["error"].startswith(
        "The action produced a response that exceeded the allowed length: ")


def test_final_parameters_cannot_be_overridden(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO, parameters=[{"key": "p", "value": 1}],
               annotations=[{"key": "final", "value": True}])
    r = invoke(api, name, {"p": 2})
    assert r.status_code == 400
    assert r.json()["error"] == (
        "Request defines parameters that are not allowed (e.g., reserved properties).")
    assert invoke(api, name, {"q": 2}).status_code == 200


@pytest.mark.parametrize("timeout", ["0", "60001", "abc"])
def test_bad_wait_timeout_is_400(api: httpx.Client, name: str, timeout: str) -> None:
    put_action(api, name, ECHO)
    r = invoke(api, name, timeout=timeout)
    assert r.status_code == 400
    assert r.json()["error"] == "Timeout must be number of milliseconds up to 60000."


def test_wait_ends_with_202(api: httpx.Client, name: str) -> None:
    put_action(api, name, "import time\ndef main(a):\n    time.sleep(1.5)\n    return {'ok': 1}\n")
    r = invoke(api, name, timeout="200")
    assert r.status_code == 202
    rec = wait_activation(api, r.json()["activationId"])
    assert rec["response"]["result"] == {"ok": 1}


def test_payload_over_limit_is_413(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO)
    r = invoke(api, name, {"x": "y" * (1024 * 1024 + 1)})
    assert r.status_code == 413


def test_payload_must_be_object(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO)
    r = api.post(f"{NS}/actions/{name}?blocking=true", content=b"[1]")
    assert r.status_code == 400


def test_missing_action_is_404(api: httpx.Client, name: str) -> None:
    assert invoke(api, name).status_code == 404


def test_ow_environment(server: Server, api: httpx.Client, name: str) -> None:
    code = ("import os\ndef main(a):\n    return {k: v for k, v in os.environ.items() "
            "if k.startswith('__OW_')}\n")
    put_action(api, name, code, annotations=[{"key": "provide-api-key", "value": True}])
    rec = invoke(api, name).json()
    env = rec["response"]["result"]
    assert env["__OW_NAMESPACE"] == "guest"
    assert env["__OW_ACTION_NAME"] == f"/guest/{name}"
    assert env["__OW_ACTIVATION_ID"] == rec["activationId"]
    assert env["__OW_API_KEY"].startswith("23bc46b1-")
    assert env["__OW_API_HOST"] == server.url
    assert int(env["__OW_DEADLINE"]) > rec["start"]


def test_api_key_hidden_by_default(api: httpx.Client, name: str) -> None:
    put_action(api, name, "import os\ndef main(a):\n    return {'k': os.environ.get("
                          "'__OW_API_KEY', 'none')}\n")
    assert invoke(api, name, result="true").json() == {"k": "none"}


def test_init_parameters_go_to_environment(api: httpx.Client, name: str) -> None:
    code = "import os\ndef main(a):\n    return {'env': os.environ.get('SECRET'), 'args': a}\n"
    put_action(api, name, code, parameters=[{"key": "SECRET", "value": "s3", "init": True},
                                            {"key": "plain", "value": 1}])
    result = invoke(api, name, result="true").json()
    assert result["env"] == "s3"
    assert result["args"]["plain"] == 1


def test_logs_disabled_with_zero_limit(api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    print('x')\n    return {}\n", limits={"logs": 0})
    assert invoke(api, name).json()["logs"] == []


def test_nodejs_action(api: httpx.Client, name: str) -> None:
    put_action(api, name, "function main(a) { console.log('n', a.x); return {n: a.x + 1} }",
               kind="nodejs:20")
    rec = invoke(api, name, {"x": 1}).json()
    assert rec["response"]["result"] == {"n": 2}
    assert any(line.endswith("stdout: n 1") for line in rec["logs"])


def test_nodejs_zip_action(api: httpx.Client, name: str) -> None:
    code = zip_b64({
        "package.json": '{"main": "lib/entry.js"}',
        "lib/entry.js": "const h = require('./helper'); exports.main = a => ({v: h(a.x)})",
        "lib/helper.js": "module.exports = x => x * 10",
    })
    put_action(api, name, code, kind="nodejs:20")
    assert invoke(api, name, {"x": 4}, result="true").json() == {"v": 40}


def test_python_zip_with_custom_main(api: httpx.Client, name: str) -> None:
    code = zip_b64({"__main__.py": "from helper import twice\ndef handler(a):\n"
                                   "    return {'v': twice(a['x'])}\n",
                    "helper.py": "def twice(x):\n    return 2 * x\n"})
    r = api.put(f"{NS}/actions/{name}",
                json={"exec": {"kind": "python:3.11", "code": code, "main": "handler"}})
    assert r.status_code == 200
    assert invoke(api, name, {"x": 5}, result="true").json() == {"v": 10}


def test_native_blackbox_zip(api: httpx.Client, name: str) -> None:
    script = ("#!/bin/sh\necho log line\necho err line >&2\n"
              "echo \"{\\\"args\\\": $1}\"\n")
    code = zip_b64({"exec": script}, modes={"exec": 0o755})
    r = api.put(f"{NS}/actions/{name}", json={"exec": {
        "kind": "blackbox", "image": "openwhisk/dockerskeleton", "code": code}})
    assert r.status_code == 200, r.text
    rec = invoke(api, name, {"x": 1}).json()
    assert rec["response"]["result"] == {"args": {"x": 1}}
    assert any(line.endswith("stdout: log line") for line in rec["logs"])
    assert any(line.endswith("stderr: err line") for line in rec["logs"])


def test_custom_image_without_docker_is_clear_error(api: httpx.Client, name: str) -> None:
    r = api.put(f"{NS}/actions/{name}", json={"exec": {"kind": "blackbox",
                                                        "image": "someone/img:1"}})
    assert r.status_code == 200
    rec = invoke(api, name)
    assert rec.status_code == 502
    assert rec.json()["response"]["status"] == "action developer error"
    error = rec.json()["response"]["result"]["error"]
    assert "someone/img:1" in error  # processes cannot run it; Docker cannot find it


def test_logs_over_limit_are_truncated(api: httpx.Client, name: str) -> None:
    code = "def main(a):\n    for i in range(1200):\n        print('x' * 1000)\n    return {}\n"
    put_action(api, name, code, limits={"logs": 1})
    logs = invoke(api, name).json()["logs"]
    assert logs[-1].endswith(
        "stderr: Logs were truncated because the total bytes size exceeds the limit of "
        "1048576 bytes.")
    assert 1000 <= len(logs) < 1200


def test_base64_that_is_not_a_zip_fails_init(api: httpx.Client, name: str) -> None:
    put_action(api, name, "aGVsbG8gd29ybGQh")  # "hello world!" in base64
    r = invoke(api, name)
    assert r.status_code == 502
    assert r.json()["response"]["status"] == "action developer error"


def test_non_base64_code_is_source_text(api: httpx.Client, name: str) -> None:
    body = put_action(api, name, "ab=c")
    assert body["exec"]["binary"] is False


def test_native_zip_without_exec_fails_init(api: httpx.Client, name: str) -> None:
    code = zip_b64({"other": "#!/bin/sh\necho '{}'\n"})
    api.put(f"{NS}/actions/{name}", json={"exec": {
        "kind": "blackbox", "image": "openwhisk/dockerskeleton", "code": code}})
    r = invoke(api, name)
    assert r.status_code == 502
    assert r.json()["response"]["result"] == {
        "error": "The action failed to generate or locate a binary. See logs for details."}
