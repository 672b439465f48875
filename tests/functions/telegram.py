"""A local server that speaks the Telegram Bot API's ``sendMessage`` (token ``TOKEN``)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


class FakeTelegram(BaseHTTPRequestHandler):
    sent: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = self.path == "/botTOKEN/sendMessage"
        if ok:
            type(self).sent.append(body)
        answer: dict[str, Any] = (
            {"ok": True, "result": {"message_id": len(type(self).sent), "text": body["text"]}}
            if ok else {"ok": False, "error_code": 401, "description": "Unauthorized"})
        data = json.dumps(answer).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None
