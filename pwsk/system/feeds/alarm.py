"""The alarms feed actions: hand a trigger's lifecycle event to the alarms provider.

``alarm``, ``interval`` and ``once`` are this module's three entry points. Each forwards its
parameters (``lifecycleEvent``, ``triggerName``, the schedule) to the provider at
``package_endpoint``, a parameter of the ``/whisk.system/alarms`` package, with the caller's
``authKey`` as basic credentials; the provider checks that the key owns the trigger. The
provider's answer is the result; a refusal becomes ``{"error": ...}``, which fails the
activation, so ``trigger create --feed`` removes the trigger again.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_S = 30


def alarm(params: dict[str, Any]) -> dict[str, Any]:
    return _forward(params, "cron")


def interval(params: dict[str, Any]) -> dict[str, Any]:
    return _forward(params, "interval")


def once(params: dict[str, Any]) -> dict[str, Any]:
    return _forward(params, "once")


main = alarm


def _forward(params: dict[str, Any], kind: str) -> dict[str, Any]:
    endpoint = params.get("package_endpoint")
    auth_key = params.get("authKey")
    if not isinstance(endpoint, str) or not endpoint:
        return {"error": "the alarms package has no package_endpoint parameter"}
    if not isinstance(auth_key, str) or ":" not in auth_key:
        return {"error": "no authKey parameter was provided"}
    if not params.get("triggerName"):
        return {"error": "no trigger name parameter was provided"}
    body = {k: v for k, v in params.items() if k not in ("package_endpoint", "authKey")}
    body["type"] = kind
    body.setdefault("lifecycleEvent", "CREATE")
    request = urllib.request.Request(
        endpoint.rstrip("/") + "/alarms", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": "Basic " + base64.b64encode(auth_key.encode()).decode()})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            result: dict[str, Any] = json.loads(response.read() or b"{}")
            return result
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error")
        except (ValueError, AttributeError):
            error = None
        return {"error": error or f"the alarms provider answered {exc.code}"}
    except OSError as exc:
        return {"error": f"the alarms provider is unreachable: {exc}"}
