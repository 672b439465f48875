"""The simulated brew: believable physics, its phases, and the faults it can show."""

from __future__ import annotations

import itertools
import statistics

import pytest

from functions.brewery.common import parse_reading
from functions.simulator import SENSORS, TANKS, Fault, FaultError, Simulator, Step

PHASES = ["mash-heat", "mash-rest", "lauter", "boil-heat", "boil", "chill", "transfer", "done"]


def brew(seed: int = 1, *faults: str, interval: float = 10.0) -> list[Step]:
    return list(Simulator(seed=seed, interval=interval,
                          faults=[Fault.parse(spec) for spec in faults]).steps())


def values(steps: list[Step], tank: str, sensor: str, phase: str | None = None) -> list[float]:
    return [s.value(tank, sensor) for s in steps if phase is None or s.phase == phase]


@pytest.fixture(scope="module")
def normal() -> list[Step]:
    return brew()


def test_the_phases_come_in_order_and_the_brew_ends(normal: list[Step]) -> None:
    order = list(dict.fromkeys(step.phase for step in normal))
    assert order == PHASES
    assert normal[-1].phase == "done"
    assert 4 * 3600 < normal[-1].t < 6 * 3600
    # A reading set every interval: both tanks, every sensor.
    assert all(len(step.readings) == len(TANKS) * len(SENSORS) for step in normal)
    assert [step.t for step in normal[:3]] == [0.0, 10.0, 20.0]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_mash_is_held_within_one_and_a_half_degrees_of_65(seed: int) -> None:
    steps = brew(seed)
    rest = [s for s in steps if s.phase == "mash-rest"]
    assert 59 * 60 <= rest[-1].t - rest[0].t <= 61 * 60  # an hour
    temperatures = values(rest, "mash", "temperature")
    assert all(abs(t - 65.0) <= 1.5 for t in temperatures), (min(temperatures),
                                                             max(temperatures))
    assert statistics.mean(temperatures) == pytest.approx(65.0, abs=0.5)
    # The heater cycles (hysteresis), it is not simply left on or off.
    heater = values(rest, "mash", "heater")
    switches = sum(1 for a, b in itertools.pairwise(heater) if a != b)
    assert switches >= 4
    # Noise: the readings are not a flat line.
    assert len(set(temperatures)) > 50


def test_heat_up_starts_cold_with_the_heater_on(normal: list[Step]) -> None:
    heat = [s for s in normal if s.phase == "mash-heat"]
    assert heat[0].value("mash", "temperature") == pytest.approx(20, abs=0.5)
    assert set(values(heat[1:], "mash", "heater")) == {1}  # t=0 is before the first control
    assert heat[-1].value("mash", "temperature") > 63


def test_the_lauter_moves_the_wort_and_keeps_the_volume(normal: list[Step]) -> None:
    lauter = [s for s in normal if s.phase == "lauter"]
    assert set(values(lauter, "mash", "valve")) == {1}
    assert set(values(lauter, "mash", "pump")) == {1}
    assert set(values(lauter, "mash", "heater")) == {0}
    mash, boil = values(lauter, "mash", "level"), values(lauter, "boil", "level")
    assert mash[0] > 75 and mash[-1] < 2
    assert boil[0] < 5 and boil[-1] > 75
    for m, b in zip(mash, boil, strict=True):
        assert m + b == pytest.approx(80.0, abs=0.6)  # sensor noise only
    # Outside the transfers the valves are shut and the pumps off.
    for step in normal:
        if step.phase not in ("lauter", "transfer"):
            assert step.value("mash", "valve") == step.value("boil", "valve") == 0
            assert step.value("mash", "pump") == step.value("boil", "pump") == 0


def test_the_boil_reaches_100_and_holds_it_for_an_hour(normal: list[Step]) -> None:
    boil = [s for s in normal if s.phase == "boil"]
    assert 59 * 60 <= boil[-1].t - boil[0].t <= 61 * 60
    temperatures = values(boil, "boil", "temperature")
    assert statistics.median(temperatures) == pytest.approx(100.0, abs=0.15)
    assert max(temperatures) < 100.5  # water does not get hotter than boiling
    assert set(values(boil, "boil", "heater")) == {1}
    levels = values(boil, "boil", "level")
    assert levels[-1] < levels[0] - 3  # a rolling boil evaporates wort


def test_chill_then_transfer_to_the_fermenter(normal: list[Step]) -> None:
    chill = [s for s in normal if s.phase == "chill"]
    assert set(values(chill, "boil", "heater")) == {0}
    assert chill[-1].value("boil", "temperature") <= 20.5
    transfer = [s for s in normal if s.phase == "transfer"]
    assert set(values(transfer, "boil", "valve")) == set(values(transfer, "boil", "pump")) == {1}
    assert normal[-1].value("boil", "level") < 1
    assert all(normal[-1].value(tank, state) == 0
               for tank in TANKS for state in ("valve", "pump", "heater"))


def test_overheat_climbs_past_the_alarm_and_recovers(normal: list[Step]) -> None:
    steps = brew(1, "overheat@45")
    during = [s for s in steps if 45 * 60 < s.t <= 53 * 60]
    assert set(values(during, "mash", "heater")) == {1}  # the relay is stuck on
    peak = max(values(steps, "mash", "temperature", "mash-rest"))
    assert peak > 70  # past check-threshold's 67 °C default
    assert max(values(normal, "mash", "temperature", "mash-rest")) < 66.6
    after = [s for s in steps if s.t >= 75 * 60 and s.phase == "mash-rest"]
    assert after and all(abs(t - 65) <= 1.5 for t in values(after, "mash", "temperature"))


def test_a_stuck_valve_stalls_the_lauter_then_it_goes_on(normal: list[Step]) -> None:
    steps = brew(1, "stuck-valve@100+15")
    stuck = [s for s in steps if 101 * 60 <= s.t < 115 * 60]
    assert {s.phase for s in stuck} == {"lauter"}
    assert set(values(stuck, "mash", "valve")) == {0}
    assert set(values(stuck, "mash", "pump")) == {1}
    levels = values(stuck, "mash", "level")
    assert max(levels) - min(levels) < 1  # nothing flows
    assert steps[-1].phase == "done"
    # The stall costs its 15 minutes, and a few more heating the cooler wort to a boil.
    assert normal[-1].t + 15 * 60 <= steps[-1].t <= normal[-1].t + 25 * 60


def test_the_same_seed_gives_the_same_brew() -> None:
    assert brew(7, interval=60) == brew(7, interval=60)
    assert brew(7, interval=60) != brew(8, interval=60)


def test_readings_are_what_the_brewery_actions_accept(normal: list[Step]) -> None:
    for step in normal[::50]:
        for item in step.readings:
            payload = item.payload(1_700_000_000_000 + int(step.t * 1000))
            parsed = parse_reading({"tank": item.tank, "sensor": item.sensor, **payload})
            assert parsed.value == item.value
            assert parsed.unit == {"temperature": "C", "level": "%"}.get(item.sensor, "state")
            if item.unit == "state":
                assert item.value in (0, 1) and isinstance(item.value, int)


@pytest.mark.parametrize(("spec", "expected"), [
    ("overheat@40", Fault("overheat", 2400, 480)),
    ("stuck-valve@95.5+20", Fault("stuck-valve", 5730, 1200)),
])
def test_fault_specs(spec: str, expected: Fault) -> None:
    assert Fault.parse(spec) == expected


@pytest.mark.parametrize("spec", ["overheat", "melt@3", "overheat@x", "overheat@-1",
                                  "stuck-valve@3+0"])
def test_bad_fault_specs(spec: str) -> None:
    with pytest.raises(FaultError, match=spec.split("@")[0]):
        Fault.parse(spec)
