"""wsk's tables, durations and summaries, character for character."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from pwsk.cli import output as O


def _action(ns: str, name: str, kind: str = "python:3.11") -> dict[str, Any]:
    return {"namespace": ns, "name": name, "annotations": [{"key": "exec", "value": kind}]}


def test_action_table_matches_wsk_layout() -> None:
    lines = O.entity_table("actions", [_action("guest", "hello", "nodejs:20")])
    assert lines == ["actions", "/guest/hello" + " " * 58 + " private nodejs:20"]
    assert len(lines[1].split(" private")[0]) == 70


def test_empty_tables_print_only_the_header() -> None:
    for collection in ("actions", "triggers", "rules", "packages"):
        assert O.entity_table(collection, []) == [collection]


def test_rule_package_trigger_rows() -> None:
    rule = {"namespace": "guest", "name": "r", "status": "active"}
    assert O.entity_table("rules", [rule])[1] == f"{'/guest/r':<70} {'private':<20} active"
    shared = {"namespace": "guest", "name": "p", "publish": True}
    assert O.entity_table("packages", [shared])[1] == f"{'/guest/p':<70} shared"
    assert O.entity_table("triggers", [{"namespace": "g", "name": "t"}])[1].endswith(" private")


def test_name_sort_puts_packaged_actions_last() -> None:
    actions = [_action("g/pkg", "a"), _action("g", "zeta"), _action("g", "alpha")]
    names = [line.split()[0] for line in O.entity_table("actions", actions, name_sort=True)[1:]]
    assert names == ["/g/alpha", "/g/zeta", "/g/pkg/a"]
    unsorted = [line.split()[0] for line in O.entity_table("actions", actions)[1:]]
    assert unsorted == ["/g/pkg/a", "/g/zeta", "/g/alpha"]


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (7, "7ms"),
        (999, "999ms"),
        (1000, "1s"),
        (1500, "1.5s"),
        (1234, "1.234s"),
        (60_000, "1m0s"),
        (61_500, "1m1.5s"),
        (3_600_000, "1h0m0s"),
        (-5, "-5ms"),
    ],
)
def test_go_durations(ms: int, text: str) -> None:
    assert O.go_duration(ms) == text


def test_truncate_middle_like_wsk() -> None:
    assert O.truncate_middle("short", 20) == "short"
    assert O.truncate_middle("abcdefghij", 6) == "abc..."  # wsk keeps no tail here
    assert O.truncate_middle("abcdefghijklmnopqrstuvwxyz", 11) == "abcdef...yz"
    assert len(O.truncate_middle("x" * 100, 30)) == 30


def test_activation_table() -> None:
    start = int(time.time() * 1000)
    cold = {
        "activationId": "a" * 32,
        "namespace": "guest",
        "name": "hello",
        "version": "0.0.1",
        "start": start,
        "end": start + 1500,
        "duration": 1500,
        "statusCode": 0,
        "annotations": [{"key": "kind", "value": "python:3.11"}, {"key": "initTime", "value": 9}],
    }
    failed = {
        "activationId": "b" * 32,
        "namespace": "guest",
        "name": "hello",
        "version": "0.0.1",
        "start": start,
        "end": start + 20,
        "duration": 20,
        "response": {"status": "application error"},
        "annotations": [{"key": "kind", "value": "python:3.11"}],
    }
    trigger = {
        "activationId": "c" * 32,
        "namespace": "guest",
        "name": "tick",
        "version": "0.0.1",
        "start": start,
        "annotations": [],
    }
    lines = O.activation_table([cold, failed, trigger])
    when = datetime.fromtimestamp(start / 1000).strftime("%Y-%m-%d %H:%M:%S")
    assert lines[0] == (
        "Datetime            Activation ID                    Kind        Start Duration   "
        "Status            Entity"
    )
    assert lines[1] == (
        f"{when} {'a' * 32} python:3.11 cold  1.5s       success           guest/hello:0.0.1"
    )
    assert lines[2] == (
        f"{when} {'b' * 32} python:3.11 warm  20ms       application error guest/hello:0.0.1"
    )
    assert lines[3] == (
        f"{when} {'c' * 32} unknown     warm  0s         success           guest/tick:0.0.1"
    )


def test_status_codes_from_any_record_shape() -> None:
    assert O.status_code({"statusCode": 2}) == 2
    assert O.status_code({"response": {"statusCode": 3}}) == 3
    assert O.status_code({"response": {"status": "action developer error"}}) == 2
    assert O.status_code({}) == 0


def test_strip_timestamp() -> None:
    assert O.strip_timestamp("2024-05-01T10:00:00.123456789Z  stdout: hello there") == (
        "hello there"
    )
    assert O.strip_timestamp("2024-05-01T10:00:00.1Z stderr: oops") == "oops"
    assert O.strip_timestamp("no stamp here") == "no stamp here"


def test_action_summary() -> None:
    action = {
        "namespace": "guest",
        "name": "hello",
        "parameters": [{"key": "b", "value": 1}, {"key": "a", "value": 2}],
        "annotations": [{"key": "parameters", "value": [{"name": "c"}]}],
    }
    assert O.entity_summary("action", "/guest/hello", action) == [
        "action /guest/hello: Returns a result based on parameters a, b and c",
        "   (parameters: *a, *b, c)",
    ]
    final = {
        **action,
        "annotations": [
            {"key": "final", "value": True},
            {"key": "description", "value": "Says hi"},
        ],
    }
    assert O.entity_summary("action", "/guest/hello", final) == [
        "action /guest/hello: Says hi",
        "   (parameters: **a, **b)",
    ]
    assert O.entity_summary("trigger", "/g/t", {}) == [
        "trigger /g/t",
        "   (parameters: none defined)",
    ]


def test_package_summary_lists_actions_and_feeds() -> None:
    package = {
        "namespace": "guest",
        "name": "tools",
        "actions": [{"name": "greet"}],
        "feeds": [{"name": "changes"}],
    }
    assert O.package_summary(package) == [
        "package /guest/tools",
        "   (parameters: none defined)",
        " action /guest/tools/greet",
        "   (parameters: none defined)",
        " feed   /guest/tools/changes",
        "   (parameters: none defined)",
    ]


def _api(base: str, title: str, **paths: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": {
            "gwApiUrl": f"http://h/gw/guest{base}/",
            "apidoc": {"basePath": base, "info": {"title": title}, "paths": paths},
        }
    }


def _op(action: str) -> dict[str, Any]:
    return {"x-openwhisk": {"namespace": "guest", "action": action, "package": ""}}


def test_api_rows_follow_swagger_and_filters() -> None:
    apis = [_api("/b", "B", **{"/x": {"post": _op("p"), "get": _op("g")}, "/y": {"get": {}}})]
    rows = O.api_rows(apis)
    # Operations in wsk's order (get before post); an operation without x-openwhisk has no action.
    assert [(r.rel_path, r.verb, r.action) for r in rows] == [
        ("/x", "get", "/guest/g"),
        ("/x", "post", "/guest/p"),
        ("/y", "get", ""),
    ]
    assert rows[0].url == "http://h/gw/guest/b/x"
    assert [r.verb for r in O.api_rows(apis, "/x", "POST")] == ["post"]


def test_api_table_truncates_long_names() -> None:
    long_action = "/guest/" + "a" * 60
    apis = [_api("/b", "N" * 50, **{"/x": {"get": _op("a" * 60)}})]
    header, row = O.api_table(O.api_rows(apis))
    assert header == f"{'Action':<40} {'Verb':>7} {'API Name':>31}  URL"
    assert row == f"{long_action[:40]} {'get':>7} {'N' * 30:>31}  http://h/gw/guest/b/x"
