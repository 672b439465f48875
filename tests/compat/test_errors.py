"""Rejected promises carry pwsk's status code and its ``{error, code}`` body.

The client turns every response >= 400 into an ``OpenWhiskError`` whose ``statusCode`` is the
HTTP status, whose ``error`` is the parsed body and whose message quotes ``error.error`` (or,
for a failed blocking invoke, the activation's ``response.result.error``).
"""

from __future__ import annotations

import re

from tests.compat.conftest import NodeClient

CODE = re.compile(r"[A-Za-z0-9]{32}")


def test_missing_action_is_404(ow: NodeClient, name: str) -> None:
    err = ow.rejects("return ow.actions.get(A.name)", name=name)
    assert err.status == 404
    assert err.body["error"] == "The requested resource does not exist."
    assert CODE.fullmatch(err.body["code"])
    assert err.message == (f"GET {ow.options['apihost']}/api/v1/namespaces/_/actions/{name} "
                           'Returned HTTP 404 (Not Found) --> '
                           '"The requested resource does not exist."')


def test_missing_entities_of_each_kind_are_404(ow: NodeClient, name: str) -> None:
    statuses = ow.run("""
        const status = p => p.then(() => 200, e => e.statusCode)
        return Promise.all([
            status(ow.actions.invoke({name: A.name, blocking: true})),
            status(ow.actions.delete(A.name)),
            status(ow.triggers.get(A.name)),
            status(ow.triggers.invoke(A.name)),
            status(ow.rules.get(A.name)),
            status(ow.rules.enable({name: A.name})),
            status(ow.packages.get(A.name)),
        ])
    """, name=name)
    assert statuses == [404] * 7


def test_bad_key_is_401(ow: NodeClient) -> None:
    bad = ow.with_options(api_key="23bc46b1-71f6-4ed5-8c54-816aa4f8c502:not-the-key")
    err = bad.rejects("return ow.actions.list()")
    assert err.status == 401
    assert err.body["error"] == "The supplied authentication is invalid"
    assert CODE.fullmatch(err.body["code"])
    assert "Returned HTTP 401 (Unauthorized)" in err.message


def test_unsupported_kind_is_400(ow: NodeClient, name: str) -> None:
    err = ow.rejects("return ow.actions.create({name: A.name, action: 'x', kind: 'cobol:1'})",
                     name=name)
    assert err.status == 400
    assert err.body["error"].startswith("The specified runtime 'cobol:1' is not supported")


def test_request_id_becomes_the_error_code(ow: NodeClient, name: str) -> None:
    # Inside an action the client forwards __OW_TRANSACTION_ID as x-request-id.
    tid = "abcdefghij0123456789ABCDEFGHIJ01"
    err = ow.with_env(__OW_TRANSACTION_ID=tid).rejects("return ow.actions.get(A.name)",
                                                       name=name)
    assert err.status == 404 and err.body["code"] == tid


def test_application_error_on_blocking_invoke_is_502(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name, action: "const main = () => ({error: 'boom'})"})
        const catchIt = p => p.then(v => ({resolved: v}),
                                    e => ({statusCode: e.statusCode, message: e.message,
                                           error: e.error}))
        return {
            record: await catchIt(ow.actions.invoke({name: A.name, blocking: true})),
            result: await catchIt(ow.actions.invoke({name: A.name, blocking: true, result: true})),
        }
    """, name=name)
    for outcome in (out["record"], out["result"]):
        assert outcome["statusCode"] == 502
        assert outcome["message"].endswith('Returned HTTP 502 (Bad Gateway) --> "boom"')
        # The body is the activation record: the client digs the message out of it.
        record = outcome["error"]
        assert record["name"] == name and len(record["activationId"]) == 32
        assert record["response"]["status"] == "application error"
        assert record["response"]["result"] == {"error": "boom"}


def test_thrown_exception_is_502_with_the_message(ow: NodeClient, name: str) -> None:
    err = ow.rejects("""
        await ow.actions.create({name: A.name, action: A.code})
        return ow.actions.invoke({name: A.name, blocking: true, result: true})
    """, name=name, code="function main() { throw new Error('no') }")
    assert err.status == 502
    assert err.message.endswith('--> "An error has occurred: Error: no"')
    assert err.body["response"]["status"] == "action developer error"
    assert err.body["response"]["result"] == {"error": "An error has occurred: Error: no"}


def test_network_failure_has_no_status(ow: NodeClient) -> None:
    # Nothing listens on port 9 on loopback: the client reports the socket error.
    err = ow.with_options(apihost="http://127.0.0.1:9").rejects("return ow.actions.list()")
    assert err.status is None
    assert err.message.startswith("Unknown Error From API:")
