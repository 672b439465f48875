"""The ``~/.wskprops`` file and the settings it feeds, exactly as ``wsk`` resolves them.

Precedence, lowest first: built-in defaults, the properties file, ``WHISK_*`` environment
variables, then command-line flags (applied by the caller). The file is ``$WSK_CONFIG_FILE``
when that variable is set (even to an empty or missing path, which means "no file"), else
``~/.wskprops``; it holds ``KEY=value`` lines, ``#`` starts a comment.

``NAMESPACE`` is read (``property get`` and wskdeploy show it) but, as in the current wsk,
never used to address entities: unqualified names always mean ``_``, the key's own namespace.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_APIVERSION = "v1"
DEFAULT_NAMESPACE = "_"


@dataclass(slots=True)
class Properties:
    apihost: str = ""
    auth: str = ""
    apiversion: str = DEFAULT_APIVERSION
    namespace: str = DEFAULT_NAMESPACE
    cert: str = ""
    key: str = ""
    apigw_access_token: str = ""


def props_path(env: Mapping[str, str] | None = None) -> Path | None:
    """Where the properties live; None when ``WSK_CONFIG_FILE`` is set but empty."""
    env = os.environ if env is None else env
    if "WSK_CONFIG_FILE" in env:
        value = env["WSK_CONFIG_FILE"]
        return Path(value).expanduser() if value else None
    return Path(env.get("HOME") or Path.home()).expanduser() / ".wskprops"


def _parse_line(line: str) -> tuple[str, str] | None:
    text = line.split("#", 1)[0].strip()
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        return None
    return key.strip().upper(), value.strip()


def read_props(path: Path | None) -> dict[str, str]:
    """``KEY=value`` pairs; a missing or unreadable file is simply empty (as in wsk)."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    props: dict[str, str] = {}
    for line in text.splitlines():
        parsed = _parse_line(line)
        if parsed:
            props[parsed[0]] = parsed[1]
    return props


def write_props(path: Path, props: Mapping[str, str]) -> None:
    """Rewrite ``path`` with ``props``, keeping comments, unknown lines and key order."""
    try:
        old_lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        old_lines = []
    remaining = {k.upper(): v for k, v in props.items()}
    lines: list[str] = []
    for line in old_lines:
        parsed = _parse_line(line)
        if parsed is None:
            lines.append(line)
        elif parsed[0] in remaining:
            lines.append(f"{parsed[0]}={remaining.pop(parsed[0])}")
        # else: the key was unset, so the line goes
    lines += [f"{key}={value}" for key, value in remaining.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    # The file holds an API key: keep it private where the platform allows.
    with contextlib.suppress(OSError):
        path.chmod(0o600)


def load_properties(env: Mapping[str, str] | None = None) -> Properties:
    """Defaults < properties file < ``WHISK_AUTH`` / ``WHISK_APIVERSION`` / ``WHISK_APIHOST``."""
    env = os.environ if env is None else env
    props = read_props(props_path(env))
    result = Properties(
        apihost=props.get("APIHOST", "").rstrip("/"),
        auth=props.get("AUTH", ""),
        apiversion=props.get("APIVERSION") or DEFAULT_APIVERSION,
        namespace=props.get("NAMESPACE") or DEFAULT_NAMESPACE,
        cert=props.get("CERT", ""),
        key=props.get("KEY", ""),
        apigw_access_token=props.get("APIGW_ACCESS_TOKEN", ""),
    )
    if env.get("WHISK_AUTH"):
        result.auth = env["WHISK_AUTH"]
    if env.get("WHISK_APIVERSION"):
        result.apiversion = env["WHISK_APIVERSION"]
    if env.get("WHISK_APIHOST"):
        result.apihost = env["WHISK_APIHOST"].rstrip("/")
    return result
