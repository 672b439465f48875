"""``notify-telegram``: send alarm and clear events with the Telegram Bot API.

The bot token and chat id are init parameters (``TELEGRAM_TOKEN``, ``TELEGRAM_CHAT_ID``),
which reach the action as environment variables and never appear in its arguments or
logs. ``telegram_api`` overrides the API base URL (a local server in tests). Without a
token the action logs what it would have sent.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_S = 10


def main(args: dict[str, Any]) -> dict[str, Any]:
    event = args.get("event")
    if event not in ("alarm", "clear"):
        return {"sent": False, "reason": "no event"}
    # check-threshold's ``messages``: every change it told at once (usually one).
    given = args.get("messages")
    texts = ([str(t) for t in given] if isinstance(given, list) and given else
             [args.get("message") or f"{event}: {args.get('tank')} {args.get('sensor')}"])
    token = os.environ.get("TELEGRAM_TOKEN") or ""
    chat = os.environ.get("TELEGRAM_CHAT_ID") or args.get("chat_id")
    if not token or not chat:
        for text in texts:
            print(f"telegram not configured; would send: {text}")
        return {"sent": False, "dry_run": True, "text": texts[-1]}
    base = str(args.get("telegram_api") or "https://api.telegram.org").rstrip("/")
    out: dict[str, Any] = {}
    for number, text in enumerate(texts):
        out = send(f"{base}/bot{token}/sendMessage", chat, text)
        if "error" in out and number:
            out["error"] += f" ({number} of {len(texts)} messages sent)"
        if "error" in out:
            return out
    if len(texts) > 1:
        out["count"] = len(texts)
    return out


def send(url: str, chat: Any, text: str) -> dict[str, Any]:
    body = json.dumps({"chat_id": chat, "text": text}).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as err:
        try:
            detail = json.load(err).get("description", err.reason)
        except ValueError:
            detail = err.reason
        return {"error": f"Telegram refused the message: {detail}"}
    except (urllib.error.URLError, TimeoutError) as err:
        return {"error": f"Telegram is unreachable: {err}"}
    if not answer.get("ok"):
        return {"error": f"Telegram refused the message: {answer.get('description')}"}
    return {"sent": True, "message_id": answer["result"]["message_id"], "text": text}
