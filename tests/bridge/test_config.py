"""The YAML configuration: what is accepted, and how mistakes are reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge import ConfigError, load_config, parse_config

KEY = "uuid-1:secret"


def config(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "broker": {"url": "mqtt://127.0.0.1:1883"},
        "api": {"host": "http://127.0.0.1:3233", "key": KEY},
        "routes": [{"topic": "brewery/+/+", "trigger": "measurement",
                    "params": {"tank": "{1}", "sensor": "{2}"}}],
    }
    data.update(changes)
    return data


def error_of(data: Any, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "bridge.yaml", environ or {})
    return str(info.value)


def test_a_minimal_file_gets_defaults(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text("""
broker: {url: "mqtt://user:p%40ss@broker.local"}
api: {host: "http://127.0.0.1:3233/", key: "${PWSK_AUTH}"}
routes:
  - {topic: "brewery/#", trigger: measurement, params: {tank: "{1}", where: "{topic}", n: 3}}
""")
    cfg = load_config(path, {"PWSK_AUTH": KEY})
    assert (cfg.broker.host, cfg.broker.port) == ("broker.local", 1883)
    assert (cfg.broker.user, cfg.broker.secret) == ("user", "p@ss")
    assert cfg.broker.client_id == "pwsk-bridge"
    assert cfg.api.host == "http://127.0.0.1:3233"
    assert cfg.api.key == KEY
    assert cfg.max_in_flight == 32
    assert cfg.journal_path == tmp_path / "bridge-state" / "journal.jsonl"
    assert cfg.dead_letter_path == tmp_path / "bridge-state" / "dead-letter.jsonl"
    assert cfg.metrics is not None and cfg.metrics.port == 9464


def test_mqtts_defaults_to_8883_and_tls() -> None:
    cfg = parse_config(config(broker={"url": "mqtts://b.example", "username": "u"}), "x", {})
    assert (cfg.broker.port, cfg.broker.tls, cfg.broker.user) == (8883, True, "u")


@pytest.mark.parametrize(("change", "expected"), [
    ({"broker": {"url": "http://x:1883"}}, "broker.url: must start with mqtt:// or mqtts://"),
    ({"broker": {"url": "mqtt://x:99999"}}, "broker.url: has a port that is not a number"),
    ({"broker": {"url": "mqtt://x/topic"}}, "broker.url: must be mqtt://"),
    ({"api": {"host": "127.0.0.1:3233", "key": KEY}}, "api.host: must be an http://"),
    ({"api": {"host": "http://h", "key": "nocolon"}}, "api.key: must be 'uuid:key'"),
    ({"routes": []}, "routes: List should have at least 1 item"),
    ({"routes": [{"topic": "a/#/b", "trigger": "t"}]}, "'#' must be a whole level"),
    ({"routes": [{"topic": "a/b+", "trigger": "t"}]}, "'+' must be a whole level"),
    ({"routes": [{"topic": "", "trigger": "t"}]}, "routes.0.topic: is empty"),
    ({"routes": [{"topic": "a/+", "trigger": "p/t"}]}, "triggers do not live in packages"),
    ({"routes": [{"topic": "a/+", "trigger": "t", "params": {"x": "{2}"}}]},
     "params.x: '{2}' is topic level 2, but 'a/+' has levels 0 to 1"),
    ({"routes": [{"topic": "a/+", "trigger": "t", "params": {"x": "{name}"}}]},
     "must be {N} (a topic level) or {topic}"),
    ({"routes": [{"topic": "a/+", "trigger": "t", "params": {"x": "{1"}}]}, "unbalanced brace"),
    ({"retry": {"initial": 5, "max": 1}}, "max must not be smaller than initial"),
    ({"max_in_flight": 0}, "max_in_flight: Input should be greater than or equal to 1"),
    ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
])
def test_mistakes_name_the_field(change: dict[str, Any], expected: str) -> None:
    message = error_of(config(**change))
    assert message.startswith("bridge.yaml is not valid:")
    assert expected in message


def test_a_missing_environment_variable_is_an_error() -> None:
    data = config(api={"host": "http://h", "key": "${NOPE_NOT_SET}"})
    assert error_of(data) == "api.key: environment variable NOPE_NOT_SET is not set"


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top"):
        load_config(listed)


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bridge.__main__ import main

    good = tmp_path / "good.yaml"
    good.write_text(
        "broker: {url: 'mqtt://127.0.0.1'}\napi: {host: 'http://h', key: 'a:b'}\n"
        "routes: [{topic: 'x/#', trigger: t}]\n"
    )
    assert main(["--config", str(good), "--check"]) == 0
    assert "valid (1 route(s))" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("broker: {url: 'tcp://h'}\n")
    assert main(["--config", str(bad), "--check"]) == 2
    err = capsys.readouterr().err
    assert "broker.url: must start with mqtt://" in err
    assert "api: Field required" in err


def test_the_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "bridge" / "bridge.example.yaml"
    cfg = load_config(example, {"PWSK_AUTH": KEY})
    assert [route.trigger for route in cfg.routes] == ["measurement"]
    assert cfg.state_dir == example.parent / "bridge-state"
