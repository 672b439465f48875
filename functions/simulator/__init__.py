"""The brewery simulator: a two-tank brew published over MQTT, or read as a generator.

    python -m functions.simulator --broker mqtt://127.0.0.1:1883 --time-scale 60 \\
        [--fault overheat@40] [--fault stuck-valve@95] [--seed 1]

    for step in Simulator(seed=1).steps():   # no broker: Step(t, phase, readings)
        ...

``model`` is the physics and the controller, ``publisher`` puts readings on
``brewery/<tank>/<sensor>`` as ``{"value", "unit", "timestamp"}`` at QoS 1.
"""

from __future__ import annotations

from .model import SENSORS, TANKS, UNITS, Fault, FaultError, Reading, Simulator, Step

__all__ = ["SENSORS", "TANKS", "UNITS", "Fault", "FaultError", "Reading", "Simulator", "Step"]
