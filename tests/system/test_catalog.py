"""Installing system packages: idempotent, versions bumped only by real changes; and the
action modules called directly, as plain functions."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from pwsk.store import WHISKS, EntityQuery
from pwsk.store.sqlite import SqliteStore
from pwsk.system import catalog, feeds, utils
from pwsk.system.feeds import alarm as feed
from pwsk.system.utils import cat, date, echo, head, hosturl, namespace, smash, sort, split


def run(test: Callable[[SqliteStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = SqliteStore(None)
        await store.start()
        try:
            await test(store)
        finally:
            await store.stop()

    asyncio.run(main())


def test_install_creates_then_changes_nothing_then_bumps_only_what_changed() -> None:
    async def check(store: SqliteStore) -> None:
        spec = utils.package()
        created = await catalog.install(store, spec)
        assert created[0] == "whisk.system/utils" and len(created) == 1 + len(spec.actions)
        pkg = await store.get(WHISKS, "whisk.system/utils")
        assert pkg is not None and pkg["publish"] is True and pkg["version"] == "0.0.1"
        echo_doc = await store.get(WHISKS, "whisk.system/utils/echo")
        assert echo_doc is not None and echo_doc["exec"]["kind"] == "python:3.11"
        assert "def main(" in echo_doc["exec"]["code"]
        assert await catalog.install(store, utils.package()) == []  # a restart: no change
        assert (await store.get(WHISKS, "whisk.system/utils/echo"))["_rev"] == echo_doc["_rev"]  # type: ignore[index]

        changed = replace(spec, actions=tuple(
            replace(a, code=a.code + "\n# v2\n") if a.name == "sort" else a
            for a in spec.actions))
        assert await catalog.install(store, changed) == ["whisk.system/utils/sort"]
        assert (await store.get(WHISKS, "whisk.system/utils/sort"))["version"] == "0.0.2"  # type: ignore[index]
        assert (await store.get(WHISKS, "whisk.system/utils"))["version"] == "0.0.1"  # type: ignore[index]
        listed = await store.list_entities(EntityQuery("action", "whisk.system/utils", True,
                                                       limit=100))
        assert {d["name"] for d in listed} == {a.name for a in spec.actions}

    run(check)


def test_a_name_taken_by_another_kind_of_entity_is_left_alone() -> None:
    async def check(store: SqliteStore) -> None:
        await store.put(WHISKS, {"_id": "whisk.system/utils", "entityType": "trigger",
                                 "namespace": "whisk.system", "name": "utils"})
        with pytest.raises(catalog.CatalogError, match="belongs to a trigger"):
            await catalog.install(store, utils.package())
        assert (await store.get(WHISKS, "whisk.system/utils"))["entityType"] == "trigger"  # type: ignore[index]

    run(check)


def test_alarms_package_declares_three_feeds_around_the_provider_address() -> None:
    spec = feeds.package("http://127.0.0.1:1234")
    assert spec.publish and spec.parameters == [{"key": "package_endpoint",
                                                 "value": "http://127.0.0.1:1234"}]
    assert [(a.name, a.main) for a in spec.actions] == [
        ("alarm", "alarm"), ("interval", "interval"), ("once", "once")]
    for action in spec.actions:
        annotations = {a["key"]: a["value"] for a in action.annotations}
        assert annotations["feed"] is True and annotations["final"] is True
        assert annotations["description"] and annotations["parameters"]


def test_every_utils_action_has_the_catalog_documentation() -> None:
    for action in utils.package().actions:
        annotations = {a["key"]: a["value"] for a in action.annotations}
        assert annotations["description"], action.name
        assert "sampleOutput" in annotations, action.name


@pytest.mark.parametrize(("module", "params", "expected"), [
    (echo, {"payload": "Five fuzzy felines"}, {"payload": "Five fuzzy felines"}),
    (cat, {"lines": [4, 2, 3]}, {"lines": [4, 2, 3], "payload": "4\n2\n3"}),
    (cat, {"lines": ["a", None, True]}, {"lines": ["a", None, True], "payload": "a\n\ntrue"}),
    (cat, {}, {"lines": [], "payload": ""}),
    (sort, {"lines": [4, 2, 3]}, {"lines": [2, 3, 4], "length": 3}),
    (sort, {"lines": ["b", 10, "a", 9]}, {"lines": [10, 9, "a", "b"], "length": 4}),
    (split, {"payload": "one,two,three", "separator": ","},
     {"lines": ["one", "two", "three"], "payload": "one,two,three"}),
    (split, {"payload": "a\r\nb\nc"}, {"lines": ["a", "b", "c"], "payload": "a\r\nb\nc"}),
    (head, {"lines": [4, 2, 3], "num": 2}, {"lines": [4, 2], "num": 2}),
    (head, {"lines": [4, 2, 3]}, {"lines": [4], "num": 1}),
    (smash, {"a": 1, "b": {"c": 2}, "$fieldName": "p"}, {"p": {"a": 1, "b": {"c": 2}}}),
])
def test_utils_actions_called_directly(module: Any, params: dict[str, Any],
                                       expected: dict[str, Any]) -> None:
    assert module.main(params) == expected


def test_utils_actions_refuse_bad_input_with_an_error_result() -> None:
    assert "error" in cat.main({"lines": "x"})
    assert "error" in sort.main({"lines": 3})
    assert "error" in head.main({"lines": [1], "num": "two"})
    assert "error" in smash.main({"a": 1})


def test_utils_actions_read_the_action_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("__OW_NAMESPACE", "guest")
    monkeypatch.setenv("__OW_API_HOST", "http://h:1")
    assert namespace.main({}) == {"namespace": "guest"}
    assert hosturl.main({"path": "pkg/a"}) == {"url": "http://h:1/api/v1/namespaces/guest/actions/pkg/a"}
    assert hosturl.main({"path": "a", "web": True}) == {"url": "http://h:1/api/v1/web/guest/default/a.json"}
    assert hosturl.main({"path": "t", "trigger": True}) == {"url": "http://h:1/api/v1/namespaces/guest/triggers/t"}
    assert "error" in hosturl.main({"path": "p/t", "trigger": True})
    assert "error" in hosturl.main({"path": "a", "web": True, "ext": ".xml"})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", date.main({})["date"])


def test_feed_action_checks_its_inputs_and_reports_an_unreachable_provider() -> None:
    base = {"triggerName": "/guest/t", "authKey": "u:k", "package_endpoint": "http://h"}
    assert feed.alarm({**base, "package_endpoint": None})["error"].startswith(
        "the alarms package has no package_endpoint")
    assert feed.alarm({**base, "authKey": "nokey"}) == {
        "error": "no authKey parameter was provided"}
    assert feed.once({**base, "triggerName": ""}) == {
        "error": "no trigger name parameter was provided"}
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    refused = feed.interval({**base, "package_endpoint": "http://127.0.0.1:9"})
    assert refused["error"].startswith("the alarms provider is unreachable")
