"""wsk's tables and summaries, column for column, as pure functions returning lines.

Entity lists print a bold header (``actions``) and rows ``/ns/name`` padded to 70 columns
followed by ``private``/``shared`` and, for actions, the kind. Activation lists print
Datetime, Activation ID, Kind, Start (``cold`` when the record has an ``initTime``
annotation), Duration, Status and Entity. API lists print Action, Verb, API Name and URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Json = dict[str, Any]

STATUS_NAMES = ("success", "application error", "developer error", "internal error")
_STATUS_CODES = {
    "success": 0,
    "application error": 1,
    "action developer error": 2,
    "developer error": 2,
    "whisk internal error": 3,
    "internal error": 3,
}
_TIMESTAMP = re.compile(
    r"\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-6]\d:[0-6]\d.\d+Z( *(stdout|stderr):)?\s(.*)"
)


def annotation(entity: Json, key: str) -> Any:
    for item in entity.get("annotations") or []:
        if isinstance(item, dict) and item.get("key") == key:
            return item.get("value")
    return None


def full_name(entity: Json) -> str:
    return f"/{entity.get('namespace', '')}/{entity.get('name', '')}"


# --- entity lists -------------------------------------------------------------------------


def _sort_key(collection: str, entity: Json) -> tuple[bool, str]:
    ns, name = str(entity.get("namespace", "")), str(entity.get("name", ""))
    if collection == "actions":
        # wsk puts actions outside packages first, each group in name order.
        packaged = "/" in ns
        return packaged, (ns + name).lower() if packaged else name
    return False, (ns + name).lower()


def entity_table(
    collection: str, entities: Sequence[Json], *, name_sort: bool = False
) -> list[str]:
    """``actions`` / ``triggers`` / ``rules`` / ``packages`` table lines (header first)."""
    rows = sorted(entities, key=lambda e: _sort_key(collection, e)) if name_sort else entities
    lines = [collection]
    for entity in rows:
        name = full_name(entity)
        if collection == "actions":
            kind = annotation(entity, "exec") or ""
            lines.append(f"{name:<70} private {kind}")
        elif collection == "rules":
            lines.append(f"{name:<70} {'private':<20} {entity.get('status', '')}")
        elif collection == "packages":
            lines.append(f"{name:<70} {'shared' if entity.get('publish') else 'private'}")
        else:
            lines.append(f"{name:<70} private")
    return lines


# --- activations --------------------------------------------------------------------------


def status_code(activation: Json) -> int:
    """The 0..3 status of an activation, from a list summary or a full record."""
    code = activation.get("statusCode")
    response = activation.get("response")
    if not isinstance(code, int) and isinstance(response, dict):
        code = response.get("statusCode")
        if not isinstance(code, int):
            code = _STATUS_CODES.get(str(response.get("status")), 0)
    return code if isinstance(code, int) else 0


def go_duration(ms: int) -> str:
    """A millisecond count the way Go's ``time.Duration`` prints it: 0s, 23ms, 1.5s, 1m2s."""
    if ms == 0:
        return "0s"
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    if ms < 1000:
        return f"{sign}{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    text = f"{seconds}.{millis:03d}".rstrip("0").rstrip(".") + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def truncate_middle(text: str, width: int) -> str:
    """wsk's ``TruncateStr``: keep both ends, ``...`` in the middle."""
    if len(text) <= width:
        return text
    mid = width // 2
    upper = len(text) - mid + 3
    if width % 2:
        mid += 1
    return text[:mid] + "..." + text[upper:]


def _local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000)


def activation_table(activations: Sequence[Json]) -> list[str]:
    """The ``activation list`` table; Kind and Status widths follow the longest value.

    Like wsk, an empty list prints an empty (header) line rather than the column names.
    """
    if not activations:
        return [""]
    kinds = [str(annotation(a, "kind") or "unknown") for a in activations]
    statuses = [
        STATUS_NAMES[c] if 0 < (c := status_code(a)) < 4 else "success" for a in activations
    ]
    kind_w = max([len("Kind"), *map(len, kinds)])
    status_w = max([len("success"), *map(len, statuses)])
    lines = [
        f"{'Datetime':<19} {'Activation ID':<32} {'Kind':<{kind_w}} {'Start':<6}"
        f"{'Duration':<10} {'Status':<{status_w}} {'Entity':<6}"
    ]
    for act, kind, status in zip(activations, kinds, statuses, strict=True):
        start = int(act.get("start") or 0)
        end = int(act.get("end") or 0)
        # Like wsk: the wall-clock span, and 0s for records without a duration (triggers).
        duration = go_duration(end - start) if act.get("duration") else "0s"
        when = _local(start).strftime("%Y-%m-%d %H:%M:%S")
        temperature = "cold" if annotation(act, "initTime") is not None else "warm"
        entity = (
            truncate_middle(str(act.get("namespace", "")), 20)
            + "/"
            + truncate_middle(str(act.get("name", "")), 30)
            + ":"
            + truncate_middle(str(act.get("version", "")), 20)
        )
        lines.append(
            f"{when} {act.get('activationId', ''):<32} {kind:<{kind_w}} {temperature:<5} "
            f"{duration:<10} {status:<{status_w}} {entity}"
        )
    return lines


def strip_timestamp(line: str) -> str:
    """``2024-05-01T10:00:00.123Z  stdout: hello`` → ``hello``."""
    match = _TIMESTAMP.search(line)
    return match.group(3) if match and match.group(3) else line


def activation_summary_header(activation: Json) -> str:
    """``activation result for '/ns/name' (status at time)`` for ``activation get -s``."""
    response = activation.get("response") or {}
    end = int(activation.get("end") or activation.get("start") or 0)
    when = datetime.fromtimestamp(end // 1000).astimezone()
    stamp = when.strftime("%Y-%m-%d %H:%M:%S %z ") + (when.tzname() or "")
    return (
        f"activation result for '/{activation.get('namespace', '')}/{activation.get('name', '')}'"
        f" ({response.get('status', '')} at {stamp.strip()})"
    )


# --- summaries (``get -s``) -----------------------------------------------------------------


def _param_union(entity: Json) -> list[str]:
    """Bound parameters (``*``, or ``**`` when final) and documented ones, sorted."""
    tag = "**" if annotation(entity, "final") is True else "*"
    bound = sorted(str(p.get("key")) for p in entity.get("parameters") or [] if isinstance(p, dict))
    documented = annotation(entity, "parameters")
    names = set(bound)
    if isinstance(documented, list):
        names |= {str(d["name"]) for d in documented if isinstance(d, dict) and "name" in d}
    return [f"{tag}{n}" if n in bound else n for n in sorted(names)]


def _param_description(params: str) -> str:
    plain = params.replace("*", "")
    parts = plain.split(",")
    if len(parts) > 1:
        last = parts[-1]
        plain = plain.replace(f",{last}", f" and{last}", 1)
        return f"Returns a result based on parameters {plain}"
    return f"Returns a result based on parameter {plain}"


def entity_summary(label: str, name: str, entity: Json) -> list[str]:
    params = ", ".join(_param_union(entity))
    description = annotation(entity, "description")
    if isinstance(description, str) and description:
        head = f"{label} {name}: {description}"
    elif params:
        head = f"{label} {name}: {_param_description(params)}"
    else:
        head = f"{label} {name}"
    return [head, f"   (parameters: {params or 'none defined'})"]


def package_summary(package: Json) -> list[str]:
    base = full_name(package)
    lines = entity_summary("package", base, package)
    members: Iterable[tuple[str, Any]] = [
        *((" action", a) for a in package.get("actions") or []),
        *((" feed  ", f) for f in package.get("feeds") or []),
    ]
    for label, member in members:
        if isinstance(member, dict):
            lines += entity_summary(label, f"{base}/{member.get('name', '')}", member)
    return lines


# --- API routes (``api list``) ----------------------------------------------------------------

API_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch")


@dataclass(frozen=True, slots=True)
class ApiRow:
    """One operation of one API, as ``wsk api list`` shows it."""

    action: str
    verb: str
    api_name: str
    base_path: str
    rel_path: str
    url: str

    @property
    def sort_key(self) -> str:
        # wsk's -n order: base path (or API name), then relative path, then verb.
        return (self.base_path + self.rel_path + self.verb).lower()


def _x_openwhisk_action(operation: Json) -> str:
    ext = operation.get("x-openwhisk")
    if not isinstance(ext, dict):
        return ""
    package = ext.get("package")
    middle = f"{package}/" if package else ""
    return f"/{ext.get('namespace', '')}/{middle}{ext.get('action', '')}"


def api_rows(
    apis: Sequence[Json], rel_path: str | None = None, verb: str | None = None
) -> list[ApiRow]:
    """Every operation of ``getApi``'s ``apis``, optionally only one path and/or verb."""
    rows: list[ApiRow] = []
    for api in apis:
        value = api.get("value") or {}
        swagger = value.get("apidoc") or {}
        base_url = str(value.get("gwApiUrl") or "").rstrip("/")
        api_name = str((swagger.get("info") or {}).get("title") or "")
        base_path = str(swagger.get("basePath") or "")
        for path, operations in (swagger.get("paths") or {}).items():
            if (rel_path and path != rel_path) or not isinstance(operations, dict):
                continue
            for op in API_OPERATIONS:
                operation = operations.get(op)
                if not isinstance(operation, dict) or (verb and op != verb.lower()):
                    continue
                action = _x_openwhisk_action(operation)
                rows.append(ApiRow(action, op, api_name, base_path, path, base_url + path))
    return rows


def api_table(rows: Sequence[ApiRow], *, name_sort: bool = False) -> list[str]:
    """Action, Verb, API Name, URL; the first two columns sized to fit (40 and 30 at most)."""
    if not rows:
        return [f"{'Action':<30} {'Verb':>7} {'API Name':>20}  URL"]
    if name_sort:
        rows = sorted(rows, key=lambda r: r.sort_key)
    action_w = min(40, max(len("Action"), *(len(r.action) for r in rows)))
    name_w = min(30, max(len("API Name"), *(len(r.api_name) for r in rows)))

    def line(action: str, verb: str, name: str, url: str) -> str:
        return f"{action[:action_w]:<{action_w}} {verb:>7} {name[:name_w]:>{name_w + 1}}  {url}"

    return [line("Action", "Verb", "API Name", "URL")] + [
        line(r.action, r.verb, r.api_name, r.url) for r in rows
    ]


def api_details(rows: Sequence[ApiRow], *, name_sort: bool = False) -> list[str]:
    """``api list --full``: every field of every operation, untruncated."""
    if name_sort:
        rows = sorted(rows, key=lambda r: r.sort_key)
    lines: list[str] = []
    for r in rows:
        lines += [
            f"Action: {r.action}",
            f"   API Name: {r.api_name}",
            f"   Base path: {r.base_path}",
            f"   Path: {r.rel_path}",
            f"   Verb: {r.verb}",
            f"   URL: {r.url}",
        ]
    return lines
