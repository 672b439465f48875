"""What the brewery actions share: readings, the document database, settings.

Standard library only: the actions run in the plain python runtime. The database speaks
CouchDB's HTTP API: real CouchDB in the distributed deployment, pwsk's embedded store
(``/couch/_``) on the standalone one. Parameters every action understands:

``db_url``   CouchDB root URL; default: ``$__OW_API_HOST/couch/_`` (the embedded store)
``db_name``  database, default ``brewery``
``db_auth``  ``user:password`` for CouchDB; default: the action's own API key, but only for
             the embedded store (no ``db_url``): the platform key never goes to another server
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import os
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

TANKS = ("mash", "boil")
SENSORS = {"temperature": "C", "level": "%", "valve": "state", "pump": "state",
           "heater": "state"}
DEFAULT_THRESHOLDS = {"mash:temperature": 67.0, "boil:temperature": 102.0,
                      "mash:level": 95.0, "boil:level": 95.0}
HYSTERESIS = 0.5  # a value must fall this far below the maximum to clear an alarm
TIMEOUT_S = 10

# (scheme, host, port) → a connection kept open for the next request, also across the
# activations of a warm container: a new TCP connection per call cost the platform an accept
# and a new HTTP protocol instance each time, on the path of every reading.
_kept: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}


def http_request(method: str, url: str, body: bytes | None, headers: dict[str, str],
                 timeout: float) -> tuple[int, str, bytes]:
    """(status, reason, body) of one request over a kept HTTP/1.1 connection.

    A kept connection the server closed while it was idle is replaced at once (the server
    never read the request, so it is not sent twice). Raises ``OSError`` when there is no
    answer (or a broken one), ``ValueError`` for a URL that is not http(s).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url[:200]!r}")
    key = (parts.scheme, parts.hostname, parts.port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    while True:
        conn = _kept.pop(key, None)
        reused = conn is not None
        if conn is None:
            kind = (http.client.HTTPSConnection if parts.scheme == "https"
                    else http.client.HTTPConnection)
            conn = kind(parts.hostname, parts.port, timeout=timeout)
        else:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException) as exc:
            conn.close()
            if reused and isinstance(exc, ConnectionError | http.client.BadStatusLine):
                continue  # closed by the server while idle: a new connection, at once
            if isinstance(exc, OSError):
                raise
            raise ConnectionError(f"a broken answer: {exc!r}") from exc  # callers catch OSError
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            _kept[key] = conn
        return response.status, response.reason, data


class ReadingError(ValueError):
    """The input is not a valid reading; the message says why."""


@dataclass(frozen=True)
class Reading:
    tank: str
    sensor: str
    value: float
    unit: str
    timestamp: int  # epoch ms

    @property
    def key(self) -> str:
        return f"{self.tank}:{self.sensor}"

    @property
    def doc_id(self) -> str:
        return f"reading:{self.tank}:{self.sensor}:{self.timestamp:013d}"

    def to_json(self) -> dict[str, Any]:
        return {"tank": self.tank, "sensor": self.sensor, "value": self.value,
                "unit": self.unit, "timestamp": self.timestamp}


def parse_reading(args: dict[str, Any]) -> Reading:
    tank, sensor = args.get("tank"), args.get("sensor")
    if tank not in TANKS:
        raise ReadingError(f"tank must be one of {', '.join(TANKS)}, got {tank!r}")
    if sensor not in SENSORS:
        raise ReadingError(f"sensor must be one of {', '.join(SENSORS)}, got {sensor!r}")
    value = args.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ReadingError(f"value must be a finite number, got {value!r}")
    unit = args.get("unit", SENSORS[sensor])
    if unit != SENSORS[sensor]:
        raise ReadingError(f"unit of {sensor} must be {SENSORS[sensor]!r}, got {unit!r}")
    ts = args.get("timestamp", int(time.time() * 1000))
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        raise ReadingError(f"timestamp must be epoch milliseconds, got {ts!r}")
    return Reading(str(tank), str(sensor), float(value), str(unit), ts)


class DbError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"database answered {status}: {body}")
        self.status = status
        self.body = body


class Db:
    """A CouchDB database over HTTP (``http_request``): just what the brewery needs."""

    def __init__(self, url: str, name: str, auth: str | None) -> None:
        self.base = f"{url.rstrip('/')}/{name}"
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            self.headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> Db:
        url = args.get("db_url")
        auth = args.get("db_auth")
        if not url:  # the embedded store, which knows the action's own key
            url = os.environ.get("__OW_API_HOST", "") + "/couch/_"
            auth = auth or os.environ.get("__OW_API_KEY")
        return cls(url, args.get("db_name") or "brewery", auth)

    def request(self, method: str, path: str = "", body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        status, reason, raw = http_request(method, self.base + path, data, self.headers,
                                           TIMEOUT_S)
        if status < 300:
            return status, json.loads(raw)
        try:
            return status, json.loads(raw)
        except ValueError:  # an error page that is not JSON
            return status, {"error": reason}

    def ensure(self) -> None:
        """Create the database and the index the queries sort on (idempotent)."""
        status, body = self.request("PUT")
        if status not in (201, 202, 412):
            raise DbError(status, body)
        self.request("POST", "/_index", {"index": {"fields": ["type", "key", "timestamp"]},
                                         "name": "readings"})

    def get(self, doc_id: str) -> dict[str, Any] | None:
        status, body = self.request("GET", "/" + doc_id)
        if status == 404:
            return None
        if status != 200:
            raise DbError(status, body)
        return dict(body)

    def put(self, doc: dict[str, Any]) -> str | None:
        """Write ``doc`` (with its ``_rev`` to update); None on a revision conflict."""
        status, body = self.request("PUT", "/" + doc["_id"], doc)
        if status == 409:
            return None
        if status == 404 and body.get("reason") in ("Database does not exist.",
                                                     "no_db_file"):
            self.ensure()
            return self.put(doc)
        if status not in (200, 201, 202):
            raise DbError(status, body)
        return str(body["rev"])

    def find(self, selector: dict[str, Any], sort: list[Any] | None = None,
             limit: int = 1000) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"selector": selector, "limit": limit}
        if sort:
            query["sort"] = sort
        status, body = self.request("POST", "/_find", query)
        if status == 404:
            return []
        if status != 200:
            raise DbError(status, body)
        return list(body.get("docs", []))


def thresholds(db: Db, args: dict[str, Any]) -> dict[str, float]:
    """Configured maxima: defaults < action parameters < values set from the dashboard."""
    out = dict(DEFAULT_THRESHOLDS)
    given = args.get("thresholds")
    if isinstance(given, dict):
        out.update({k: float(v) for k, v in given.items() if isinstance(v, int | float)})
    stored = db.get("thresholds")
    if stored:
        out.update({k: float(v) for k, v in stored.get("max", {}).items()
                    if isinstance(v, int | float)})
    return out


def error(message: str, status: int = 400) -> dict[str, Any]:
    """An application error; web actions turn ``statusCode`` into the HTTP status."""
    return {"error": {"statusCode": status, "body": {"error": message}}}
