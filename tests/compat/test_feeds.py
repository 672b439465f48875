"""``ow.feeds`` with the alarms package: ``/whisk.system/alarms/alarm``.

The client does not create the trigger: as its README shows, the caller creates it and then
``feeds.create`` invokes the feed action (blocking) with ``lifecycleEvent``, ``triggerName``
(``/_/name``), ``authKey`` (the client's key) and the feed parameters. ``get`` and ``delete``
send ``READ`` and ``DELETE``. Each resolves to the feed action's activation record.
"""

from __future__ import annotations

from tests.compat.conftest import NodeClient

ALARM = "/whisk.system/alarms/alarm"
ECHO = "function main(p) { return p }"


def test_alarm_feed_lifecycle_fires_the_trigger(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        const trigger = A.name + '-t'
        await ow.actions.create({name: A.name + '-a', action: A.code})
        await ow.triggers.create({name: trigger, annotations: {feed: A.feed}})
        await ow.rules.create({name: A.name + '-r', action: A.name + '-a', trigger})
        const created = await ow.feeds.create({name: A.feed, trigger, params: {
            cron: '* * * * * *', trigger_payload: {from: 'alarm'}}})
        const read = await ow.feeds.get({feedName: A.feed, trigger})
        const fire = await H.poll(async () => {
            const fires = await ow.activations.list({name: trigger, docs: true, limit: 1})
            return fires[0]
        }, {timeout: 15000})
        const deleted = await ow.feeds.delete({name: A.feed, trigger})
        const countAfterDelete = (await ow.activations.list({name: trigger, count: true}))
        await H.sleep(2500)
        const countLater = (await ow.activations.list({name: trigger, count: true}))
        return {created, read, fire, deleted, countAfterDelete, countLater}
    """, name=name, code=ECHO, feed=ALARM)
    created = out["created"]
    assert created["name"] == "alarm" and created["response"]["success"] is True, created
    read = out["read"]["response"]
    assert read["success"] is True, read
    assert read["result"]["config"]["cron"] == "* * * * * *"
    assert read["result"]["config"]["payload"] == {"from": "alarm"}
    assert read["result"]["status"]["active"] is True
    assert out["fire"]["name"] == f"{name}-t"
    assert out["fire"]["response"]["result"] == {"from": "alarm"}
    assert out["deleted"]["response"]["success"] is True, out["deleted"]
    # At most a fire that was already under way when the feed was deleted.
    before, later = out["countAfterDelete"]["activations"], out["countLater"]["activations"]
    assert later <= before + 1


def test_alarm_feed_for_a_missing_trigger_is_rejected(ow: NodeClient, name: str) -> None:
    err = ow.rejects("""
        return ow.feeds.create({name: A.feed, trigger: A.name, params: {cron: '* * * * *'}})
    """, name=name, feed=ALARM)
    # A failed blocking invoke: the body is the feed action's activation record.
    assert err.status == 502, (err.status, err.body)
    assert err.body["response"]["success"] is False


def test_alarm_feed_rejects_a_bad_cron(ow: NodeClient, name: str) -> None:
    err = ow.rejects("""
        await ow.triggers.create({name: A.name, annotations: {feed: A.feed}})
        return ow.feeds.create({name: A.feed, trigger: A.name, params: {cron: 'not a cron'}})
    """, name=name, feed=ALARM)
    assert err.status == 502, (err.status, err.body)
    assert err.body["response"]["success"] is False
    assert "not a cron" in err.message
