"""The brew: two tanks, their heaters, valves and pumps, and the controller that runs them.

Physics, per simulated second:

- A heater's power follows its switch with a 30 s lag (the element warms and cools), so
  bang-bang control overshoots a little, as a real one does.
- Temperature: ``dT/dt = power * heat_rate - loss * (T - ambient)``; a boiling tank stays at
  100 °C and the surplus boils wort away instead.
- Transfers move wort at a fixed rate from one tank to the next while its outlet valve is open
  and its pump is on; both tanks hold the same volume at 100 %, so the levels add up to the
  same total during the mash → boil transfer. Incoming wort mixes into the boil tank's
  temperature.

The controller's phases, in order:

    mash-heat     heater on until the mash reaches 64.5 °C
    mash-rest     60 min at 65 °C: heater on below 64.5, off above 65.5 (hysteresis)
    lauter        mash valve open, mash pump on: wort to the boil tank
    boil-heat     boil heater on until 99.5 °C
    boil          60 min rolling boil (evaporation lowers the level)
    chill         heater off, the chiller brings the wort down to 20 °C
    transfer      boil valve open, boil pump on: wort to the fermenter
    done

Faults change the hardware, not the controller, as real ones do:

    overheat@M[+D]      from minute M for D minutes (default 8) the mash heater's relay is
                        stuck on: the mash climbs past its 67 °C alarm, then recovers
    stuck-valve@M[+D]   from minute M for D minutes (default 15) the mash valve is jammed
                        shut: a lauter stalls (pump on, valve closed, levels flat), then goes on
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

TANKS = ("mash", "boil")
UNITS = {"temperature": "C", "level": "%", "valve": "state", "pump": "state", "heater": "state"}
SENSORS = tuple(UNITS)
FAULT_KINDS = {"overheat": 8.0, "stuck-valve": 15.0}  # kind: default duration in minutes

AMBIENT_C = 20.0
MASH_TARGET_C = 65.0
HYSTERESIS_C = 0.5
MASH_REST_S = 60 * 60
BOIL_C = 100.0
BOIL_REST_S = 60 * 60
CHILLED_C = 20.0
START_LEVEL = 80.0  # % of the mash tank after mash-in
MASH_HEAT_RATE = 1.5 / 60  # °C per second at full power
BOIL_HEAT_RATE = 2.0 / 60
LOSS = 0.01 / 60  # per second, of the difference to ambient
CHILL = 0.08 / 60  # per second, towards the chiller's water
CHILLER_WATER_C = 15.0
HEATER_LAG_S = 30.0
LAUTER_RATE = 2.0 / 60  # % per second
TRANSFER_RATE = 3.0 / 60
EVAPORATION = 0.1 / 60  # % per second at a rolling boil
EMPTY = 0.5  # %: a transfer ends when the source is this low
TEMPERATURE_NOISE = 0.1  # sensor standard deviation
LEVEL_NOISE = 0.1


class FaultError(ValueError):
    """A fault spec that cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class Fault:
    kind: str
    start_s: float
    duration_s: float

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """``overheat@40`` or ``stuck-valve@95+20`` (minutes of simulated time)."""
        kind, at, when = spec.strip().partition("@")
        if not at or kind not in FAULT_KINDS:
            raise FaultError(f"fault {spec!r}: expected KIND@MINUTE[+MINUTES], KIND one of "
                             f"{', '.join(FAULT_KINDS)}")
        start, plus, length = when.partition("+")
        try:
            minute = float(start)
            duration = float(length) if plus else FAULT_KINDS[kind]
        except ValueError:
            raise FaultError(f"fault {spec!r}: minutes must be numbers") from None
        if minute < 0 or duration <= 0:
            raise FaultError(f"fault {spec!r}: the minute must be >= 0 and the duration > 0")
        return cls(kind, minute * 60, duration * 60)

    def active(self, t: float) -> bool:
        return self.start_s <= t < self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Reading:
    tank: str
    sensor: str
    value: float
    unit: str

    @property
    def topic_suffix(self) -> str:
        return f"{self.tank}/{self.sensor}"

    def payload(self, timestamp_ms: int) -> dict[str, float | int | str]:
        """The MQTT payload shared with the brewery actions."""
        return {"value": self.value, "unit": self.unit, "timestamp": timestamp_ms}


@dataclass(frozen=True, slots=True)
class Step:
    """Everything the sensors report at simulated second ``t``."""

    t: float
    phase: str
    readings: tuple[Reading, ...]

    def value(self, tank: str, sensor: str) -> float:
        for reading in self.readings:
            if reading.tank == tank and reading.sensor == sensor:
                return reading.value
        raise KeyError(f"{tank}/{sensor}")


@dataclass
class Tank:
    name: str
    temperature: float = AMBIENT_C
    level: float = 0.0
    heater: bool = False  # what the relay does (a fault may override the controller)
    power: float = 0.0  # 0..1, lagging the relay
    valve: bool = False  # outlet valve, as it actually is
    pump: bool = False
    boiling: bool = False
    heat_rate: float = MASH_HEAT_RATE

    def heat(self, dt: float, chill: bool = False) -> None:
        target = 1.0 if self.heater else 0.0
        self.power += (target - self.power) * min(1.0, dt / HEATER_LAG_S)
        if self.level <= 0:
            # An empty tank follows the air; nothing to heat or boil.
            self.temperature += (AMBIENT_C - self.temperature) * min(1.0, LOSS * 50 * dt)
            self.boiling = False
            return
        change = self.power * self.heat_rate - LOSS * (self.temperature - AMBIENT_C)
        if chill:
            change -= CHILL * (self.temperature - CHILLER_WATER_C)
        self.temperature += change * dt
        self.boiling = self.temperature >= BOIL_C
        if self.boiling:
            self.temperature = BOIL_C
            self.level = max(0.0, self.level - EVAPORATION * self.power * dt)


@dataclass
class Simulator:
    """A deterministic brew for a given ``seed``: ``steps()`` yields a ``Step`` every
    ``interval`` simulated seconds from mash-in until the wort is in the fermenter."""

    seed: int | None = None
    interval: float = 10.0
    faults: list[Fault] = field(default_factory=list)
    tick: float = 1.0  # physics step, simulated seconds
    max_seconds: float = 12 * 3600  # a stalled brew still ends

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.tick <= 0:
            raise ValueError("interval and tick must be positive")
        self.rng = random.Random(self.seed)
        self.mash = Tank("mash", level=START_LEVEL, heat_rate=MASH_HEAT_RATE)
        self.boil = Tank("boil", heat_rate=BOIL_HEAT_RATE)
        self.phase = "mash-heat"
        self.t = 0.0
        self._phase_started = 0.0
        self._mash_heater = False

    def _fault(self, kind: str) -> bool:
        return any(f.kind == kind and f.active(self.t) for f in self.faults)

    def _enter(self, phase: str) -> None:
        self.phase = phase
        self._phase_started = self.t

    @property
    def _in_phase(self) -> float:
        return self.t - self._phase_started

    def _control(self) -> tuple[bool, bool]:
        """Set pumps and the boil heater; return what the controller asks of the mash heater
        and the mash valve (faults decide whether the hardware obeys)."""
        mash, boil = self.mash, self.boil
        mash_heater = self._mash_heater  # hysteresis remembers the last command
        mash_valve = False
        mash.pump = boil.pump = boil.valve = False
        boil.heater = False
        if self.phase == "mash-heat":
            mash_heater = True
            if mash.temperature >= MASH_TARGET_C - HYSTERESIS_C:
                self._enter("mash-rest")
        if self.phase == "mash-rest":
            if mash.temperature < MASH_TARGET_C - HYSTERESIS_C:
                mash_heater = True
            elif mash.temperature > MASH_TARGET_C + HYSTERESIS_C:
                mash_heater = False
            if self._in_phase >= MASH_REST_S:
                mash_heater = False
                self._enter("lauter")
        if self.phase == "lauter":
            mash_heater = False
            mash_valve = mash.pump = True
            if mash.level <= EMPTY:
                mash_valve = mash.pump = False
                self._enter("boil-heat")
        if self.phase == "boil-heat":
            boil.heater = True
            if boil.temperature >= BOIL_C - 0.5:
                self._enter("boil")
        if self.phase == "boil":
            boil.heater = True
            if self._in_phase >= BOIL_REST_S:
                boil.heater = False
                self._enter("chill")
        if self.phase == "chill" and boil.temperature <= CHILLED_C:
            self._enter("transfer")
        if self.phase == "transfer":
            boil.valve = boil.pump = True
            if boil.level <= EMPTY:
                boil.valve = boil.pump = False
                self._enter("done")
        return mash_heater, mash_valve

    def _advance(self, dt: float) -> None:
        mash, boil = self.mash, self.boil
        mash_heater, mash_valve = self._control()
        self._mash_heater = mash_heater
        mash.heater = True if self._fault("overheat") else mash_heater
        mash.valve = mash_valve and not self._fault("stuck-valve")
        # Lauter: wort flows only through an open valve with the pump running.
        if mash.valve and mash.pump and mash.level > 0:
            moved = min(mash.level, LAUTER_RATE * dt)
            if boil.level + moved > 0:
                boil.temperature = ((boil.temperature * boil.level + mash.temperature * moved)
                                    / (boil.level + moved))
            mash.level -= moved
            boil.level += moved
        if boil.valve and boil.pump and boil.level > 0:
            boil.level -= min(boil.level, TRANSFER_RATE * dt)
        mash.heat(dt)
        boil.heat(dt, chill=self.phase == "chill")
        self.t += dt

    def _read(self) -> Step:
        readings: list[Reading] = []
        for tank in (self.mash, self.boil):
            temperature = tank.temperature + self.rng.gauss(0, TEMPERATURE_NOISE)
            level = tank.level + self.rng.gauss(0, LEVEL_NOISE) if tank.level > 0 else 0.0
            values: dict[str, float] = {
                "temperature": round(temperature, 2),
                "level": round(min(100.0, max(0.0, level)), 1),
                "valve": int(tank.valve),  # states are 1 (open, on) or 0 (closed, off)
                "pump": int(tank.pump),
                "heater": int(tank.heater),
            }
            readings += [Reading(tank.name, sensor, values[sensor], UNITS[sensor])
                         for sensor in SENSORS]
        return Step(self.t, self.phase, tuple(readings))

    def steps(self) -> Iterator[Step]:
        """The readings at t = 0, interval, 2 * interval, ... until the brew is done."""
        next_report = 0.0
        while True:
            if self.t >= next_report - 1e-9:
                yield self._read()
                next_report += self.interval
                if self.phase == "done" or self.t >= self.max_seconds:
                    return
            self._advance(min(self.tick, next_report - self.t))
