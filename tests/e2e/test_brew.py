"""A compressed brew end to end, on the deployment under test: simulator → MQTT broker →
bridge → trigger ``measurement`` → rules → the brewery's actions → store, Telegram,
``get-latest``. The rig (``tests/e2e/rig.py``) runs it once per session; these tests check
what came of it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from functions.brewery.common import HYSTERESIS
from functions.simulator import Fault, Simulator
from tests.conftest import DEPLOYMENT
from tests.e2e.rig import FAULTS, INTERVAL_S, MASH_MAX_C, SEED, Rig, doc_id
from tests.servers import ROOT

pytestmark = [pytest.mark.mqtt, pytest.mark.slow, pytest.mark.timeout(600)]


def test_every_published_reading_is_stored_once(rig: Rig) -> None:
    brew = rig.brew
    assert brew is not None
    # What came of it, for the record (artifacts/e2e/<deployment>/brew.json).
    record = {"deployment": DEPLOYMENT, "readings": len(brew.published),
              "stored": len(brew.stored), "episodes": brew.episodes(),
              "telegram": len(brew.telegram), "brew_s": round(brew.brew_s, 1),
              "settle_s": round(brew.settle_s, 1), "bridge": brew.bridge,
              "threshold_events": brew.events, "missing": brew.missing.splitlines()}
    path = Path(os.environ.get("PWSK_ARTIFACTS") or ROOT / "artifacts") / "e2e" / DEPLOYMENT
    path.mkdir(parents=True, exist_ok=True)
    (path / "brew.json").write_text(json.dumps(record, indent=2) + "\n")
    sets = list(Simulator(seed=SEED, interval=INTERVAL_S,
                          faults=[Fault.parse(f) for f in FAULTS]).steps())
    # The whole brew went out, and the broker delivered all of it.
    assert brew.skipped == 0, brew.simulator_log
    assert brew.reported == 10 * len(sets), brew.simulator_log
    assert len(brew.published) == brew.reported
    # Each reading is one document: none missing, none extra, none twice.
    wanted = sorted(doc_id(r) for r in brew.published)
    assert len(set(wanted)) == len(wanted)
    assert sorted(brew.stored) == wanted, (
        f"missing {sorted(set(wanted) - set(brew.stored))[:10]}, "
        f"extra {sorted(set(brew.stored) - set(wanted))[:10]}\n{brew.missing}\n"
        f"bridge log:\n{rig.bridge_log()}")
    # The bridge fired for every message it received and dead-lettered none.
    assert brew.bridge["received"] >= brew.reported
    assert brew.bridge["fired"] == brew.bridge["received"]
    assert brew.bridge["dead_lettered"] == 0 and brew.bridge["no_rule"] == 0


def test_one_telegram_message_per_overheat_episode(rig: Rig) -> None:
    brew = rig.brew
    assert brew is not None
    # Each injected overheat is an episode: above the maximum, then back under it.
    assert brew.episodes() == len(FAULTS), brew.series("mash", "temperature")
    episode_of: dict[float, int] = {}  # each reading above the maximum → its episode
    number, alarmed = 0, False
    for _, value in brew.series("mash", "temperature"):
        if value > MASH_MAX_C:
            number += not alarmed
            alarmed = True
            episode_of[value] = number
        elif value <= MASH_MAX_C - HYSTERESIS:
            alarmed = False
    # On failure: what check-threshold decided, in the order it ran (start, reading, value).
    texts = [m["text"] for m in brew.telegram]
    why = f"{texts}; check-threshold decided (start, reading, value, event): {brew.events}"
    sent = [(t.split(":", 1)[0], float(re.findall(r" is (?:back to )?([\d.]+) C", t)[0]))
            for t in texts]
    alarms = [value for kind, value in sent if kind == "ALARM"]
    clears = [value for kind, value in sent if kind == "OK"]
    # One alarm per episode, each with a reading of its own episode; one clear after each,
    # with a reading back under the maximum. (Fires are not ordered: the clear may name a
    # later reading than the first one under the line, when activations ran out of order.)
    assert sorted(episode_of.get(v, 0) for v in alarms) == list(range(1, len(FAULTS) + 1)), why
    assert len(clears) == len(FAULTS), why
    mash = {value for _, value in brew.series("mash", "temperature")}
    assert all(v in mash and v <= MASH_MAX_C - HYSTERESIS for v in clears), why
    assert len(texts) == 2 * len(FAULTS), why
    assert all("mash tank temperature" in t for t in texts), why
    assert all(m["chat_id"] == "42" for m in brew.telegram)


def test_get_latest_returns_the_history(rig: Rig) -> None:
    brew = rig.brew
    assert brew is not None
    body = rig.get_latest(minutes=60)
    for tank in ("mash", "boil"):
        for sensor in ("temperature", "level", "valve", "pump", "heater"):
            key, series = f"{tank}:{sensor}", brew.series(tank, sensor)
            history = [tuple(point) for point in body["history"][key]]
            # Later tests may have added readings after the brew; the brew comes first.
            assert history[:len(series)] == series, key
            assert body["latest"][key]["timestamp"] >= series[-1][0]
    assert body["thresholds"]["mash:temperature"] == MASH_MAX_C
