"""The redaction rules on their own: marker round trips, binding inheritance, masking of
nested, escaped and overlapping secret texts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pwsk.errors import BadRequest
from pwsk.messages import ActivationMessage, Identity
from pwsk.redact import REDACTED, Masker, mark_secret, redact, restore, settle

STORED: list[dict[str, Any]] = [{"key": "token", "value": "s3cr3t-token", "secret": True},
          {"key": "plain", "value": "p"}]


def test_redact_leaves_plain_lists_alone() -> None:
    plain = [{"key": "a", "value": 1}]
    assert redact(plain) is plain
    assert redact(STORED) == [{"key": "token", "value": REDACTED, "secret": True},
                              {"key": "plain", "value": "p"}]
    assert STORED[0]["value"] == "s3cr3t-token"  # a copy, never the stored list


def test_restore_keeps_stored_secrets_and_refuses_unknown_markers() -> None:
    back = restore([{"key": "token", "value": REDACTED}, {"key": "plain", "value": "q"}],
                   STORED)
    assert back == [{"key": "token", "value": "s3cr3t-token", "secret": True},
                    {"key": "plain", "value": "q"}]
    # The marker for a key stored as a plain parameter is a plain value.
    assert restore([{"key": "plain", "value": REDACTED}], STORED) == [
        {"key": "plain", "value": REDACTED}]
    with pytest.raises(BadRequest, match="redaction marker"):
        restore([{"key": "other", "value": REDACTED, "secret": True}], STORED)
    with pytest.raises(BadRequest, match="redaction marker"):
        restore([{"key": "token", "value": REDACTED, "secret": True}], None)


def test_settle_drops_markers_a_binding_inherits() -> None:
    sent = restore([{"key": "token", "value": REDACTED, "secret": True},
                    {"key": "own", "value": "b"}], [], strict=False)
    assert settle(sent, STORED) == [{"key": "own", "value": "b"}]
    # A client that drops the ``secret`` field sends the bare marker: dropped as well.
    assert settle([{"key": "token", "value": REDACTED}], STORED) == []
    assert settle([{"key": "plain", "value": REDACTED}], STORED) == [
        {"key": "plain", "value": REDACTED}]
    with pytest.raises(BadRequest):
        settle(sent, [])


def test_mark_secret_keeps_init() -> None:
    params = [{"key": "token", "value": "old", "init": True}, {"key": "x", "value": 1}]
    marked = mark_secret(params, ["token", "extra"], {"token": "new", "extra": "e"})
    assert marked == [{"key": "token", "value": "new", "init": True, "secret": True},
                      {"key": "x", "value": 1},
                      {"key": "extra", "value": "e", "secret": True}]


def test_masker_finds_nested_escaped_and_longest_texts() -> None:
    content = {"token": "abc\"déf/ghij", "creds": {"user": "ab", "pw": ["hunter22", 123456]},
               "short": "abcd", "plain": "hunter22"}
    masker = Masker.for_args(content, ["token", "creds", "short", "missing"])
    line = (f"{content['token']} {json.dumps(content)} {json.dumps(content, ensure_ascii=False)}"
            " 123456 ab")
    masked = masker.text(line)
    for secret in ("hunter22", "123456", "déf", "d\\u00e9f"):
        assert secret not in masked
    assert masked.endswith(" ab")  # shorter than 4: left alone
    result = masker.json({"echo": content, "abcd-key": ["x abcd y"]})
    assert result["echo"]["plain"] == REDACTED
    assert result[f"{REDACTED}-key"] == [f"x {REDACTED} y"]
    assert not Masker.for_args(content, [])


def test_activation_message_carries_secret_keys_only_when_there_are_some() -> None:
    user = Identity("guest", "guest", "u", "k", {})
    msg = ActivationMessage("t", 1, "guest", "a", "0.0.1", "1", user, "a" * 32, 0, True,
                            {"token": "v"}, secret_args=["token"])
    assert ActivationMessage.from_bytes(msg.to_bytes()).secret_args == ["token"]
    msg.secret_args = []
    assert b"secretArgs" not in msg.to_bytes()
