"""The python:3.11 proxy: loading source and zips, calling main, and what its failures look like."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import httpx
import pytest

from tests.runtimes.proxy_harness import Proxy, StartProxy, make_zip

NOT_A_DICT = {"error": "The action did not return a dictionary or array."}


@pytest.fixture
def python(start_proxy: StartProxy) -> Proxy:
    return start_proxy("python")


def initialised(proxy: Proxy, code: str, **init: Any) -> Proxy:
    response = proxy.init(code, **init)
    assert (response.status_code, response.json()) == (200, {"ok": True}), response.text
    return proxy


def test_custom_main_name(python: Proxy) -> None:
    initialised(python, "def handler(args):\n    return {'hello': args['name']}\n", main="handler")
    assert python.run({"name": "Ada"}).json() == {"hello": "Ada"}


def test_init_env_and_run_keys_are_in_the_environment(python: Proxy) -> None:
    code = (
        "import os\n"
        "SEEN_AT_IMPORT = os.environ.get('SECRET')\n"
        "def main(args):\n"
        "    keys = ['SECRET', '__OW_API_HOST', '__OW_NAMESPACE', '__OW_ACTION_NAME',\n"
        "            '__OW_ACTION_VERSION', '__OW_ACTIVATION_ID', '__OW_TRANSACTION_ID',\n"
        "            '__OW_DEADLINE', '__OW_API_KEY']\n"
        "    return {'import': SEEN_AT_IMPORT, **{k: os.environ.get(k) for k in keys}}\n"
    )
    initialised(python, code, env={"SECRET": "s3", "__OW_API_HOST": "http://h"})
    result = python.run({}, api_key="uuid:key").json()

    assert result == {
        "import": "s3",
        "SECRET": "s3",
        "__OW_API_HOST": "http://h",
        "__OW_NAMESPACE": "guest",
        "__OW_ACTION_NAME": "/guest/action",
        "__OW_ACTION_VERSION": "0.0.1",
        "__OW_ACTIVATION_ID": "a" * 32,
        "__OW_TRANSACTION_ID": "t" * 32,
        "__OW_DEADLINE": "4102444800000",
        "__OW_API_KEY": "uuid:key",
    }


def test_an_exception_is_an_application_error(python: Proxy) -> None:
    code = "def main(args):\n    print('before')\n    raise ValueError('bad input')\n"
    initialised(python, code)
    response = python.run({})

    assert (response.status_code, response.json()) == (200, {"error": "bad input"})
    stderr = python.activations("stderr")[-1]
    assert "Traceback" in stderr and "ValueError: bad input" in stderr
    assert "proxy.py" not in stderr  # only the action's own frames
    assert python.activations("stdout")[-1] == "before\n"
    assert python.run({}).status_code == 200  # the proxy is still serving


@pytest.mark.parametrize("result", [None, "text", 42, True])
def test_a_result_that_is_not_a_dict_or_list_is_a_502(python: Proxy, result: Any) -> None:
    initialised(python, "def main(args):\n    return args['r']\n")
    response = python.run({"r": result})
    assert (response.status_code, response.json()) == (502, NOT_A_DICT)


def test_a_list_result_and_list_arguments(python: Proxy) -> None:
    initialised(python, "def main(args):\n    return list(reversed(args))\n")
    response = python.run([1, "two", {"three": 3}])
    assert (response.status_code, response.json()) == (200, [{"three": 3}, "two", 1])


@pytest.mark.parametrize("value", ["object()", "float('nan')", "b'bytes'"])
def test_a_result_that_is_not_json_is_a_502(python: Proxy, value: str) -> None:
    initialised(python, f"def main(args):\n    return {{'x': {value}}}\n")
    response = python.run({})
    assert response.status_code == 502
    assert response.json()["error"].startswith("The action returned a result that is not JSON")


def test_unicode_round_trips(python: Proxy) -> None:
    initialised(python, "def main(args):\n    print(args['s'])\n    return {'s': args['s']}\n")
    assert python.run({"s": "héllo ✓ 世界"}).json() == {"s": "héllo ✓ 世界"}
    assert python.activations("stdout")[-1] == "héllo ✓ 世界\n"


def test_async_main_is_awaited(python: Proxy) -> None:
    code = "import asyncio\nasync def main(args):\n    await asyncio.sleep(0)\n    return {'a': 1}"
    initialised(python, code)
    assert python.run({}).json() == {"a": 1}


def test_the_module_is_not_run_as_dunder_main(python: Proxy) -> None:
    code = (
        "import sys\n"
        "def main(args):\n    return {'name': __name__}\n"
        "if __name__ == '__main__':\n    sys.exit(9)\n"
    )
    initialised(python, code)
    assert python.run({}).json() == {"name": "main__"}


def test_a_dataclass_in_the_action_works(python: Proxy) -> None:
    code = (
        "from dataclasses import dataclass, asdict\n"
        "@dataclass\nclass P:\n    x: int\n"
        "def main(args):\n    return asdict(P(args['x']))\n"
    )
    initialised(python, code)
    assert python.run({"x": 3}).json() == {"x": 3}


def test_sys_exit_ends_the_proxy(python: Proxy) -> None:
    initialised(python, "import sys\ndef main(args):\n    print('bye')\n    sys.exit(3)\n")
    with pytest.raises(httpx.TransportError):
        python.run({})
    assert python.wait_exit() == 3
    assert "bye" in python.stdout()


def test_runs_are_serialised(python: Proxy) -> None:
    code = (
        "import threading, time\n"
        "state = {'now': 0, 'max': 0}\n"
        "def main(args):\n"
        "    state['now'] += 1\n"
        "    state['max'] = max(state['max'], state['now'])\n"
        "    time.sleep(0.01)\n"
        "    state['now'] -= 1\n"
        "    return {'max': state['max'], 'main_thread': threading.current_thread()\n"
        "            is threading.main_thread()}\n"
    )
    initialised(python, code)
    results: list[dict[str, Any]] = []

    def call() -> None:
        with httpx.Client(base_url=str(python.client.base_url), trust_env=False) as client:
            results.append(client.post("/run", json={"value": {}}).json())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"max": 1, "main_thread": True}] * 8
    assert python.stdout().count("XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX") == 9


# --- zips -------------------------------------------------------------------------------


def test_zip_with_a_helper_module(python: Proxy) -> None:
    code = make_zip(
        {
            "__main__.py": "from helper import greet\ndef main(args):\n    return greet(args)\n",
            "helper.py": "def greet(args):\n    return {'greeting': 'hi ' + args['name']}\n",
            "data/words.txt": "unused",
        }
    )
    initialised(python, code, binary=True)
    assert python.run({"name": "Ada"}).json() == {"greeting": "hi Ada"}
    assert (python.action_dir / "data" / "words.txt").read_text() == "unused"


def test_zip_with_a_virtualenv(python: Proxy) -> None:
    site = "virtualenv/lib/python3.11/site-packages"
    code = make_zip(
        {
            "__main__.py": "import fancypkg\ndef main(args):\n    return {'v': fancypkg.VERSION}\n",
            f"{site}/fancypkg/__init__.py": "VERSION = '1.2.3'\n",
        }
    )
    initialised(python, code, binary=True)
    assert python.run({}).json() == {"v": "1.2.3"}


def test_zip_without_dunder_main_is_a_502(python: Proxy) -> None:
    response = python.init(make_zip({"main.py": "def main(a): return a"}), binary=True)
    assert response.status_code == 502
    assert response.json() == {
        "error": "Invalid action: the zip file does not include __main__.py."
    }


def test_a_bad_zip_is_a_502(python: Proxy) -> None:
    response = python.init(base64.b64encode(b"not a zip at all").decode(), binary=True)
    assert response.status_code == 502
    assert response.json()["error"].startswith("Invalid action: the code is not a valid zip file")


# --- init failures ----------------------------------------------------------------------


def test_missing_code_is_a_403(python: Proxy) -> None:
    response = python.init(None)
    assert response.status_code == 403
    assert response.json() == {"error": "Missing main/no code to execute."}


def test_a_syntax_error_is_a_502(python: Proxy) -> None:
    response = python.init("def main(args):\n    return {'a': }\n")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error.startswith("Invalid action: syntax error in __main__.py, line 2")
    assert "SyntaxError" in python.activations("stderr")[-1]


def test_an_exception_at_import_is_a_502(python: Proxy) -> None:
    response = python.init("import no_such_module_here\ndef main(args):\n    return {}\n")
    assert response.status_code == 502
    assert response.json() == {
        "error": "Invalid action: loading __main__.py failed: ModuleNotFoundError: "
        "No module named 'no_such_module_here'"
    }


def test_a_missing_main_function_is_a_502(python: Proxy) -> None:
    response = python.init("def main(args):\n    return {}\n", main="handler")
    assert response.status_code == 502
    assert response.json() == {
        "error": "Invalid action: function 'handler' is not found in __main__.py."
    }


def test_a_failed_init_can_be_retried(python: Proxy) -> None:
    assert python.init("def main(:\n").status_code == 502
    initialised(python, "def main(args):\n    return {'second': True}\n")
    assert python.run({}).json() == {"second": True}


# --- run failures -----------------------------------------------------------------------


def test_run_before_init_is_a_403(python: Proxy) -> None:
    response = python.run({})
    assert (response.status_code, response.json()) == (403, {"error": "System not initialized."})


@pytest.mark.parametrize("value", [5, "text", True])
def test_arguments_that_are_not_a_dict_or_list_are_a_404(python: Proxy, value: Any) -> None:
    initialised(python, "def main(args):\n    return {}\n")
    response = python.client.post("/run", content=json.dumps({"value": value}))
    assert response.status_code == 404
    assert response.json() == {
        "error": "The action did not receive a dictionary or array as an argument."
    }


def test_the_sentinel_starts_a_new_line_after_unterminated_output(python: Proxy) -> None:
    code = (
        "import sys\n"
        "def main(args):\n"
        "    print('partial', end='')\n"
        "    sys.stderr.write('no newline')\n"
        "    return {}\n"
    )
    initialised(python, code)
    python.run({})
    assert python.activations("stdout")[-1] == "partial\n"
    assert python.activations("stderr")[-1] == "no newline\n"


def test_sentinels_reach_the_real_stdout_when_the_action_swaps_it(python: Proxy) -> None:
    code = "import io, sys\ndef main(args):\n    sys.stdout = io.StringIO()\n    return {}\n"
    initialised(python, code)
    python.run({})
    assert python.activations("stdout") == ["", ""]


def test_a_retried_init_does_not_see_the_failed_zips_modules(python: Proxy) -> None:
    def version(v: str, main_name: str) -> str:
        return make_zip(
            {
                "__main__.py": f"import helper\ndef {main_name}(args):\n    return helper.V\n",
                "helper.py": f"V = {{'version': '{v}'}}\n",
            }
        )

    assert python.init(version("v1", "not_main"), binary=True).status_code == 502
    initialised(python, version("v2", "main"), binary=True)
    assert python.run({}).json() == {"version": "v2"}
