"""Property-based fuzzing of the MQTT bridge's input: message payloads and topics, and the
configuration that maps them to triggers.

Any payload on any topic becomes fire parameters that are a JSON object (or a fire marked for
the dead letters), written to the real journal and read back intact after a restart; nothing
raises. Any configuration is either valid or a ``ConfigError`` naming what is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bridge.config import ConfigError, parse_config
from bridge.journal import Journal
from bridge.routes import Router, decode_payload
from pwsk.limits import json_depth_exceeds
from tests.reliability.conftest import FIGURES

FUZZ = settings(max_examples=250, deadline=None, database=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))
CONFIG = {"broker": {"url": "mqtt://127.0.0.1:1883"},
          "api": {"host": "http://127.0.0.1:3233", "key": "a:b"}}
ROUTES = [
    {"topic": "brewery/+/temperature", "trigger": "temperature",
     "params": {"tank": "{1}", "where": "{topic}", "n": 3, "brace": "{{x}}"}},
    {"topic": "brewery/#", "trigger": "/guest/everything", "params": {"deep": "{4}"}},
    {"topic": "#", "trigger": "all"},
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats()
    | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=20)
LEVEL = st.one_of(st.sampled_from(["brewery", "temperature", "t1", "", "+", "#", "$SYS"]),
                  st.text(max_size=8).filter(lambda s: "/" not in s))
TOPIC = st.lists(LEVEL, min_size=1, max_size=6).map("/".join)
PAYLOAD = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(str.encode),
    JSON.map(orjson.dumps),
    st.integers(min_value=2**64).map(lambda n: str(n).encode()),  # beyond 64 bits
    st.integers(1, 2000).map(lambda depth: b"[" * depth + b"]" * depth),  # deep nesting
)


def _safe_json(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


@FUZZ
@given(messages=st.lists(st.tuples(TOPIC, PAYLOAD), min_size=1, max_size=5))
def test_any_payload_on_any_topic_is_journalled(tmp_path_factory: Any,
                                                messages: list[tuple[str, bytes]]) -> None:
    config = parse_config({**CONFIG, "routes": ROUTES})
    router = Router(config.routes)
    path: Path = tmp_path_factory.mktemp("journal") / "journal.jsonl"
    journal = Journal(path, fsync=False)
    journal.open()
    owed = []
    for topic, payload in messages:
        FIGURES["MQTT payloads fuzzed (bridge)"] += 1
        for fire in router.fires(topic, payload):
            assert isinstance(fire.params, dict)
            assert fire.error is None or "has no level" in fire.error
            owed.append(journal.add(fire.trigger, fire.params, fire.topic, error=fire.error))
    journal.close()
    reopened = Journal(path, fsync=False)
    replayed = reopened.open()
    reopened.close()
    assert [(e.trigger, _safe_json(e.params), e.topic, e.error) for e in replayed] == [
        (e.trigger, _safe_json(e.params), e.topic, e.error) for e in owed]


@FUZZ
@given(payload=PAYLOAD)
def test_decoded_payload_is_always_a_json_object(payload: bytes) -> None:
    FIGURES["MQTT payloads fuzzed (bridge)"] += 1
    params = decode_payload(payload)
    assert isinstance(params, dict)
    orjson.dumps(params)  # what the firer sends must serialise
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        assert set(params) in ({"payload"}, {"payload_base64"})
        return
    if json_depth_exceeds(value):  # kept as text: too deep to journal as JSON
        assert params == {"payload": payload.decode()}
    else:
        assert params == (value if isinstance(value, dict) else {"payload": value})


@FUZZ
@given(routes=st.lists(st.fixed_dictionaries(
    {"topic": TOPIC, "trigger": st.one_of(st.text(max_size=20),
                                          st.sampled_from(["t", "/guest/t", "/a/b/c", "p/t"])),
     }, optional={"params": st.dictionaries(st.text(max_size=6), st.one_of(
         JSON, st.sampled_from(["{0}", "{9}", "{topic}", "{x}", "{", "}}", "{²}", "{{0}}"])),
         max_size=3)}), max_size=3),
       extra=st.dictionaries(st.sampled_from(["max_in_flight", "retry", "metrics", "broker",
                                              "api", "state_dir", "fsync", "drain_timeout",
                                              "log_level", "nope"]), JSON, max_size=2))
def test_any_configuration_is_valid_or_a_config_error(routes: list[dict[str, Any]],
                                                      extra: dict[str, Any]) -> None:
    FIGURES["bridge configurations fuzzed"] += 1
    try:
        config = parse_config({**CONFIG, "routes": routes, **extra}, environ={})
    except ConfigError as exc:
        assert str(exc).strip()
        return
    Router(config.routes).fires("brewery/t1/temperature", b'{"value": 1}')
