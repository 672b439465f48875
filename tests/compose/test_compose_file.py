"""docker-compose.yml: complete, health-gated, and without default credentials."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_every_component_is_there() -> None:
    services = compose()["services"]
    assert {"couchdb", "kafka", "consul", "mosquitto", "controller0", "controller1",
            "invoker", "gateway"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["consul"]["image"] == "hashicorp/consul:1.14.11"


def test_dependencies_wait_for_health() -> None:
    services = compose()["services"]
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        for dep, cond in (service.get("depends_on") or {}).items():
            assert cond == {"condition": "service_healthy"}, f"{name} → {dep}"
            assert "healthcheck" in services[dep]


def test_no_default_credentials() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("COUCHDB_PASSWORD", "MQTT_PASSWORD"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), secret


def test_pwsk_services_use_the_shared_image_with_a_base_argument() -> None:
    services = compose()["services"]
    for name in ("controller0", "controller1", "invoker", "gateway"):
        build = services[name]["build"]
        assert build["dockerfile"] == "compose/Dockerfile" and "BASE" in build["args"]
    dockerfile = (ROOT / "compose" / "Dockerfile").read_text()
    assert "ARG BASE" in dockerfile and "FROM ${BASE}" in dockerfile
    for path in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (ROOT / path).exists(), f"compose/Dockerfile copies missing {path}"
    assert services["invoker"]["environment"]["PWSK_CONTAINERS"] == "docker"
