"""``ow.packages``: packages and bindings, actions inside them, invoking through a binding."""

from __future__ import annotations

from tests.compat.conftest import NodeClient
from tests.servers import Server

ECHO = "function main(p) { return p }"


def test_package_crud_with_an_action(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        const created = await ow.packages.create({
            name: A.name, package: {parameters: [{key: 'p', value: 1}]},
            annotations: {description: 'pkg'}})
        await ow.actions.create({name: A.name + '/echo', action: A.code})
        const got = await ow.packages.get(A.name)
        const updated = await ow.packages.update({
            packageName: A.name, package: {parameters: [{key: 'p', value: 2}]}})
        const listed = await ow.packages.list({limit: 200})
        const count = await ow.packages.list({count: true})
        const result = await ow.actions.invoke({
            name: A.name + '/echo', blocking: true, result: true, params: {x: 1}})
        const full = await ow.actions.invoke({
            name: '/guest/' + A.name + '/echo', blocking: true, result: true})
        const notEmpty = await ow.packages.delete(A.name).catch(e => e)
        await ow.actions.delete(A.name + '/echo')
        const deleted = await ow.packages.delete(A.name)
        return {created, got, updated, listed, count, result, full,
                notEmpty: {statusCode: notEmpty.statusCode, error: notEmpty.error}, deleted}
    """, name=name, code=ECHO)
    created = out["created"]
    assert created["name"] == name and created["binding"] == {}
    assert {"key": "description", "value": "pkg"} in created["annotations"]
    assert [a["name"] for a in out["got"]["actions"]] == ["echo"]
    assert out["updated"]["parameters"] == [{"key": "p", "value": 2}]
    assert out["updated"]["version"] == "0.0.2"
    assert [p["binding"] for p in out["listed"] if p["name"] == name] == [False]
    assert out["count"]["packages"] >= 1
    assert out["result"] == {"p": 2, "x": 1}
    assert out["full"] == {"p": 2}
    assert out["notEmpty"]["statusCode"] == 409
    assert out["notEmpty"]["error"]["error"].startswith("Package not empty (contains 1 entities)")
    assert out["deleted"]["name"] == name


def test_binding_merges_parameters(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.packages.create({name: A.name, package: {
            parameters: [{key: 'a', value: 'pkg'}, {key: 'b', value: 'pkg'}]}})
        await ow.actions.create({name: A.name + '/echo', action: A.code})
        const binding = await ow.packages.create({name: A.name + '-bind', package: {
            binding: {namespace: '_', name: A.name}, parameters: [{key: 'b', value: 'bind'}]}})
        const got = await ow.packages.get(A.name + '-bind')
        const listed = await ow.packages.list({limit: 200})
        const viaBinding = await ow.actions.invoke({
            name: A.name + '-bind/echo', blocking: true, result: true, params: {c: 'payload'}})
        const record = await ow.actions.invoke({name: A.name + '-bind/echo', blocking: true})
        const deleted = await ow.packages.delete(A.name + '-bind')
        return {binding, got, listed, viaBinding, record, deleted}
    """, name=name, code=ECHO)
    assert out["binding"]["binding"] == {"namespace": "guest", "name": name}
    assert [a["name"] for a in out["got"]["actions"]] == ["echo"]
    listed = {p["name"]: p["binding"] for p in out["listed"]}
    assert listed[f"{name}-bind"] == {"namespace": "guest", "name": name}
    assert out["viaBinding"] == {"a": "pkg", "b": "bind", "c": "payload"}
    assert {"key": "binding", "value": f"guest/{name}-bind"} in out["record"]["annotations"]
    assert out["deleted"]["name"] == f"{name}-bind"


def test_binding_to_a_missing_package_is_400(ow: NodeClient, name: str) -> None:
    err = ow.rejects("""
        return ow.packages.create({name: A.name, package: {
            binding: {namespace: '_', name: A.name + '-none'}}})
    """, name=name)
    assert err.status == 400
    assert err.body["error"] == "Binding references a package that does not exist."


def test_shared_package_from_another_namespace(ow: NodeClient, server: Server,
                                               name: str) -> None:
    system = ow.with_options(api_key=server.system_auth)
    system.run("""
        await ow.packages.create({name: A.name, package: {publish: true,
                                                          parameters: [{key: 'a', value: 1}]}})
        return ow.actions.create({name: A.name + '/echo', action: A.code})
    """, name=name, code=ECHO)
    out = ow.run("""
        const shared = await ow.packages.list({namespace: 'whisk.system', public: true})
        const got = await ow.packages.get('/whisk.system/' + A.name)
        const direct = await ow.actions.invoke({
            name: '/whisk.system/' + A.name + '/echo', blocking: true, result: true,
            params: {b: 2}})
        await ow.packages.create({name: A.name + '-bind', package: {
            binding: {namespace: 'whisk.system', name: A.name}}})
        const viaBinding = await ow.actions.invoke({
            name: A.name + '-bind/echo', blocking: true, result: true})
        const denied = await ow.actions.create({
            name: '/whisk.system/' + A.name + '/mine', action: A.code}).catch(e => e.statusCode)
        return {shared: shared.map(p => p.name), got, direct, viaBinding, denied}
    """, name=name, code=ECHO)
    assert name in out["shared"]
    assert out["got"]["publish"] is True
    assert [a["name"] for a in out["got"]["actions"]] == ["echo"]
    assert out["direct"] == {"a": 1, "b": 2}
    assert out["viaBinding"] == {"a": 1}
    assert out["denied"] == 403
