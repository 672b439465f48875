"""``~/.wskprops`` reading and writing, and the precedence of file, environment and flags."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pwsk.cli.config import load_properties, props_path, read_props, write_props


def test_default_path_is_home_wskprops(home: Path) -> None:
    assert props_path() == home / ".wskprops"


def test_wsk_config_file_overrides_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSK_CONFIG_FILE", str(home / "other.props"))
    assert props_path() == home / "other.props"
    # An empty WSK_CONFIG_FILE means "no file at all", as in wsk.
    monkeypatch.setenv("WSK_CONFIG_FILE", "")
    assert props_path() is None
    assert read_props(props_path()) == {}


def test_read_skips_comments_and_junk(tmp_path: Path) -> None:
    path = tmp_path / "p"
    path.write_text(
        "# my whisk\nAPIHOST=http://h:1/  # trailing comment\n\nnot a pair\n"
        "auth = u:k=with=equals\n"
    )
    assert read_props(path) == {"APIHOST": "http://h:1/", "AUTH": "u:k=with=equals"}


def test_missing_file_reads_empty(tmp_path: Path) -> None:
    assert read_props(tmp_path / "absent") == {}


def test_write_keeps_comments_order_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "p"
    path.write_text("# header\nAUTH=old\nCUSTOM=keep\nAPIHOST=h\n")
    props = read_props(path)
    props["AUTH"] = "new"
    del props["APIHOST"]
    props["NAMESPACE"] = "guest"
    write_props(path, props)
    assert path.read_text() == "# header\nAUTH=new\nCUSTOM=keep\nNAMESPACE=guest\n"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_precedence_file_then_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / ".wskprops").write_text("APIHOST=file-host/\nAUTH=file:auth\nNAMESPACE=guest\n")
    props = load_properties()
    assert (props.apihost, props.auth, props.apiversion, props.namespace) == (
        "file-host",
        "file:auth",
        "v1",
        "guest",
    )
    monkeypatch.setenv("WHISK_APIHOST", "env-host")
    monkeypatch.setenv("WHISK_AUTH", "env:auth")
    monkeypatch.setenv("WHISK_APIVERSION", "v2")
    props = load_properties()
    assert (props.apihost, props.auth, props.apiversion) == ("env-host", "env:auth", "v2")


def test_defaults_without_any_configuration(home: Path) -> None:
    props = load_properties()
    assert (props.apihost, props.auth, props.apiversion, props.namespace) == ("", "", "v1", "_")
