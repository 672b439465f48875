"""wsk's tables and summaries, column for column, as pure functions returning lines.

Entity lists print a bold header (``actions``) and rows ``/ns/name`` padded to 70 columns
followed by ``private``/``shared`` and, for actions, the kind. Activation lists print
Datetime, Activation ID, Kind, Start (``cold`` when the record has an ``initTime``
annotation), Duration, Status and Entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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
    """The ``activation list`` table; Kind and Status widths follow the longest value."""
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
