"""A scripted stand-in for the controller's trigger API, as an httpx transport.

It knows keys (``uuid:key`` → namespace) and triggers, answers GET on triggers and
namespaces with the controller's statuses (401 unknown key, 403 other namespace, 404), and
records every fire and delete. ``fire_status`` scripts the answers to fires.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import orjson

ALICE = "a1:alice-key"
BOB = "b2:bob-key"


@dataclass
class FakeController:
    keys: dict[str, str] = field(default_factory=lambda: {ALICE: "alice", BOB: "bob"})
    # (namespace, name) -> trigger JSON
    triggers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    fires: list[tuple[str, str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    fire_status: list[int] = field(default_factory=list)  # consumed one per fire; then 202

    def add_trigger(self, namespace: str, name: str, rules: dict[str, Any] | None = None) -> None:
        self.triggers[(namespace, name)] = {"namespace": namespace, "name": name,
                                            "rules": rules or {}}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization", "")
        key = base64.b64decode(header.split(" ", 1)[1]).decode() if header else ""
        namespace = self.keys.get(key)
        if namespace is None:
            return httpx.Response(401, json={"error": "The supplied authentication is invalid"})
        parts = [unquote(p) for p in request.url.raw_path.decode().split("?")[0].split("/")]
        # ['', 'api', 'v1', 'namespaces', ns, collection, name]
        if parts[3:] == ["namespaces"]:
            return httpx.Response(200, json=[namespace])
        ns, collection, name = parts[4], parts[5], parts[6]
        if ns != namespace:
            return httpx.Response(403, json={"error": "not authorized"})
        if collection == "rules" and request.method == "DELETE":
            self.deleted.append(f"rule:{ns}/{name}")
            return httpx.Response(200, json={})
        trigger = self.triggers.get((ns, name))
        if trigger is None:
            return httpx.Response(404, json={"error": "The requested resource does not exist."})
        if request.method == "GET":
            return httpx.Response(200, json=trigger)
        if request.method == "DELETE":
            self.deleted.append(f"trigger:{ns}/{name}")
            del self.triggers[(ns, name)]
            return httpx.Response(200, json=trigger)
        status = self.fire_status.pop(0) if self.fire_status else 202
        if status < 400:
            self.fires.append((ns, name, orjson.loads(request.content or b"{}")))
        return httpx.Response(status, json={"activationId": "0" * 32} if status == 202 else {})
