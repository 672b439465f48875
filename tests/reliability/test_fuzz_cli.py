"""Property-based fuzzing of the ``pwsk`` command line against a real standalone.

Argument lists are drawn from the CLI's own command tree: a real command path, then its
options and arguments shuffled with hostile values (unknown flags, missing values, bad JSON,
huge numbers, odd names, paths that do not exist). Every run must end with an exit code and,
when that is not 0, a message on stderr; never a Python traceback.

Left out: commands that would outlive the test or reach beyond it (``standalone``,
``activation poll``, ``property set``/``unset``, which rewrite where later commands go), and
the connection flags (``--apihost``, ``-u``, ``--cert``, ``--key``), which are fixed.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pwsk.cli.main import cli
from tests.reliability.conftest import FIGURES
from tests.servers import GUEST, Server

EXAMPLES = 300
SKIPPED = {("standalone",), ("activation", "poll"), ("property", "set"), ("property", "unset"),
           ("sdk", "install")}
FIXED = {"-u", "--auth", "--apihost", "--cert", "--key", "--help", "-h", "--version"}


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        elif (*path, name) not in SKIPPED:
            yield (*path, name), command


COMMANDS = list(_commands(cli))


def _values(files: Path) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=20),
        st.sampled_from(["f0", "p0/f0", "/guest/f0", "/_/p0/f0", "/", "//", "..", "p0/",
                         "python:3.11", "nodejs:20", "blackbox", "sequence", "{", "[]",
                         '{"a": 1}', "-1", "0", "99999999999999999999", "1e400", "NaN",
                         "true", "", " ", "-", "--", "@", "=", "a=b", str(files / "code.py"),
                         str(files / "missing.py"), str(files / "params.json"),
                         str(files / "manifest.yaml"), str(files), "/dev/null",
                         "\udc80x", "a\x00b", "a\x12b", "-99999999999999999999999"]),
        st.integers().map(str),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2).map(json.dumps),
    )


@st.composite
def argv(draw: st.DrawFn, files: Path) -> list[str]:
    path, command = draw(st.sampled_from(COMMANDS))
    options = [opt for param in command.params if isinstance(param, click.Option)
               for opt in param.opts if opt not in FIXED]
    tokens = st.one_of(_values(files), st.sampled_from(options or ["--json"]),
                       st.sampled_from(["--nope", "-Z", "-p", "-P", "--timeout", "-l"]))
    return [*path, *draw(st.lists(tokens, max_size=7))]


@pytest.fixture(scope="module")
def cli_env(own_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private HOME and properties file, and a directory of inputs the fuzzer can name."""
    home = tmp_path_factory.mktemp("cli-home")
    files = home / "files"
    files.mkdir()
    (files / "code.py").write_text("def main(args):\n    return args\n")
    (files / "params.json").write_text('{"a": [1, 2]}')
    (files / "manifest.yaml").write_text("packages:\n  p0:\n    actions:\n      f0:\n"
                                         "        function: code.py\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("WSK_CONFIG_FILE", str(home / ".wskprops"))
        for var in ("WHISK_APIHOST", "WHISK_AUTH", "WHISK_APIVERSION"):
            mp.delenv(var, raising=False)
        mp.chdir(files)
        yield files


@pytest.mark.timeout(300)
def test_cli_never_shows_a_traceback(own_server: Server, cli_env: Path) -> None:
    runner = CliRunner()
    prefix = ["--apihost", own_server.url, "-u", GUEST]

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(args=argv(cli_env))
    def run(args: list[str]) -> None:
        result = runner.invoke(cli, [*prefix, *args], catch_exceptions=True)
        FIGURES["CLI argument lists fuzzed"] += 1
        FIGURES["CLI argument lists fuzzed that succeeded"] += result.exit_code == 0
        shown = f"pwsk {' '.join(args)!r} -> {result.exit_code}\n{result.output[-1500:]}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            trace = "".join(traceback.format_exception(result.exception))
            pytest.fail(f"{shown}\n{trace}")
        assert "Traceback (most recent call last)" not in result.output, shown
        if result.exit_code != 0:
            assert result.stderr.strip(), shown

    run()
    assert os.getcwd() == str(cli_env)


@pytest.mark.parametrize("args", [
    ["trigger", "list", "--apiversion", "a\x12b"],  # a control character in the URL
    ["action", "update", "x", "-t", "99999999999999999999999"],  # beyond 64 bits
    ["activation", "get", "\udc80x"],  # a byte that is not UTF-8, as a shell passes it
    ["admin", "user", "create", "\udc80x"],
    ["api", "create", "-c", "\x00"],  # a NUL in a file name
    ["deploy", "\x00"],
], ids=["control-char", "huge-int", "not-utf8", "not-utf8-admin", "nul-swagger", "nul-manifest"])
def test_inputs_that_once_crashed(own_server: Server, cli_env: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["--apihost", own_server.url, "-u", GUEST, *args])
    FIGURES["CLI argument lists fuzzed"] += 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0
    assert result.stderr.startswith("error: "), result.stderr
