"""Initial keys from the settings: a deployment refuses OpenWhisk's published keys.

``PWSK_GUEST_KEY`` / ``PWSK_SYSTEM_KEY`` give ``guest`` and ``whisk.system`` their first
keys; with ``PWSK_REFUSE_DEFAULT_KEYS=true`` (docker-compose.yml sets it) a controller does
not start without them, nor with a well-known one, and revokes the well-known keys an earlier
start created.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from controller.auth import (
    GUEST_KEY,
    SYSTEM_KEY,
    Authenticator,
    KeySettingError,
    default_subjects,
    namespace_doc,
)
from pwsk.errors import Unauthenticated
from pwsk.settings import Settings
from pwsk.store import SUBJECTS, open_store

ROOT = Path(__file__).resolve().parents[2]
MINE = f"{uuid.uuid4()}:" + "G" * 40 + "g" * 24
ADMIN = f"{uuid.uuid4()}:" + "S" * 40 + "s" * 24


def basic(api_key: str) -> str:
    return "Basic " + base64.b64encode(api_key.encode()).decode()


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def test_unset_keys_are_the_well_known_ones_for_development() -> None:
    assert default_subjects(settings()) == {"guest": GUEST_KEY, "whisk.system": SYSTEM_KEY}


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PWSK_GUEST_KEY", MINE)
    monkeypatch.setenv("PWSK_SYSTEM_KEY", ADMIN)
    monkeypatch.setenv("PWSK_REFUSE_DEFAULT_KEYS", "true")
    s = Settings()
    assert s.refuse_default_keys is True
    assert default_subjects(s) == {"guest": MINE, "whisk.system": ADMIN}
    assert MINE not in repr(s) and MINE.split(":")[1] not in str(s.model_dump())  # SecretStr


@pytest.mark.parametrize("given", [
    {},
    {"guest_key": MINE},
    {"system_key": ADMIN},
    {"guest_key": GUEST_KEY, "system_key": ADMIN},
    {"guest_key": MINE, "system_key": SYSTEM_KEY},
    # the well-known uuid with another key: its document may already hold the published key
    {"guest_key": GUEST_KEY.split(":")[0] + ":" + "x" * 64, "system_key": ADMIN},
])
def test_refused_when_missing_or_well_known(given: dict[str, str]) -> None:
    with pytest.raises(KeySettingError) as err:
        default_subjects(settings(refuse_default_keys=True, **given))
    message = str(err.value)
    assert "PWSK_GUEST_KEY" in message or "PWSK_SYSTEM_KEY" in message
    for api_key in (GUEST_KEY, SYSTEM_KEY):  # the message never repeats a key
        assert api_key.split(":")[1] not in message


@pytest.mark.parametrize("bad", [
    "no-colon", "not-a-uuid:" + "k" * 64, f"{uuid.uuid4()}:short",
    f"{uuid.uuid4()}:" + "k" * 30 + ":" + "k" * 30, f"{uuid.uuid4()}:" + "k" * 30 + " " + "k" * 3,
])
def test_malformed_keys_are_refused_even_in_development(bad: str) -> None:
    with pytest.raises(KeySettingError, match="PWSK_GUEST_KEY must be uuid:key"):
        default_subjects(settings(guest_key=SecretStr(bad)))


def test_guest_and_system_need_different_uuids() -> None:
    same = ADMIN.split(":")[0] + ":" + "z" * 64
    with pytest.raises(KeySettingError, match="different uuids"):
        default_subjects(settings(guest_key=same, system_key=ADMIN))


@pytest.mark.anyio
async def test_seeded_with_the_settings_keys_and_well_known_ones_revoked(
        tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'subjects.db'}")
    await store.start()
    try:
        # An earlier development start created the well-known keys.
        await Authenticator.from_settings(store, settings()).seed()
        assert (await Authenticator(store).authenticate(basic(GUEST_KEY))).namespace == "guest"

        deployment = settings(guest_key=MINE, system_key=ADMIN, refuse_default_keys=True)
        auth = Authenticator.from_settings(store, deployment)
        await auth.seed()
        assert (await auth.authenticate(basic(MINE))).namespace == "guest"
        assert (await auth.authenticate_admin(basic(ADMIN))).namespace == "whisk.system"
        for well_known in (GUEST_KEY, SYSTEM_KEY):
            with pytest.raises(Unauthenticated):
                await auth.authenticate(basic(well_known))
        # Web actions find their namespace's owner through one of the new keys.
        owner = await store.get(SUBJECTS, namespace_doc("guest"))
        assert owner is not None and owner["uuid"] == MINE.split(":")[0]
        await Authenticator.from_settings(store, deployment).seed()  # idempotent
        assert (await auth.authenticate(basic(MINE))).namespace == "guest"
    finally:
        await store.stop()


@pytest.mark.parametrize("guest", ["", GUEST_KEY])
def test_controller_refuses_to_start(guest: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWSK_")}
    env.update(PWSK_REFUSE_DEFAULT_KEYS="true", PWSK_GUEST_KEY=guest, PWSK_SYSTEM_KEY=ADMIN,
               PWSK_STORE=f"sqlite://{tmp_path / 'never.db'}", PWSK_PORT="1")
    done = subprocess.run([sys.executable, "-m", "controller"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "pwsk controller: PWSK_GUEST_KEY" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "never.db").exists()
    assert ADMIN.split(":")[1] not in done.stderr + done.stdout
