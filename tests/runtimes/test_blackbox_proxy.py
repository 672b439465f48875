"""The blackbox proxy (docker skeleton contract): an `exec` spawned per run."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.runtimes.proxy_harness import Proxy, StartProxy, make_zip

NO_BINARY = {"error": "The action failed to generate or locate a binary. See logs for details."}
NOT_A_DICT = {"error": "The action did not return a dictionary or array."}


@pytest.fixture
def blackbox(start_proxy: StartProxy) -> Proxy:
    return start_proxy("blackbox")


def initialised(proxy: Proxy, code: str | None, **init: Any) -> Proxy:
    response = proxy.init(code, **init)
    assert (response.status_code, response.json()) == (200, {"ok": True}), response.text
    return proxy


def binary(name: str) -> bytes:
    """A real compiled program from this machine, to stand in for a native action."""
    path = shutil.which(name)
    assert path is not None, f"{name} is needed"
    return Path(path).read_bytes()


def test_a_zip_with_an_executable_script_and_its_files(blackbox: Proxy) -> None:
    code = make_zip(
        {
            "exec": '#!/bin/sh\n. ./lib/greet.sh\necho "{\\"greeting\\": \\"$(greet)\\"}"\n',
            "lib/greet.sh": "greet() { echo hello; }\n",
        },
        modes={"exec": 0o755},
    )
    initialised(blackbox, code, binary=True)
    assert blackbox.run({}).json() == {"greeting": "hello"}


def test_exec_is_made_executable_even_when_the_zip_forgot(blackbox: Proxy) -> None:
    code = make_zip({"exec": "#!/bin/sh\necho '{\"ok\": 1}'\n"}, modes={"exec": 0o644})
    initialised(blackbox, code, binary=True)
    assert blackbox.run({}).json() == {"ok": 1}


def test_a_compiled_exec_gets_its_arguments_in_argv(blackbox: Proxy) -> None:
    echo = binary("echo")
    assert echo[:4] == b"\x7fELF"
    initialised(blackbox, make_zip({"exec": echo}, modes={"exec": 0o755}), binary=True)
    # echo prints argv[1], the JSON arguments, as its only line: the result is the arguments.
    assert blackbox.run({"n": 1, "s": "x y"}).json() == {"n": 1, "s": "x y"}


def test_large_arguments_go_through_stdin_only(blackbox: Proxy) -> None:
    initialised(blackbox, make_zip({"exec": binary("cat")}, modes={"exec": 0o755}), binary=True)
    big = {"blob": "x" * 200_000}
    assert blackbox.run(big).json() == big  # cat without arguments copies stdin
    # With small arguments argv[1] is set, so cat looks for a file of that name and fails.
    assert blackbox.run({"small": True}).status_code == 502


def test_earlier_stdout_lines_and_stderr_are_logs(blackbox: Proxy) -> None:
    code = "#!/bin/sh\necho one\necho two\nprintf oops >&2\nprintf '{\"last\": true}'\n"
    initialised(blackbox, code)
    assert blackbox.run({}).json() == {"last": True}
    assert blackbox.activations("stdout")[-1] == "one\ntwo\n"
    assert blackbox.activations("stderr")[-1] == "oops\n"


def test_each_run_is_a_new_process(blackbox: Proxy) -> None:
    initialised(blackbox, '#!/bin/sh\necho "{\\"pid\\": $$}"\n')
    assert blackbox.run({}).json() != blackbox.run({}).json()


def test_the_exit_status_does_not_matter(blackbox: Proxy) -> None:
    initialised(blackbox, "#!/bin/sh\necho '{\"a\": 1}'\nexit 4\n")
    assert blackbox.run({}).json() == {"a": 1}


def test_the_api_key_is_exported(blackbox: Proxy) -> None:
    initialised(blackbox, '#!/bin/sh\necho "{\\"key\\": \\"$__OW_API_KEY\\"}"\n')
    assert blackbox.run({}, api_key="uuid:key").json() == {"key": "uuid:key"}


@pytest.mark.parametrize("last", ["not json", "[1, 2", "42", '"text"', ""])
def test_a_last_line_that_is_not_a_dict_or_list_is_a_502(blackbox: Proxy, last: str) -> None:
    initialised(blackbox, f"#!/bin/sh\necho log\necho '{last}'\n")
    response = blackbox.run({})
    assert (response.status_code, response.json()) == (502, NOT_A_DICT)
    expected = "log\n" + (f"{last}\n" if last else "")
    assert blackbox.activations("stdout")[-1] == expected  # the rejected line is logged


def test_a_list_result(blackbox: Proxy) -> None:
    initialised(blackbox, "#!/bin/sh\necho '[1, 2]'\n")
    assert blackbox.run({}).json() == [1, 2]


def test_code_that_cannot_be_executed_is_a_502_at_run(blackbox: Proxy) -> None:
    initialised(blackbox, "echo this has no shebang line\n")
    response = blackbox.run({})
    assert (response.status_code, response.json()) == (502, NOT_A_DICT)
    assert "Exec format error" in blackbox.activations("stderr")[-1]


# --- init failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        make_zip({"main.sh": "#!/bin/sh\n"}),
        base64.b64encode(b"not a zip").decode(),
    ],
)
def test_a_zip_without_exec_or_a_bad_zip_is_a_502(blackbox: Proxy, code: str) -> None:
    response = blackbox.init(code, binary=True)
    assert (response.status_code, response.json()) == (502, NO_BINARY)
    assert blackbox.activations("stderr")[-1]  # the reason is in the logs


def test_no_code_and_no_exec_is_a_502(blackbox: Proxy) -> None:
    response = blackbox.init(None)
    assert (response.status_code, response.json()) == (502, NO_BINARY)


def test_no_code_uses_an_exec_already_in_place(start_proxy: StartProxy) -> None:
    proxy = start_proxy("blackbox")
    exec_path = proxy.action_dir / "exec"
    exec_path.write_text("#!/bin/sh\necho '{\"baked\": true}'\n")
    exec_path.chmod(0o755)
    initialised(proxy, None)
    assert proxy.run({}).json() == {"baked": True}


def test_second_init_is_allowed_with_proxy_allow_reinit(start_proxy: StartProxy) -> None:
    proxy = start_proxy("blackbox", PROXY_ALLOW_REINIT="1")
    initialised(proxy, "#!/bin/sh\necho '{\"v\": 1}'\n")
    initialised(proxy, "#!/bin/sh\necho '{\"v\": 2}'\n")
    assert proxy.run({}).json() == {"v": 2}


# --- run failures -----------------------------------------------------------------------


def test_run_before_init_is_a_502(blackbox: Proxy) -> None:
    response = blackbox.run({})
    assert response.status_code == 502
    assert response.json() == {
        "error": "The action failed to locate a binary. See logs for details."
    }


@pytest.mark.parametrize("value", [5, "text", True])
def test_arguments_that_are_not_a_dict_or_list_are_a_404(blackbox: Proxy, value: Any) -> None:
    initialised(blackbox, "#!/bin/sh\necho '{}'\n")
    response = blackbox.client.post("/run", content=json.dumps({"value": value}))
    assert response.status_code == 404
    assert response.json() == {
        "error": "The action did not receive a dictionary or array as an argument."
    }
