"""``publish-realtime``: forward a reading to the gateway's realtime channel.

``realtime_url`` is the channel's publish URL (default
``$__OW_API_HOST/realtime/brewery``); the call carries the action's API key. Without a
reachable channel the reading is reported as not published (the rule's other actions
still store it). A busy gateway (429, 5xx, no answer in time) is tried again, up to
``ATTEMPTS`` times: a live view may show a reading twice (it keeps the newest per time),
but should not miss one.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

try:
    from .common import ReadingError, parse_reading
except ImportError:  # deployed: common.py sits next to __main__.py
    from common import ReadingError, parse_reading  # type: ignore[no-redef]

TIMEOUT_S = 5
# Six attempts, ~11 s of pauses: a loaded gateway's bus can stay away for a second or more
# (it answers 503 meanwhile); at most ~42 s in all, within the action's 60 s.
ATTEMPTS = 6
PAUSE_S = 0.5  # before the second attempt; doubled before each next, up to PAUSE_MAX_S
PAUSE_MAX_S = 4.0


def main(args: dict[str, Any]) -> dict[str, Any]:
    try:
        reading = parse_reading(args)
    except ReadingError as exc:
        return {"error": str(exc)}
    url = args.get("realtime_url") or os.environ.get("__OW_API_HOST", "") + "/realtime/brewery"
    headers = {"Content-Type": "application/json"}
    key = os.environ.get("__OW_API_KEY")
    if key:
        headers["Authorization"] = "Basic " + base64.b64encode(key.encode()).decode()
    req = urllib.request.Request(url, data=json.dumps(reading.to_json()).encode(),
                                 method="POST", headers=headers)
    error = ""
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(min(PAUSE_S * 2 ** (attempt - 1), PAUSE_MAX_S))
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return {"published": True, "status": resp.status, **reading.to_json()}
        except urllib.error.HTTPError as err:
            error = f"the realtime channel answered {err.code}"
            if err.code != 429 and err.code < 500:
                break  # refused: trying again cannot help
        except (urllib.error.URLError, TimeoutError) as err:
            error = f"the realtime channel is unreachable: {err}"
    return {"error": error}
