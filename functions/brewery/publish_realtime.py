"""``publish-realtime``: forward a reading to the gateway's realtime channel.

``realtime_url`` is the channel's publish URL (default
``$__OW_API_HOST/realtime/brewery``); the call carries the action's API key. Without a
reachable channel the reading is reported as not published (the rule's other actions
still store it). A busy gateway (429, 5xx, no answer in time) is tried again, up to
``ATTEMPTS`` times: a live view may show a reading twice (it keeps the newest per time),
but should not miss one.

The connection to the channel is kept open between activations of a warm container
(``common.http_request``): a new TCP connection per reading cost the gateway an accept and
a new HTTP protocol instance each time, on the path every dashboard update waits for. A
kept connection the server has closed meanwhile (its idle timeout) is replaced at once,
without counting as an attempt.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

try:
    from .common import ReadingError, http_request, parse_reading
except ImportError:  # deployed: common.py sits next to __main__.py
    from common import ReadingError, http_request, parse_reading  # type: ignore[no-redef]

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
    body = json.dumps(reading.to_json()).encode()
    error = ""
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(min(PAUSE_S * 2 ** (attempt - 1), PAUSE_MAX_S))
        try:
            status = http_request("POST", url, body, headers, TIMEOUT_S)[0]
        except ValueError as err:
            return {"error": f"the realtime channel's URL is not usable: {err}"}
        except OSError as err:
            error = f"the realtime channel is unreachable: {err or type(err).__name__}"
            continue
        if 200 <= status < 300:
            return {"published": True, "status": status, **reading.to_json()}
        error = f"the realtime channel answered {status}"
        if status != 429 and status < 500:
            break  # refused: trying again cannot help
    return {"error": error}
