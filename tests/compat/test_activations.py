"""``ow.activations`` (list with filters, get, logs, result) and ``ow.namespaces``."""

from __future__ import annotations

import re

from tests.compat.conftest import NodeClient

LOGGER = "function main(p) { console.log('hello', p.n); console.error('oops'); return {n: p.n} }"


def test_list_get_logs_result(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name, action: A.code})
        const ids = []
        for (const n of [1, 2]) {
            const rec = await ow.actions.invoke({name: A.name, blocking: true, params: {n}})
            ids.push(rec.activationId)
        }
        const listed = await H.poll(async () => {
            const list = await ow.activations.list({name: A.name, limit: 10})
            return list.length === 2 ? list : null
        })
        const docs = await ow.activations.list({name: A.name, docs: true})
        const count = await ow.activations.list({name: A.name, count: true})
        const skipped = await ow.activations.list({name: A.name, skip: 1, limit: 1})
        const since = await ow.activations.list({name: A.name, since: Date.now() + 60000})
        const got = await ow.activations.get({activationId: ids[1]})
        const logs = await ow.activations.logs({activationId: ids[1]})
        const result = await ow.activations.result(ids[1])
        return {ids, listed, docs, count, skipped, since, got, logs, result}
    """, name=name, code=LOGGER)
    ids = out["ids"]
    # Newest first, summaries without logs.
    assert [a["activationId"] for a in out["listed"]] == ids[::-1]
    assert all(a["name"] == name for a in out["listed"])
    assert [a["response"]["result"] for a in out["docs"]] == [{"n": 2}, {"n": 1}]
    assert out["count"] == {"activations": 2}
    assert [a["activationId"] for a in out["skipped"]] == [ids[0]]
    assert out["since"] == []
    got = out["got"]
    assert got["activationId"] == ids[1] and got["name"] == name
    assert got["response"]["result"] == {"n": 2} and got["response"]["success"] is True
    logs = out["logs"]["logs"]
    # Docker reads stdout and stderr through separate pipes, so the order across the two
    # streams is the order they arrived in (as in OpenWhisk); within a stream it is kept.
    assert all(re.fullmatch(r"\S+Z\s+std(out|err): .*", line) for line in logs), logs
    assert sorted(line.split(None, 1)[1] for line in logs) == ["stderr: oops", "stdout: hello 2"]
    assert out["result"]["result"] == {"n": 2}
    assert out["result"]["success"] is True and out["result"]["status"] == "success"


def test_missing_activation_is_404(ow: NodeClient) -> None:
    err = ow.rejects("return ow.activations.get('0' + 'f'.repeat(31))")
    assert err.status == 404
    assert err.body["error"] == "The requested resource does not exist."


def test_namespaces(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name, action: 'const main = p => p'})
        const listed = await ow.namespaces.list()
        const everything = await ow.namespaces.get()
        return {listed, everything}
    """, name=name)
    assert out["listed"] == ["guest"]
    everything = out["everything"]
    assert set(everything) == {"actions", "packages", "triggers", "rules"}
    assert name in [a["name"] for a in everything["actions"]]
    assert all(isinstance(v, list) for v in everything.values())
