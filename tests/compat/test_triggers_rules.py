"""``ow.triggers`` and ``ow.rules``: CRUD, fire, enable/disable, and fire reaching the action."""

from __future__ import annotations

from tests.compat.conftest import NodeClient

ECHO = "function main(p) { return p }"


def test_trigger_crud(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        const created = await ow.triggers.create({
            name: A.name, trigger: {parameters: [{key: 'a', value: 1}]},
            annotations: {description: 'd'}})
        const got = await ow.triggers.get(A.name)
        const updated = await ow.triggers.update({triggerName: A.name, trigger: {publish: true}})
        const listed = await ow.triggers.list({limit: 200})
        const count = await ow.triggers.list({count: true})
        const deleted = await ow.triggers.delete(A.name)
        return {created, got, updated, listed: listed.map(t => t.name), count, deleted}
    """, name=name)
    created = out["created"]
    assert created["name"] == name and created["namespace"] == "guest"
    assert created["parameters"] == [{"key": "a", "value": 1}]
    assert {"key": "description", "value": "d"} in created["annotations"]
    assert out["got"]["parameters"] == created["parameters"]
    assert out["updated"]["publish"] is True and out["updated"]["version"] == "0.0.2"
    assert out["updated"]["parameters"] == created["parameters"]
    assert name in out["listed"] and out["count"]["triggers"] >= 1
    assert out["deleted"]["name"] == name


def test_create_twice_is_409(ow: NodeClient, name: str) -> None:
    err = ow.rejects("""
        await ow.triggers.create({name: A.name})
        return ow.triggers.create({name: A.name})
    """, name=name)
    assert err.status == 409 and err.body["error"] == "resource already exists"


def test_fire_without_rules(ow: NodeClient, name: str) -> None:
    # 204 No Content: the client resolves with needle's empty body, an empty Buffer.
    empty = ow.run("""
        await ow.triggers.create({name: A.name})
        const fired = await ow.triggers.invoke({name: A.name, params: {x: 1}})
        return Buffer.isBuffer(fired) && fired.length === 0
    """, name=name)
    assert empty is True


def test_rule_lifecycle(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name + '-a', action: A.code})
        await ow.triggers.create({name: A.name + '-t'})
        const created = await ow.rules.create({
            name: A.name + '-r', action: A.name + '-a', trigger: A.name + '-t'})
        const got = await ow.rules.get(A.name + '-r')
        const trigger = await ow.triggers.get(A.name + '-t')
        await ow.rules.disable({name: A.name + '-r'})
        const disabled = await ow.rules.get({ruleName: A.name + '-r'})
        await ow.rules.enable({name: A.name + '-r'})
        const enabled = await ow.rules.get(A.name + '-r')
        const listed = await ow.rules.list({limit: 200})
        const count = await ow.rules.list({count: true})
        const deleted = await ow.rules.delete(A.name + '-r')
        const after = await ow.triggers.get(A.name + '-t')
        return {created, got, trigger, disabled, enabled, listed, count, deleted, after}
    """, name=name, code=ECHO)
    created = out["created"]
    assert created["name"] == f"{name}-r" and created["status"] == "active"
    assert created["trigger"] == {"path": "guest", "name": f"{name}-t"}
    assert created["action"] == {"path": "guest", "name": f"{name}-a"}
    assert out["got"]["status"] == "active"
    assert out["trigger"]["rules"][f"guest/{name}-r"]["status"] == "active"
    assert out["disabled"]["status"] == "inactive"
    assert out["enabled"]["status"] == "active"
    mine = [r for r in out["listed"] if r["name"] == f"{name}-r"]
    assert len(mine) == 1
    assert out["count"]["rules"] >= 1
    assert out["deleted"]["name"] == f"{name}-r"
    assert f"guest/{name}-r" not in (out["after"].get("rules") or {})


def test_rule_to_a_missing_trigger_is_rejected(ow: NodeClient, name: str) -> None:
    err = ow.rejects("""
        await ow.actions.create({name: A.name, action: A.code})
        return ow.rules.create({name: A.name + '-r', action: A.name, trigger: A.name + '-t'})
    """, name=name, code=ECHO)
    assert err.status == 400
    assert err.body["error"] == f"trigger /guest/{name}-t does not exist"


def test_fire_runs_the_rule_action(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name + '-a', action: A.code})
        await ow.triggers.create({
            name: A.name + '-t', trigger: {parameters: [{key: 'from', value: 'trigger'}]}})
        await ow.rules.create({name: A.name + '-r', action: A.name + '-a', trigger: A.name + '-t'})
        const fired = await ow.triggers.invoke({name: A.name + '-t', params: {x: 1}})
        const triggerRecord = await H.poll(async () => {
            const rec = await ow.activations.get(fired.activationId)
            return rec.logs.length ? rec : null
        })
        const entry = JSON.parse(triggerRecord.logs[0])
        const actionRecord = await H.poll(() => ow.activations.get(entry.activationId))
        return {fired, triggerRecord, entry, actionRecord}
    """, name=name, code=ECHO)
    assert len(out["fired"]["activationId"]) == 32
    trigger_record = out["triggerRecord"]
    assert trigger_record["name"] == f"{name}-t"
    assert trigger_record["response"]["result"] == {"x": 1}
    entry = out["entry"]
    assert entry["success"] is True and entry["statusCode"] == 0
    assert entry["rule"] == f"guest/{name}-r" and entry["action"] == f"guest/{name}-a"
    result = out["actionRecord"]["response"]["result"]
    assert result["from"] == "trigger" and result["x"] == 1


def test_disabled_rule_does_not_fire(ow: NodeClient, name: str) -> None:
    no_content = ow.run("""
        await ow.actions.create({name: A.name + '-a', action: A.code})
        await ow.triggers.create({name: A.name + '-t'})
        await ow.rules.create({name: A.name + '-r', action: A.name + '-a', trigger: A.name + '-t'})
        await ow.rules.disable({name: A.name + '-r'})
        const fired = await ow.triggers.invoke({name: A.name + '-t'})
        return Buffer.isBuffer(fired) && fired.length === 0
    """, name=name, code=ECHO)
    assert no_content is True
