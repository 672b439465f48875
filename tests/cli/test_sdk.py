"""``pwsk sdk install``, ``pwsk completion`` and ``pwsk project`` (wskdeploy)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import FAKE_HOST, GUEST, FakeWhisk, Run
from tests.servers import ROOT


def test_completion_scripts(run: Run) -> None:
    bash = run("completion", "bash")
    assert bash.exit_code == 0, bash.output
    assert "_pwsk_completion()" in bash.stdout
    assert "_PWSK_COMPLETE=bash_complete" in bash.stdout
    assert "complete -o nosort -F _pwsk_completion pwsk" in bash.stdout
    assert "_PWSK_COMPLETE=zsh_complete" in run("completion", "zsh").stdout
    assert "_PWSK_COMPLETE=fish_complete" in run("completion", "fish").stdout
    assert run("completion", "tcsh").exit_code == 2


def _complete(words: str, cword: int) -> list[str]:
    """Ask the real entry point for bash completions, as the installed script does."""
    env = {
        **os.environ,
        "_PWSK_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pwsk.cli.main"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_completion_answers_commands_and_options() -> None:
    assert _complete("pwsk ac", 1) == ["plain,action", "plain,activation"]
    assert "plain,create" in _complete("pwsk api ", 2)
    assert _complete("pwsk api create --resp", 3) == ["plain,--response-type"]
    assert "plain,--web-secure" in _complete("pwsk action update x --web", 4)


def test_sdk_install_bashauto(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("sdk", "install", "bashauto")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "The bash auto-completion script (pwsk_cli_bash_completion.sh) is installed in the "
        "current directory.\nTo enable command line completion of pwsk commands, source the "
        "auto completion script into your bash environment\n"
    )
    script = (tmp_path / "pwsk_cli_bash_completion.sh").read_text()
    assert "_pwsk_completion()" in script
    printed = run("sdk", "install", "BASHAUTO", "--stdout").stdout
    assert printed.strip() == script.strip()


def test_sdk_install_argument_errors(run: Run) -> None:
    result = run("sdk", "install")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: The SDK component argument is missing. One component (docker, ios, or bashauto) "
        "must be specified\nRun 'pwsk sdk install --help' for usage.\n"
    )
    result = run("sdk", "install", "android")
    assert result.stderr.startswith(
        "error: The SDK component argument 'android' is invalid. Valid components are docker, "
        "ios and bashauto\n"
    )


def _tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"FROM openwhisk/dockerskeleton\n"
        info = tarfile.TarInfo("dockerSkeleton/Dockerfile")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_sdk_install_docker_downloads_and_unpacks(
    run: Run, fake: FakeWhisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tarball = _tarball()
    fake.answers[("GET", "/blackbox.tar.gz")] = lambda request: httpx.Response(200, content=tarball)
    result = run("sdk", "install", "docker")
    assert result.exit_code == 0, result.output
    assert result.stdout == "The docker skeleton is now installed at the current directory.\n"
    assert (tmp_path / "dockerSkeleton" / "Dockerfile").read_text().startswith("FROM ")
    assert not (tmp_path / "blackbox.tar.gz").exists()
    assert "authorization" not in fake.last.headers  # a plain download, as wsk's
    again = run("sdk", "install", "docker")
    assert again.exit_code == 1
    assert "The directory 'dockerSkeleton' already exists.  Delete it and retry." in again.stderr


def test_sdk_install_when_the_server_has_no_sdk(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("sdk", "install", "ios")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: The ios SDK installation failed: Unable to retrieve 'OpenWhiskIOSStarterApp.zip' "
        "SDK: The requested resource does not exist."
    )
    assert not (tmp_path / "OpenWhiskIOSStarterApp.zip").exists()


@pytest.fixture
def wskdeploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``wskdeploy`` on PATH that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "args"
    script = bin_dir / "wskdeploy"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\nexit 7\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for wskdeploy")
def test_project_runs_wskdeploy(wskdeploy: Path, home: Path) -> None:
    result = Run(None, ["--apihost", FAKE_HOST])("project", "sync", "-m", "m.yaml", "--preview")
    assert result.exit_code == 7  # wskdeploy's own exit status
    forwarded = ["sync", "-m", "m.yaml", "--preview", "--apihost", FAKE_HOST]
    assert wskdeploy.read_text().splitlines() == forwarded
    result = Run(None, ["-u", GUEST])("project", "export", "--auth", "other:key", "--help")
    assert wskdeploy.read_text().splitlines() == ["export", "--auth", "other:key", "--help"]


def test_project_without_wskdeploy(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(home))
    result = Run(None, [])("project", "export", "--projectname", "p")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: pwsk project runs wskdeploy, which is not on PATH")


def test_help_starts_without_the_http_stack() -> None:
    """``pwsk --help`` (and completion, which runs on every Tab) never imports httpx."""
    probe = (
        "import sys\n"
        "from pwsk.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'httpx', 'orjson', 'yaml', 'tarfile', 'subprocess', 'fastapi'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
