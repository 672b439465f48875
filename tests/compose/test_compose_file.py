"""docker-compose.yml: complete, health-gated, and without default credentials."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
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


SECRETS = ("COUCHDB_PASSWORD", "MQTT_PASSWORD", "PWSK_GUEST_KEY", "PWSK_SYSTEM_KEY")
# Well-formed keys of this test only (docker-compose.yml refuses OpenWhisk's published ones).
GUEST_KEY = f"{uuid.uuid4()}:{'g' * 64}"
SYSTEM_KEY = f"{uuid.uuid4()}:{'s' * 64}"
GIVEN = {"COUCHDB_PASSWORD": "c0uch", "MQTT_PASSWORD": "mq77", "PWSK_GUEST_KEY": GUEST_KEY,
         "PWSK_SYSTEM_KEY": SYSTEM_KEY}


def test_no_default_credentials() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in SECRETS:
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), secret
    for name, service in compose()["services"].items():
        env = service.get("environment") or {}
        if name.startswith("controller"):
            # The controllers refuse a missing or published key (controller.auth).
            assert env["PWSK_REFUSE_DEFAULT_KEYS"] == "true", name
            assert {"PWSK_GUEST_KEY", "PWSK_SYSTEM_KEY"} <= set(env), name
        else:  # invokers run tenants' code, the gateway needs no key: neither gets one
            assert not {"PWSK_GUEST_KEY", "PWSK_SYSTEM_KEY"} & set(env), name


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
             if k not in SECRETS and not k.startswith("COMPOSE_")}
    return subprocess.run([compose_binary(), "-f", str(ROOT / "docker-compose.yml"), "config",
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT,
                          env={**clean, **env}, timeout=60)


@pytest.mark.timeout(1800)  # on a new machine, Compose is built from source first
def test_compose_accepts_the_file() -> None:
    done = compose_config(**GIVEN)
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    assert model["name"] == "pwsk"
    services = model["services"]
    assert services["controller0"]["environment"]["PWSK_STORE"] == \
        "couchdb://admin:c0uch@couchdb:5984"
    for name in ("controller0", "controller1"):
        env = services[name]["environment"]
        assert env["PWSK_GUEST_KEY"] == GUEST_KEY and env["PWSK_SYSTEM_KEY"] == SYSTEM_KEY
        assert env["PWSK_REFUSE_DEFAULT_KEYS"] == "true"
    for name in ("invoker", "gateway"):
        assert "PWSK_GUEST_KEY" not in services[name]["environment"]
    for name in ("controller0", "controller1", "invoker", "gateway"):
        assert services[name]["image"] == "pwsk/services:latest"
        assert services[name]["build"]["args"]["BASE"] == "python:3.11-slim"
        assert services[name]["init"] is True  # SIGTERM reaches a service while it starts
    assert services["gateway"]["networks"]["pwsk"]["aliases"] == ["gateway"]
    assert model["networks"]["pwsk"]["name"] == "pwsk"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_a_secret(missing: str) -> None:
    env = dict(GIVEN)
    del env[missing]
    done = compose_config(**env)
    assert done.returncode != 0
    assert f"set {missing}" in done.stderr, done.stderr


# --- no secret in the image ----------------------------------------------------------------

SECRET_NAME = re.compile(r"(^|/)(\.env(\..*)?|\.netrc|\.pypirc|id_(rsa|dsa|ecdsa|ed25519)\S*"
                         r"|.*\.(pem|key|p12|pfx|jks|keystore)|.*credential.*|.*secret.*"
                         r"|.*passw(or)?d.*|htpasswd|.*token.*\.(json|txt))$", re.I)
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def image_files() -> list[str]:
    """The files compose/Dockerfile copies, as git sees them (tracked or new, not ignored)."""
    dockerfile = (ROOT / "compose" / "Dockerfile").read_text()
    sources = sorted({p for line in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M)
                      for p in line.split() if "[" not in p})
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "--", *sources], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    return [f for f in listed if (ROOT / f).is_file()]


def test_the_image_copies_no_credential_file() -> None:
    files = image_files()
    assert "pwsk/settings.py" in files and "compose/invoker_health.py" in files
    assert not [f for f in files if SECRET_NAME.search(f)]
    assert not [f for f in files if PRIVATE_KEY.search((ROOT / f).read_bytes())]
    # Nor does the Dockerfile bake one in: no secret-looking build argument or variable.
    dockerfile = (ROOT / "compose" / "Dockerfile").read_text()
    for name in re.findall(r"^(?:ARG|ENV)\s+(\w+)", dockerfile, re.M):
        assert not re.search(r"KEY|PASSWORD|SECRET|TOKEN|AUTH", name, re.I), name
    assert not re.search(r"^COPY\s.*(\.env|\.ssh|\.netrc|/root|~)", dockerfile, re.M)


def test_the_credential_check_would_catch_one() -> None:
    for bad in (".env", "compose/.env.prod", "x/id_ed25519", "certs/server.pem", "gw/tls.key",
                "creds/credentials.json", "mosquitto/passwd", "a/client_secret.txt"):
        assert SECRET_NAME.search(bad), bad
    for fine in ("pwsk/settings.py", "controller/auth.py", "pwsk/keys.py",
                 "dashboard/index.html", "functions/brewery/manifest.yaml"):
        assert not SECRET_NAME.search(fine), fine


def test_the_image_installs_the_hashed_lock() -> None:
    dockerfile = (ROOT / "compose" / "Dockerfile").read_text()
    copy = re.search(r"^COPY (.*requirements/lock\.txt.*) \./$", dockerfile, re.M)
    assert copy, "compose/Dockerfile does not copy requirements/lock.txt"
    runs = " ".join(re.findall(r"^RUN (.*?)(?<!\\)$", dockerfile.replace("\\\n", " "), re.M))
    installs = [i.split() for i in re.findall(r"pip\"? install ([^;&]*)", runs)]
    # Every install of dependencies checks the lock's hashes; pwsk itself brings none.
    assert len(installs) == 3 and all(
        ("--require-hashes" in i and i[-2:] == ["-r", "lock.txt"]) or "--no-deps" in i
        for i in installs), installs
    assert sum("--no-deps" in i for i in installs) == 1
    assert all("--no-index" in i for i in installs if "--no-deps" in i)
    script = (ROOT / "scripts" / "lib" / "compose.sh").read_text()
    assert "--require-hashes -r \"$PWSK_ROOT/requirements/lock.txt\"" in script
