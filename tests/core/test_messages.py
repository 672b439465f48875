"""Bus message schemas round-trip and reject what they cannot read."""

from __future__ import annotations

import pytest

from pwsk.activation import Activation, Response, Status
from pwsk.messages import Ack, ActivationMessage, Identity, MessageError, PingMessage


def test_activation_message_round_trip() -> None:
    msg = ActivationMessage(
        transid="x" * 32, start=5, action_path="ns/pkg", action_name="a", action_version="0.0.2",
        revision="3-abc", user=Identity("s", "ns", "uuid", "key", {"firesPerMinute": 3}),
        activation_id="f" * 32, controller=1, blocking=True, content={"k": [1, 2]},
        init_args=["k"], cause="c" * 32, binding="ns/b", caused_by="sequence")
    assert ActivationMessage.from_bytes(msg.to_bytes()) == msg


def test_acks_round_trip_and_types() -> None:
    act = Activation("ns", "a", "s", "f" * 32, 1, 2, Response(Status.APPLICATION_ERROR,
                                                                {"error": "x"}))
    for kind in (Ack.COMBINED, Ack.RESULT, Ack.COMPLETION):
        ack = Ack(kind, "t", "f" * 32, 0, act if kind != Ack.COMPLETION else None, False)
        back = Ack.from_bytes(ack.to_bytes())
        assert back.kind == kind
        if kind != Ack.COMPLETION:
            assert back.activation is not None
            assert back.activation.response.status == Status.APPLICATION_ERROR


def test_ping_round_trip() -> None:
    ping = PingMessage(3, 2048, True, "host-a")
    assert PingMessage.from_bytes(ping.to_bytes()) == ping


@pytest.mark.parametrize("raw", [b"nope", b"[]", b'{"v": 99}', b'{"transid": 1}'])
def test_bad_messages_raise_message_error(raw: bytes) -> None:
    with pytest.raises(MessageError):
        ActivationMessage.from_bytes(raw)


def test_extended_activation_shape() -> None:
    trig = Activation("ns", "t", "s", "f" * 32, 10, 0, Response.success({}))
    ext = trig.to_extended()
    assert "end" not in ext and "duration" not in ext
    run = Activation("ns", "a", "s", "f" * 32, 10, 15, Response(Status.SUCCESS, {"a": 1}, 7))
    ext = run.to_extended()
    assert ext["duration"] == 5
    assert ext["response"] == {"result": {"a": 1}, "success": True, "status": "success",
                               "size": 7}
    assert run.to_doc()["response"] == {"statusCode": 0, "result": {"a": 1}, "size": 7}
