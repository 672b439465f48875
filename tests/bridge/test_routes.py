"""Topic filters, params templates and payload decoding."""

from __future__ import annotations

import pytest

from bridge.config import Route
from bridge.routes import Fire, Router, decode_payload, matches


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), [
    ("brewery/+/+", "brewery/mash/temperature", True),
    ("brewery/+/+", "brewery/mash", False),
    ("brewery/+/+", "brewery/mash/temperature/x", False),
    ("brewery/#", "brewery", True),
    ("brewery/#", "brewery/boil/level", True),
    ("brewery/mash/level", "brewery/mash/level", True),
    ("brewery/mash/level", "brewery/boil/level", False),
    ("+/+", "/x", True),
    ("#", "$SYS/broker/load", False),
    ("+/broker/#", "$SYS/broker/load", False),
    ("$SYS/#", "$SYS/broker/load", True),
])
def test_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


def test_payloads() -> None:
    assert decode_payload(b'{"value": 1.5, "unit": "C"}') == {"value": 1.5, "unit": "C"}
    assert decode_payload(b"42") == {"payload": 42}
    assert decode_payload(b"[1, 2]") == {"payload": [1, 2]}
    assert decode_payload(b"open sesame") == {"payload": "open sesame"}
    assert decode_payload(b"") == {"payload": ""}
    assert decode_payload(b"\xff\x00") == {"payload_base64": "/wA="}


def test_topic_levels_become_params_over_the_payload() -> None:
    router = Router([
        Route(topic="brewery/+/+", trigger="measurement",
              params={"tank": "{1}", "sensor": "{2}", "source": "{topic}", "site": "{{x}}",
                      "n": 7}),
        Route(topic="brewery/mash/#", trigger="mash-events"),
        Route(topic="other/+", trigger="never"),
    ])
    assert router.filters == ["brewery/+/+", "brewery/mash/#", "other/+"]
    fires = router.fires("brewery/mash/temperature", b'{"value": 64.8, "tank": "spoofed"}')
    assert fires == [
        Fire("measurement", {"value": 64.8, "tank": "mash", "sensor": "temperature",
                             "source": "brewery/mash/temperature", "site": "{x}", "n": 7},
             "brewery/mash/temperature"),
        Fire("mash-events", {"value": 64.8, "tank": "spoofed"}, "brewery/mash/temperature"),
    ]
    assert router.fires("elsewhere/x", b"1") == []


def test_a_level_missing_past_a_hash_is_a_mapping_error() -> None:
    router = Router([Route(topic="brewery/#", trigger="m", params={"sensor": "{2}"})])
    assert router.fires("brewery/mash/level", b"1")[0].params == {"payload": 1,
                                                                    "sensor": "level"}
    (fire,) = router.fires("brewery/mash", b"hello")
    assert fire.error == "topic 'brewery/mash' has no level 2"
    assert fire.params == {"payload": "hello"}
