"""Parameters, annotations, kind inference and web-action flags."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pwsk.cli import params as P
from pwsk.cli.common import CliError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("1.5", 1.5),
        ("true", True),
        ("null", None),
        ('"quoted"', "quoted"),
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ("hello", "hello"),
        ("hello world", "hello world"),
        ("NaN", "NaN"),  # not JSON for wsk (Go), so a string
        ("{broken", "{broken"),
        ("", ""),
    ],
)
def test_values_are_json_when_valid(text: str, value: object) -> None:
    assert P.parse_value(text) == value


def test_pairs_override_file_and_keep_order(tmp_path: Path) -> None:
    file = tmp_path / "params.json"
    file.write_text(json.dumps({"a": 1, "b": "file"}))
    merged = P.key_values([("b", "flag"), ("c", "[1]")], str(file))
    assert merged == {"a": 1, "b": "flag", "c": [1]}
    assert P.to_kv(merged) == [
        {"key": "a", "value": 1},
        {"key": "b", "value": "flag"},
        {"key": "c", "value": [1]},
    ]


def test_param_file_errors(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"File '.*nope\.json' is not a valid file"):
        P.key_values([], str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(CliError, match=r"Invalid annotation argument .*JSON object"):
        P.key_values([], str(bad), "annotation")


def test_kind_from_extension(tmp_path: Path) -> None:
    for ext, kind in ((".py", "python:default"), (".js", "nodejs:default"), (".go", "go:default")):
        source = tmp_path / f"a{ext}"
        source.write_text("code")
        assert P.build_exec(str(source)) == {"code": "code", "kind": kind}


def test_explicit_kind_and_main(tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_text("x")
    exec_ = P.build_exec(str(source), kind="python:3.11", main="handler")
    assert exec_ == {"code": "x", "kind": "python:3.11", "main": "handler"}


def test_zip_needs_kind_and_is_sent_base64(tmp_path: Path) -> None:
    archive = tmp_path / "app.zip"
    archive.write_bytes(b"PK\x03\x04binary\xff")
    with pytest.raises(CliError) as err:
        P.build_exec(str(archive))
    assert err.value.message == (
        "Invalid argument(s). creating an action from a .zip artifact requires specifying "
        "the action kind explicitly"
    )
    assert err.value.exit_code == 2
    exec_ = P.build_exec(str(archive), kind="python:default")
    assert base64.b64decode(exec_["code"]) == archive.read_bytes()
    native = P.build_exec(str(archive), native=True)
    assert native["kind"] == "blackbox" and native["image"] == "openwhisk/dockerskeleton"


def test_docker_image_without_code() -> None:
    assert P.build_exec(None, docker="me/img:1") == {"kind": "blackbox", "image": "me/img:1"}
    with pytest.raises(CliError, match="Cannot specify both --kind and --docker") as err:
        P.build_exec(None, kind="python:default", docker="me/img")
    assert err.value.exit_code == 149


def test_unsupported_or_missing_artifacts(tmp_path: Path) -> None:
    odd = tmp_path / "a.cobol"
    odd.write_text("x")
    with pytest.raises(CliError, match=r"'\.cobol' is not a supported action runtime"):
        P.build_exec(str(odd))
    with pytest.raises(CliError, match="is not a valid file or it does not exist"):
        P.build_exec(str(tmp_path / "missing.py"))
    with pytest.raises(CliError, match="An action name and code artifact are required"):
        P.build_exec(None)


def test_web_flags() -> None:
    assert P.web_annotations("YES") == {"web-export": True, "raw-http": False, "final": True}
    assert P.web_annotations("raw")["raw-http"] is True
    assert P.web_annotations("no") == {"web-export": False, "raw-http": False, "final": False}
    with pytest.raises(CliError, match="Invalid argument 'maybe' for --web flag"):
        P.web_annotations("maybe")


def test_web_secret() -> None:
    generated = P.web_secret("true")
    assert isinstance(generated, int) and 0 <= generated <= 2**53 - 1
    assert P.web_secret("true", existing=42) == 42  # an existing number is kept
    assert P.web_secret("false") is False
    assert P.web_secret("s3cret") == "s3cret"
