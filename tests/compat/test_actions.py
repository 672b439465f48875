"""``ow.actions``: create (code, Buffer zip, sequence), get, list, update, delete, invoke."""

from __future__ import annotations

import base64

from tests.api.helpers import zip_b64
from tests.compat.conftest import NodeClient

HELLO = "function main(p) { return {greeting: 'Hello ' + (p.name || 'world')} }"
ECHO = "function main(p) { return p }"


def test_create_get_list_delete(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        const created = await ow.actions.create({name: A.name, action: A.code})
        const got = await ow.actions.get(A.name)
        const noCode = await ow.actions.get({name: A.name, code: false})
        const listed = await ow.actions.list({limit: 200})
        const count = await ow.actions.list({count: true})
        const deleted = await ow.actions.delete({actionName: A.name})
        const after = await ow.actions.list({limit: 200})
        return {created, got, noCode, listed, count, deleted, after: after.map(a => a.name)}
    """, name=name, code=HELLO)
    created = out["created"]
    assert created["name"] == name and created["namespace"] == "guest"
    assert created["version"] == "0.0.1"
    # The client sends kind "nodejs:default" unless told otherwise.
    assert created["exec"] == {"kind": "nodejs:20", "code": HELLO, "binary": False}
    assert out["got"]["exec"]["code"] == HELLO
    assert "code" not in out["noCode"]["exec"]
    mine = [a for a in out["listed"] if a["name"] == name]
    assert len(mine) == 1 and "code" not in mine[0]["exec"]
    assert out["count"]["actions"] >= 1
    assert out["deleted"]["name"] == name
    assert name not in out["after"]


def test_create_with_kind_params_limits_annotations(ow: NodeClient, name: str) -> None:
    created = ow.run("""
        return ow.actions.create({
            name: A.name, action: A.code, kind: 'python:3.11',
            params: {a: 1, b: 'two'}, limits: {timeout: 5000, memory: 128},
            annotations: {description: 'echo'}, version: '1.2.3'})
    """, name=name, code="def main(args):\n    return args\n")
    assert created["exec"]["kind"] == "python:3.11"
    assert created["parameters"] == [{"key": "a", "value": 1}, {"key": "b", "value": "two"}]
    assert created["limits"]["timeout"] == 5000 and created["limits"]["memory"] == 128
    assert {"key": "description", "value": "echo"} in created["annotations"]
    assert created["version"] == "1.2.3"
    result = ow.run("""
        return ow.actions.invoke({name: A.name, blocking: true, result: true, params: {b: 3}})
    """, name=name)
    assert result == {"a": 1, "b": 3}


def test_create_with_a_full_action_body(ow: NodeClient, name: str) -> None:
    # An object (not a Buffer) as `action` is sent as the PUT body unchanged.
    created = ow.run("""
        return ow.actions.create({name: A.name, action: {
            exec: {kind: 'nodejs:20', code: A.code, main: 'hello'},
            parameters: [{key: 'name', value: 'body'}],
            annotations: [{key: 'web-export', value: true}]}})
    """, name=name, code="function hello(p) { return {greeting: 'Hello ' + p.name} }")
    assert created["exec"]["main"] == "hello"
    assert {"key": "web-export", "value": True} in created["annotations"]
    result = ow.run("return ow.actions.invoke({name: A.name, blocking: true, result: true})",
                    name=name)
    assert result == {"greeting": "Hello body"}


def test_update_replaces_code_and_keeps_the_rest(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name, action: A.hello, params: {name: 'param'}})
        const updated = await ow.actions.update({name: A.name, action: A.echo})
        const limited = await ow.actions.update({name: A.name, limits: {timeout: 3000}})
        const result = await ow.actions.invoke({name: A.name, blocking: true, result: true})
        return {updated, limited, result}
    """, name=name, hello=HELLO, echo=ECHO)
    assert out["updated"]["version"] == "0.0.2"
    assert out["updated"]["exec"]["code"] == ECHO
    assert out["updated"]["parameters"] == [{"key": "name", "value": "param"}]
    # An update without code merges into the stored action (PUT ?overwrite=true).
    assert out["limited"]["version"] == "0.0.3"
    assert out["limited"]["exec"]["code"] == ECHO
    assert out["limited"]["limits"]["timeout"] == 3000
    assert out["result"] == {"name": "param"}


def test_create_twice_without_overwrite_is_409(ow: NodeClient, name: str) -> None:
    err = ow.rejects("""
        await ow.actions.create({name: A.name, action: A.code})
        return ow.actions.create({name: A.name, action: A.code})
    """, name=name, code=HELLO)
    assert err.status == 409
    assert err.body["error"] == "resource already exists"
    assert 'Returned HTTP 409 (Conflict) --> "resource already exists"' in err.message
    # With overwrite: true the same call succeeds.
    again = ow.run("return ow.actions.create({name: A.name, action: A.code, overwrite: true})",
                   name=name, code=ECHO)
    assert again["exec"]["code"] == ECHO and again["version"] == "0.0.2"


def test_invoke_blocking_result_and_record(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name, action: A.code})
        const result = await ow.actions.invoke({
            name: A.name, blocking: true, result: true, params: {name: 'pwsk'}})
        const record = await ow.actions.invoke({actionName: A.name, blocking: true})
        return {result, record}
    """, name=name, code=HELLO)
    assert out["result"] == {"greeting": "Hello pwsk"}
    record = out["record"]
    assert record["name"] == name and record["namespace"] == "guest"
    assert len(record["activationId"]) == 32
    response = record["response"]
    assert response["result"] == {"greeting": "Hello world"}
    assert response["success"] is True and response["status"] == "success"
    assert record["duration"] >= 0 and record["end"] >= record["start"]


def test_invoke_non_blocking_then_fetch_activation(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name, action: A.code})
        const started = await ow.actions.invoke({name: A.name, params: {name: 'later'}})
        const record = await H.poll(() => ow.activations.get(started.activationId))
        return {started, record}
    """, name=name, code=HELLO)
    assert list(out["started"]) == ["activationId"]
    assert out["record"]["activationId"] == out["started"]["activationId"]
    assert out["record"]["response"]["result"] == {"greeting": "Hello later"}


def test_fully_qualified_names(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: '/_/' + A.name, action: A.code})
        const viaGuest = await ow.actions.invoke({
            name: '/guest/' + A.name, blocking: true, result: true, params: {name: 'fq'}})
        const explicitNs = await ow.actions.get({name: A.name, namespace: 'guest'})
        return {viaGuest, explicitNs}
    """, name=name, code=HELLO)
    assert out["viaGuest"] == {"greeting": "Hello fq"}
    assert out["explicitNs"]["name"] == name


def test_client_namespace_option(ow: NodeClient, name: str) -> None:
    # With `namespace` the client puts it in every path and sends an x-namespace-id header.
    result = ow.with_options(namespace="guest").run("""
        await ow.actions.create({name: A.name, action: A.code})
        return ow.actions.invoke({name: A.name, blocking: true, result: true})
    """, name=name, code=HELLO)
    assert result == {"greeting": "Hello world"}


def test_zipped_action_from_a_buffer(ow: NodeClient, name: str) -> None:
    archive = zip_b64({
        "package.json": '{"main": "lib/entry.js"}',
        "lib/entry.js": "const h = require('./helper'); exports.main = a => ({v: h(a.x)})",
        "lib/helper.js": "module.exports = x => x * 10",
    })
    out = ow.run("""
        const created = await ow.actions.create({
            name: A.name, kind: 'nodejs:20', action: Buffer.from(A.zip, 'base64')})
        const result = await ow.actions.invoke({
            name: A.name, blocking: true, result: true, params: {x: 4}})
        return {created, result}
    """, name=name, zip=archive)
    # The client sends the Buffer as base64 code; the server recognises it as binary.
    assert out["created"]["exec"]["binary"] is True
    assert base64.b64decode(out["created"]["exec"]["code"]) == base64.b64decode(archive)
    assert out["result"] == {"v": 40}


def test_sequence(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name + '-a', action: 'const main = p => ({n: p.n + 1})'})
        await ow.actions.create({name: A.name + '-b', action: 'const main = p => ({n: p.n * 2})'})
        const created = await ow.actions.create({
            name: A.name, sequence: ['/_/' + A.name + '-a', '/_/' + A.name + '-b']})
        const result = await ow.actions.invoke({
            name: A.name, blocking: true, result: true, params: {n: 4}})
        return {created, result}
    """, name=name)
    assert out["created"]["exec"]["kind"] == "sequence"
    assert out["created"]["exec"]["components"] == [f"/guest/{name}-a", f"/guest/{name}-b"]
    assert out["result"] == {"n": 10}


def test_get_and_delete_take_arrays(ow: NodeClient, name: str) -> None:
    # (The client also maps arrays for invoke, but then drops `blocking` and `params`.)
    out = ow.run("""
        const names = [A.name + '-1', A.name + '-2']
        await Promise.all(names.map(name => ow.actions.create({name, action: A.code})))
        const got = await ow.actions.get(names)
        const deleted = await ow.actions.delete(names)
        return {got: got.map(a => a.name), deleted: deleted.map(a => a.name)}
    """, name=name, code=HELLO)
    assert out["got"] == out["deleted"] == [f"{name}-1", f"{name}-2"]
