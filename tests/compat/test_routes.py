"""``ow.routes``: API gateway routes to web actions.

The client manages routes through web actions: ``POST web/whisk.system/apimgmt/createApi``
with ``{apidoc}``, ``GET .../getApi?basepath=…`` and ``DELETE .../deleteApi?basepath=…&force=
true`` (no ``.http`` extension: a web action URL without one means ``.http``). ``create``
resolves to the created API (``{namespace, gwApiActivated, tenantId, gwApiUrl, apidoc}``);
``get`` and ``list`` to ``{apis: [{id, key, value: <that>}]}``.
"""

from __future__ import annotations

from tests.compat.conftest import NodeClient

HELLO = "function main(p) { return {greeting: 'Hello ' + (p.name || 'world'), id: p.id} }"


def test_route_lifecycle(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        const basepath = '/' + A.name
        await ow.actions.create({name: A.name, action: A.code, annotations: {'web-export': true}})
        const created = await ow.routes.create({
            basepath, relpath: '/hello', operation: 'GET', action: A.name})
        const called = await fetch(created.gwApiUrl + '/hello?name=gw')
        const body = await called.json()
        const got = await ow.routes.get({basepath})
        const listed = await ow.routes.list()
        const filtered = await ow.routes.list({basepath, relpath: '/hello', operation: 'GET'})
        const deleted = await ow.routes.delete({basepath})
        const after = await ow.routes.get({basepath})
        return {created, status: called.status, body, got, listed, filtered, deleted, after}
    """, name=name, code=HELLO)
    created = out["created"]
    assert created["gwApiActivated"] is True
    assert created["gwApiUrl"].endswith(f"/{name}")
    assert set(created["apidoc"]["paths"]["/hello"]) == {"get"}
    assert created["apidoc"]["basePath"] == f"/{name}"
    assert out["status"] == 200 and out["body"]["greeting"] == "Hello gw"
    [api] = out["got"]["apis"]
    assert api["value"]["gwApiUrl"] == created["gwApiUrl"]
    assert "/hello" in api["value"]["apidoc"]["paths"]
    assert f"/{name}" in [a["value"]["apidoc"]["basePath"] for a in out["listed"]["apis"]]
    assert len(out["filtered"]["apis"]) == 1
    assert out["after"]["apis"] == []


def test_route_with_path_parameter(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        const basepath = '/' + A.name
        await ow.actions.create({name: A.name, action: A.code, annotations: {'web-export': true}})
        const created = await ow.routes.create({
            basepath, relpath: '/books/{id}', operation: 'GET', action: A.name,
            name: 'library', responsetype: 'json'})
        const called = await fetch(created.gwApiUrl + '/books/42')
        const body = await called.json()
        await ow.routes.delete({basepath, relpath: '/books/{id}', operation: 'GET'})
        return {created, status: called.status, body}
    """, name=name, code=HELLO)
    assert "/books/{id}" in out["created"]["apidoc"]["paths"]
    assert out["status"] == 200 and out["body"] == {"greeting": "Hello world", "id": "42"}


def test_route_to_a_non_web_action_is_rejected(ow: NodeClient, name: str) -> None:
    err = ow.rejects("""
        await ow.actions.create({name: A.name, action: A.code})
        return ow.routes.create({
            basepath: '/' + A.name, relpath: '/x', operation: 'GET', action: A.name})
    """, name=name, code=HELLO)
    assert err.status == 400
    assert "is not a web action" in err.body["error"]
