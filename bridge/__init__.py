"""The MQTT bridge: subscriptions on a broker become pwsk trigger fires.

    python -m bridge --config bridge.yaml

or, embedded:

    from bridge import Bridge, load_config
    async with Bridge(load_config("bridge.yaml")) as bridge:
        await bridge.wait_ready()

Modules, each one concept: ``config`` (YAML → settings), ``routes`` (topic filters, params
templates, payload decoding), ``journal`` (write-ahead journal, dead letters), ``firer`` (one
fire with retries), ``mqtt`` (the broker connection with manual acknowledgements), ``metrics``
(counters and ``/metrics``), ``service`` (the ``Bridge``), ``broker`` (an embedded amqtt broker).
"""

from __future__ import annotations

from .broker import EmbeddedBroker
from .config import BridgeConfig, ConfigError, load_config, parse_config
from .metrics import Metrics
from .service import Bridge

__all__ = ["Bridge", "BridgeConfig", "ConfigError", "EmbeddedBroker", "Metrics", "load_config",
           "parse_config"]
