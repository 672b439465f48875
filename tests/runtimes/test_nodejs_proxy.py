"""The nodejs:20 proxy: finding main, promises, zips read by its own unzipper, and failures."""

from __future__ import annotations

import base64
import json
import stat
import zipfile
from typing import Any

import httpx
import pytest

from tests.runtimes.proxy_harness import Proxy, StartProxy, make_zip

NOT_A_DICT = {"error": "The action did not return a dictionary or array."}


@pytest.fixture
def node(start_proxy: StartProxy) -> Proxy:
    return start_proxy("nodejs")


def initialised(proxy: Proxy, code: str, **init: Any) -> Proxy:
    response = proxy.init(code, **init)
    assert (response.status_code, response.json()) == (200, {"ok": True}), response.text
    return proxy


@pytest.mark.parametrize(
    ("code", "main"),
    [
        ("function main(args) { return { got: args.n }; }", None),
        ("const main = (args) => ({ got: args.n });", None),
        ("exports.main = (args) => ({ got: args.n });", None),
        ("module.exports.main = function (args) { return { got: args.n }; };", None),
        ("module.exports = (args) => ({ got: args.n });", None),
        ("exports.handler = (args) => ({ got: args.n });", "handler"),
        ("function handler(args) { return { got: args.n }; }", "handler"),
        ("'use strict';\nconst lib = { go: (a) => ({ got: a.n }) };", "lib.go"),
    ],
)
def test_main_is_found_wherever_upstream_finds_it(node: Proxy, code: str, main: str | None) -> None:
    initialised(node, code, main=main)
    assert node.run({"n": 7}).json() == {"got": 7}


def test_require_works_in_plain_code(node: Proxy) -> None:
    initialised(node, "const os = require('os');\nfunction main() { return { eol: os.EOL }; }")
    assert node.run({}).json() == {"eol": "\n"}


def test_init_env_and_run_keys_are_in_the_environment(node: Proxy) -> None:
    code = """
const atLoad = process.env.SECRET;
function main() {
    const keys = ['SECRET', '__OW_NAMESPACE', '__OW_ACTION_NAME', '__OW_ACTIVATION_ID',
                  '__OW_TRANSACTION_ID', '__OW_DEADLINE', '__OW_API_KEY'];
    const env = { atLoad };
    for (const k of keys) env[k] = process.env[k];
    return env;
}"""
    initialised(node, code, env={"SECRET": "s3", "COUNT": 3})
    assert node.run({}, api_key="uuid:key").json() == {
        "atLoad": "s3",
        "SECRET": "s3",
        "__OW_NAMESPACE": "guest",
        "__OW_ACTION_NAME": "/guest/action",
        "__OW_ACTIVATION_ID": "a" * 32,
        "__OW_TRANSACTION_ID": "t" * 32,
        "__OW_DEADLINE": "4102444800000",
        "__OW_API_KEY": "uuid:key",
    }


def test_promises_are_awaited_and_their_logs_come_first(node: Proxy) -> None:
    code = """
async function main(args) {
    console.log('start');
    await new Promise((resolve) => setTimeout(resolve, 1));
    console.error('middle');
    return new Promise((resolve) => setImmediate(() => {
        console.log('end');
        resolve({ done: true });
    }));
}"""
    initialised(node, code)
    assert node.run({}).json() == {"done": True}
    assert node.activations("stdout")[-1] == "start\nend\n"
    assert node.activations("stderr")[-1] == "middle\n"


def test_a_rejected_promise_is_an_application_error(node: Proxy) -> None:
    code = """
async function main(args) {
    if (args.kind === 'error') throw Object.assign(new Error('boom'), { code: 'E42' });
    if (args.kind === 'string') return Promise.reject('plain reason');
    if (args.kind === 'object') return Promise.reject({ error: 'custom', n: 1 });
    return Promise.reject();
}"""
    initialised(node, code)

    error = node.run({"kind": "error"})
    assert error.status_code == 200
    body = error.json()["error"]
    assert (body["name"], body["message"], body["code"]) == ("Error", "boom", "E42")
    assert body["stack"].startswith("Error: boom\n    at main (")
    assert "proxy.js" not in body["stack"]
    assert node.run({"kind": "string"}).json() == {"error": "plain reason"}
    assert node.run({"kind": "object"}).json() == {"error": {"error": "custom", "n": 1}}
    assert node.run({"kind": "none"}).json() == {"error": {}}


def test_a_synchronous_throw_is_a_developer_error(node: Proxy) -> None:
    initialised(node, "function main(args) { throw new TypeError('sync boom'); }")
    response = node.run({})

    assert response.status_code == 502
    assert response.json() == {"error": "An error has occurred: TypeError: sync boom"}
    assert "TypeError: sync boom" in node.activations("stderr")[-1]
    assert node.run({}).status_code == 502  # still serving


def test_undefined_becomes_an_empty_object(node: Proxy) -> None:
    initialised(node, "function main(args) { return; }")
    assert (node.run({}).status_code, node.run({}).json()) == (200, {})


@pytest.mark.parametrize("result", ["'text'", "42", "null", "true", "Promise.resolve(3)"])
def test_a_result_that_is_not_an_object_is_a_502(node: Proxy, result: str) -> None:
    initialised(node, f"function main(args) {{ return {result}; }}")
    response = node.run({})
    assert (response.status_code, response.json()) == (502, NOT_A_DICT)


CIRCULAR = "(() => { const o = {}; o.self = o; return o; })()"


@pytest.mark.parametrize("result", [CIRCULAR, "{ n: 1n }"])
def test_a_result_that_is_not_json_is_a_502(node: Proxy, result: str) -> None:
    initialised(node, f"function main(args) {{ return {result}; }}")
    response = node.run({})
    assert response.status_code == 502
    assert response.json()["error"].startswith("The action returned a result that is not JSON")


def test_array_arguments_and_results(node: Proxy) -> None:
    initialised(node, "function main(args) { return args.reverse(); }")
    assert node.run([1, "two", 3]).json() == [3, "two", 1]


def test_process_exit_ends_the_proxy(node: Proxy) -> None:
    initialised(node, "function main(args) { process.exit(3); }")
    with pytest.raises(httpx.TransportError):
        node.run({})
    assert node.wait_exit() == 3


# --- zips -------------------------------------------------------------------------------


def test_zip_with_package_json_main_and_a_required_file(node: Proxy) -> None:
    code = make_zip(
        {
            "package.json": json.dumps({"name": "a", "main": "lib/app.js"}),
            "lib/app.js": "const { greet } = require('./util');\n"
            "exports.main = (args) => ({ greeting: greet(args.name) });\n",
            "lib/util.js": "exports.greet = (name) => `hi ${name}`;\n",
            "node_modules/dep/index.js": "module.exports = 1;",
        }
    )
    initialised(node, code, binary=True)
    assert node.run({"name": "Ada"}).json() == {"greeting": "hi Ada"}


@pytest.mark.parametrize(
    "options",
    [
        {"compression": zipfile.ZIP_STORED},
        {"compression": zipfile.ZIP_DEFLATED},
        {"compression": zipfile.ZIP_DEFLATED, "streamed": True},  # sizes after the data
    ],
)
def test_zip_with_index_js(node: Proxy, options: dict[str, Any]) -> None:
    index = "module.exports.main = () => ({ size: require('./big.txt.js').length });"
    files: dict[str, str | bytes] = {
        "index.js": index,
        "big.txt.js": "module.exports = '" + "x" * 100_000 + "';",
    }
    initialised(node, make_zip(files, **options), binary=True)
    assert node.run({}).json() == {"size": 100_000}


def test_zip_main_can_name_a_file_and_a_function(node: Proxy) -> None:
    code = make_zip({"tools.js": "exports.run = () => ({ from: 'tools' });"})
    initialised(node, code, binary=True, main="tools.run")
    assert node.run({}).json() == {"from": "tools"}


def test_zip_keeps_permission_bits(node: Proxy) -> None:
    code = make_zip(
        {"index.js": "exports.main = () => ({});", "bin/tool": "#!/bin/sh\n"},
        modes={"bin/tool": 0o755},
    )
    initialised(node, code, binary=True)
    assert stat.S_IMODE((node.action_dir / "bin" / "tool").stat().st_mode) == 0o755


def test_zip_with_an_es_module(node: Proxy) -> None:
    code = make_zip(
        {
            "package.json": json.dumps({"type": "module", "main": "index.js"}),
            "index.js": "export function main(args) { return { esm: true }; }\n",
        }
    )
    initialised(node, code, binary=True)
    assert node.run({}).json() == {"esm": True}


def test_zip_without_an_entry_point_is_a_502(node: Proxy) -> None:
    response = node.init(make_zip({"other.js": "exports.main = () => ({});"}), binary=True)
    assert response.status_code == 502
    assert response.json() == {
        "error": "Initialization has failed due to: "
        "Zipped actions must contain either package.json or index.js at the root."
    }


@pytest.mark.parametrize(
    "code",
    [
        base64.b64encode(b"definitely not a zip file").decode(),
        make_zip({"../escape.js": "x"}),
    ],
)
def test_a_bad_zip_is_a_502(node: Proxy, code: str) -> None:
    response = node.init(code, binary=True)
    assert response.status_code == 502
    assert response.json()["error"].startswith(
        "Initialization has failed due to: There was an error uncompressing the action archive"
    )
    assert not (node.action_dir.parent / "escape.js").exists()


# --- init and run failures --------------------------------------------------------------


def test_missing_code_is_a_403(node: Proxy) -> None:
    response = node.init(None)
    assert (response.status_code, response.json()) == (
        403,
        {"error": "Missing main/no code to execute."},
    )


def test_a_syntax_error_is_a_502(node: Proxy) -> None:
    response = node.init("function main(args) {\n  return { a: * };\n}")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error.startswith("Initialization has failed due to: ")
    assert "index.js:2" in error and "SyntaxError: Unexpected token '*'" in error
    assert "SyntaxError" in node.activations("stderr")[-1]


def test_a_missing_main_is_a_502(node: Proxy) -> None:
    response = node.init("function main() { return {}; }", main="handler")
    assert response.status_code == 502
    assert response.json() == {
        "error": "Initialization has failed due to: Action entrypoint 'handler' is not a function."
    }


def test_an_exception_while_loading_is_a_502(node: Proxy) -> None:
    response = node.init("require('no-such-module-here');\nfunction main() { return {}; }")
    assert response.status_code == 502
    assert "Cannot find module 'no-such-module-here'" in response.json()["error"]


def test_run_before_init_is_a_403(node: Proxy) -> None:
    response = node.run({})
    assert (response.status_code, response.json()) == (403, {"error": "System not initialized."})


def test_arguments_that_are_not_an_object_are_a_403(node: Proxy) -> None:
    initialised(node, "function main() { return {}; }")
    response = node.client.post("/run", content=json.dumps({"value": "text"}))
    assert response.status_code == 403
    assert response.json() == {
        "error": "Internal system error: the argument must be a dictionary but has type 'string'."
    }


def test_a_forgotten_rejected_promise_does_not_end_the_proxy(node: Proxy) -> None:
    initialised(node, "function main() { Promise.reject(new Error('forgotten')); return {}; }")
    assert node.run({}).status_code == 200
    assert node.run({}).status_code == 200
    assert "Unhandled promise rejection: Error: forgotten" in node.stderr()


def test_the_sentinel_starts_a_new_line_after_unterminated_output(node: Proxy) -> None:
    code = """function main() {
    process.stdout.write('partial');
    process.stderr.write(Buffer.from('b'));
    return {};
}"""
    initialised(node, code)
    node.run({})
    assert node.activations("stdout")[-1] == "partial\n"
    assert node.activations("stderr")[-1] == "b\n"


def test_a_retried_init_does_not_see_the_failed_zips_modules(node: Proxy) -> None:
    def version(v: str, export: str) -> str:
        return make_zip(
            {
                "index.js": f"exports.{export} = () => require('./lib.js');",
                "lib.js": f"module.exports = {{ version: '{v}' }};",
            }
        )

    assert node.init(version("v1", "notMain"), binary=True).status_code == 502
    initialised(node, version("v2", "main"), binary=True)
    assert node.run({}).json() == {"version": "v2"}
