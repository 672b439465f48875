"""docker-compose.yml: complete, health-gated, and without default credentials."""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
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
    for line in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in line.split():
            # wheel[s]: an optional glob, present only in an offline build's staged context
            assert "[" in path or (ROOT / path).exists(), f"compose/Dockerfile copies {path}"
    assert services["invoker"]["environment"]["PWSK_CONTAINERS"] == "docker"


# --- the file as Compose itself reads it (Compose v2 from scripts/lib/compose.sh) ----------

@cache
def compose_binary() -> str:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "lib" / "compose.sh"), "bin"],
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split(" ", 1)[1].strip()


def compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("COUCHDB_PASSWORD", "MQTT_PASSWORD") and not k.startswith("COMPOSE_")}
    return subprocess.run([compose_binary(), "-f", str(ROOT / "docker-compose.yml"), "config",
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT,
                          env={**clean, **env}, timeout=60)


@pytest.mark.timeout(1800)  # on a new machine, Compose is built from source first
def test_compose_accepts_the_file() -> None:
    done = compose_config(COUCHDB_PASSWORD="c0uch", MQTT_PASSWORD="mq77")
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    assert model["name"] == "pwsk"
    services = model["services"]
    assert services["controller0"]["environment"]["PWSK_STORE"] == \
        "couchdb://admin:c0uch@couchdb:5984"
    for name in ("controller0", "controller1", "invoker", "gateway"):
        assert services[name]["image"] == "pwsk/services:latest"
        assert services[name]["build"]["args"]["BASE"] == "python:3.11-slim"
        assert services[name]["init"] is True  # SIGTERM reaches a service while it starts
    assert services["gateway"]["networks"]["pwsk"]["aliases"] == ["gateway"]
    assert model["networks"]["pwsk"]["name"] == "pwsk"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("missing", ["COUCHDB_PASSWORD", "MQTT_PASSWORD"])
def test_compose_refuses_to_start_without_a_secret(missing: str) -> None:
    env = {"COUCHDB_PASSWORD": "c0uch", "MQTT_PASSWORD": "mq77"}
    del env[missing]
    done = compose_config(**env)
    assert done.returncode != 0
    assert f"set {missing}" in done.stderr, done.stderr
