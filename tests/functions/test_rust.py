"""The Rust native brewery actions (``functions/rust``): the same results as the Python ones.

The binaries are built by ``scripts/lib/rust.sh`` (cached; ``scripts/test`` builds them up
front). They are run twice: directly, as the blackbox runtime would (JSON in argv[1], the last
stdout line is the result), side by side with the Python ``main`` on the same readings; and
through the platform, deployed as native (blackbox) actions.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from functions.brewery import check_threshold, save_measurement
from functions.brewery.common import Db
from tests.functions.test_brewery_direct import db, reading
from tests.relay import reachable
from tests.servers import Server

__all__ = ["db"]  # the fixture, shared with the direct tests

ROOT = Path(__file__).resolve().parents[2]
NS = "/api/v1/namespaces/_"
ACTIONS = ("check-threshold", "save-measurement")
PYTHON = {"check-threshold": check_threshold.main, "save-measurement": save_measurement.main}

# A cold build (crates download and compile) takes a minute or two on a small CI machine.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="session")
def rust_zips() -> dict[str, Path]:
    """The action zips, built (or found up to date) by scripts/lib/rust.sh."""
    if shutil.which("cargo") is None:
        pytest.fail("cargo is required to build functions/rust: install Rust (https://rustup.rs)")
    done = subprocess.run(["bash", "-c", 'source "$0" && pwsk_rust',
                           str(ROOT / "scripts" / "lib" / "rust.sh")],
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, f"scripts/lib/rust.sh failed:\n{done.stderr}"
    paths = {Path(line).stem: Path(line) for line in done.stdout.split()}
    assert set(paths) == set(ACTIONS), done.stdout
    return paths


@pytest.fixture(scope="session")
def rust_bins(rust_zips: dict[str, Path],
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each zip's ``exec``, extracted as the runtime does."""
    out = {}
    for action, path in rust_zips.items():
        target = tmp_path_factory.mktemp(action)
        with zipfile.ZipFile(path) as zf:
            assert zf.namelist() == ["exec"]
            assert zf.getinfo("exec").external_attr >> 16 & 0o777 == 0o755
            zf.extractall(target)
        exe = target / "exec"
        exe.chmod(0o755)
        out[action] = exe
    return out


def run_native(exe: Path, args: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    """Run a binary the way the blackbox runtime does; its result is the last stdout line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("__OW_")}
    done = subprocess.run([str(exe), json.dumps(args)], input=json.dumps(args),
                          capture_output=True, text=True, timeout=60, env={**clean, **(env or {})})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_same(python: dict[str, Any], rust: dict[str, Any], step: str) -> None:
    for key in python.keys() | rust.keys():
        assert key in python and key in rust, f"{step}: {key!r} only on one side: {python} {rust}"
        assert rust[key] == python[key], f"{step}: {key}: {rust[key]!r} != {python[key]!r}"
        assert type(rust[key]) is type(python[key]), f"{step}: {key}: types differ"


INVALID = [
    {"tank": "vat"},
    {"tank": None},
    {"tank": ["mash"]},
    {"sensor": "smell"},
    {"sensor": 3},
    {"value": "hot"},
    {"value": True},
    {"value": None},
    {"value": {"c": 1, "b": [1.5, "it's"]}},
    {"unit": "F"},
    {"unit": None},
    {"timestamp": -1},
    {"timestamp": 1.5},
    {"timestamp": "now"},
]

# One alarm episode, a clear, a second alarm, a stale reading, readings without a maximum.
EPISODE = [65, 66.9, 67.5, 68, 67.2, 66.6, 66.4, 66, 67.1, 68.123456789]


def sequence() -> list[tuple[str, dict[str, Any]]]:
    steps: list[tuple[str, dict[str, Any]]] = []
    for bad in INVALID:
        steps += [(action, {**reading(65, 1), **bad}) for action in ACTIONS]
    steps.append(("check-threshold",
                  {key: value for key, value in reading(65, 1).items() if key != "unit"}))
    for i, value in enumerate(EPISODE):
        steps += [(action, reading(value, 1000 + i)) for action in ACTIONS]
    # Late, but within the window: an episode that began and ended before the others.
    steps.append(("check-threshold", reading(70, 500)))
    steps.append(("check-threshold", reading(60, 2_000_000)))
    steps.append(("check-threshold", reading(70, 1010)))  # ten minutes older than that: stale
    steps.append(("save-measurement", reading(65, 1000)))  # a duplicate
    steps.append(("check-threshold", reading(1, 2000, tank="boil", sensor="valve")))
    steps.append(("check-threshold", reading(96.5, 2001, tank="boil", sensor="level")))
    steps.append(("check-threshold", reading(60, 3000, tank="boil",
                                             thresholds={"boil:temperature": 59, "x": "y"})))
    steps.append(("check-threshold", reading(1234567.5, 3001, tank="boil")))
    return steps


def test_rust_and_python_give_the_same_results(rust_bins: dict[str, Path],
                                               db: dict[str, Any]) -> None:
    py_db = {**db, "db_name": db["db_name"] + "_py"}
    rs_db = {**db, "db_name": db["db_name"] + "_rs"}
    events = []
    for step, (action, args) in enumerate(sequence()):
        python = PYTHON[action]({**args, **py_db})
        rust = run_native(rust_bins[action], {**args, **rs_db})
        assert_same(python, rust, f"step {step} {action}({args})")
        if action == "check-threshold" and "event" in rust:
            events.append(rust["event"])
    assert events == ["none",  # no unit: the sensor's own
                      "none", "none", "alarm", "none", "none", "none", "clear", "none", "alarm",
                      "none", "clear", "clear", "stale",
                      "none", "alarm", "alarm", "none"]  # valve, level, thresholds, boil
    # Both sides left the same documents behind.
    py_store = Db(py_db["db_url"], py_db["db_name"], py_db["db_auth"])
    rs_store = Db(rs_db["db_url"], rs_db["db_name"], rs_db["db_auth"])
    for doc_id in ["alarm:mash:temperature", "alarm:boil:level",
                   "reading:mash:temperature:0000000001009"]:
        py_doc, rs_doc = py_store.get(doc_id), rs_store.get(doc_id)
        assert py_doc is not None and rs_doc is not None, doc_id
        assert_same({k: v for k, v in py_doc.items() if k != "_rev"},
                    {k: v for k, v in rs_doc.items() if k != "_rev"}, doc_id)


def test_rust_shares_the_python_database(rust_bins: dict[str, Path],
                                         db: dict[str, Any]) -> None:
    # The alarm Python raised is the state Rust sees, and the other way round.
    assert check_threshold.main(reading(68, 1, **db))["event"] == "alarm"
    assert run_native(rust_bins["check-threshold"], reading(69, 2, **db))["event"] == "none"
    assert run_native(rust_bins["check-threshold"], reading(60, 3, **db))["event"] == "clear"
    assert check_threshold.main(reading(62, 4, **db))["event"] == "none"
    assert save_measurement.main(reading(60, 3, **db))["duplicate"] is False
    assert run_native(rust_bins["save-measurement"], reading(60, 3, **db))["duplicate"] is True


def test_database_settings_from_the_environment(rust_bins: dict[str, Path],
                                                db: dict[str, Any]) -> None:
    # Without db_auth the action's API key is the credential; without db_url (embedded store
    # only) the API host's /couch/_ is the database.
    env = {"__OW_API_KEY": db["db_auth"]}
    args = reading(60, 1, db_name=db["db_name"], db_url=db["db_url"])
    if db["db_url"].endswith("/couch/_"):
        env["__OW_API_HOST"] = db["db_url"].removesuffix("/couch/_")
        del args["db_url"]
    out = run_native(rust_bins["save-measurement"], args, env)
    assert out["stored"] == "reading:mash:temperature:0000000000001", out
    doc = Db(db["db_url"], db["db_name"], db["db_auth"]).get(out["stored"])
    assert doc is not None and doc["value"] == 60.0 and doc["type"] == "reading"


def test_the_api_key_goes_only_to_the_embedded_store(rust_bins: dict[str, Path],
                                                     db: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # With db_url given, only db_auth is a credential: a key in the environment is the
    # platform's and must not reach another server (CouchDB refuses an unknown user).
    env = {"__OW_API_KEY": "not:yours"}
    monkeypatch.setenv("__OW_API_KEY", "not:yours")
    for i, run in enumerate((lambda a: save_measurement.main(a),
                             lambda a: run_native(rust_bins["save-measurement"], a, env))):
        out = run(reading(61, 10 + i, **db))
        assert out.get("stored") == f"reading:mash:temperature:{10 + i:013d}", out


@pytest.fixture
def action_db(server: Server, db: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The database as actions reach it. In Docker (distributed), loopback is the container's
    own: a relay on the server's bridge address forwards to a store bound to loopback."""
    with reachable(db["db_url"], urlsplit(server.url).hostname or "127.0.0.1") as url:
        yield {**db, "db_url": url}


def test_native_actions_on_the_platform(api: httpx.Client, rust_zips: dict[str, Path],
                                        db: dict[str, Any], action_db: dict[str, Any],
                                        name: str) -> None:
    for action, path in rust_zips.items():
        code = base64.b64encode(path.read_bytes()).decode()
        r = api.put(f"{NS}/actions/{name}-{action}", json={
            "exec": {"kind": "blackbox", "image": "openwhisk/dockerskeleton", "code": code},
            "parameters": [{"key": k, "value": v} for k, v in action_db.items()],
            # CouchDB without auth must not get the API key as a credential (db_auth default).
            "annotations": [{"key": "provide-api-key", "value": bool(db["db_auth"])}]})
        assert r.status_code == 200, r.text
    try:
        saved = api.post(f"{NS}/actions/{name}-save-measurement",
                         params={"blocking": "true", "result": "true"},
                         json=reading(64.25, 1_700_000_000_000, tank="boil"))
        assert saved.status_code == 200, saved.text
        assert saved.json()["stored"] == "reading:boil:temperature:1700000000000"
        doc = Db(db["db_url"], db["db_name"], db["db_auth"]).get(saved.json()["stored"])
        assert doc is not None
        assert {k: doc[k] for k in ("type", "key", "value", "unit", "timestamp")} == {
            "type": "reading", "key": "boil:temperature", "value": 64.25, "unit": "C",
            "timestamp": 1_700_000_000_000}
        checked = api.post(f"{NS}/actions/{name}-check-threshold",
                           params={"blocking": "true", "result": "true"},
                           json=reading(103, 1_700_000_000_001, tank="boil"))
        assert checked.status_code == 200, checked.text
        assert checked.json()["message"] == (
            "ALARM: boil tank temperature is 103 C, above the maximum of 102 C.")
        bad = api.post(f"{NS}/actions/{name}-check-threshold",
                       params={"blocking": "true", "result": "true"}, json={"tank": "vat"})
        assert bad.json() == {"error": "tank must be one of mash, boil, got 'vat'"}
    finally:
        for action in ACTIONS:
            api.delete(f"{NS}/actions/{name}-{action}")
