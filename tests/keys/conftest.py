"""Fixtures for the key tests: an admin client, fresh subjects, every controller's url."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import Server


@pytest.fixture
def admin(server: Server) -> Iterator[httpx.Client]:
    """A client with the ``whisk.system`` key: an administrator."""
    with server.client(server.system_auth) as client:
        yield client


@pytest.fixture
def subject() -> str:
    return f"s{secrets.token_hex(4)}"


def controller_urls(server: Any) -> list[str]:
    """The gateway (or standalone) and, on the distributed stack, each controller directly."""
    specs = getattr(server, "specs", {})
    return [server.url] + [f"http://127.0.0.1:{env['PWSK_PORT']}"
                           for name, (_, env) in sorted(specs.items())
                           if name.startswith("controller")]


def as_key(url: str, api_key: str) -> httpx.Client:
    user, _, key = api_key.partition(":")
    return httpx.Client(base_url=url, auth=(user, key), timeout=60)


def create(admin: httpx.Client, subject: str, namespace: str | None = None) -> dict[str, Any]:
    body = {"subject": subject} if namespace is None else {"subject": subject,
                                                           "namespace": namespace}
    r = admin.post("/admin/keys", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created
