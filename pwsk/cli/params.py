"""Turning command-line input into request bodies: ``-p``/``-a`` pairs, files, action code.

* ``-p KEY VALUE``: VALUE is used as JSON when it parses (``5``, ``true``, ``{"a":1}``),
  otherwise as a string; ``-P FILE`` holds a JSON object. Later pairs override earlier ones,
  pairs override the file.
* The action kind comes from ``--kind``, ``--docker``/``--native`` (blackbox), or the
  artifact's extension; a ``.zip`` (or ``.jar``) is sent base64-encoded and needs ``--kind``.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from .common import EXIT_NOT_ALLOWED, EXIT_USAGE, CliError

Json = dict[str, Any]
Pairs = Sequence[tuple[str, str]]

SKELETON_IMAGE = "openwhisk/dockerskeleton"
EXTENSION_KINDS = {
    ".js": "nodejs",
    ".py": "python",
    ".swift": "swift",
    ".jar": "java",
    ".php": "php",
    ".rb": "ruby",
    ".rs": "rust",
    ".go": "go",
    ".balx": "ballerina",
}
BINARY_EXTENSIONS = (".zip", ".jar", ".balx")
MAX_JS_INT = 2**53 - 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_value(text: str) -> Any:
    """JSON when ``text`` is valid JSON (strictly: no NaN), else the string itself."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return text


def read_file(name: str) -> str:
    path = Path(name)
    if not path.is_file():
        raise CliError(
            f"File '{name}' is not a valid file or it does not exist", EXIT_USAGE, usage=True
        )
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CliError(f"Unable to read the file '{name}': {exc}", usage=True) from None


def key_values(pairs: Pairs, file: str | None, what: str = "parameter") -> Json:
    """Merge ``-P file`` then ``-p`` pairs into one object (``what``: parameter/annotation)."""
    merged: Json = {}
    if file:
        content = read_file(file)
        try:
            data = json.loads(content, parse_constant=_reject_constant)
        except ValueError as exc:
            raise CliError(f"Invalid {what} argument '{file}': {exc}", usage=True) from None
        if not isinstance(data, dict):
            raise CliError(
                f"Invalid {what} argument '{file}': the file must hold a JSON object", usage=True
            )
        merged.update(data)
    for key, value in pairs:
        merged[key] = parse_value(value)
    return merged


def to_kv(values: Json, secret: Collection[str] = ()) -> list[Json]:
    """``{"a": 1}`` → ``[{"key": "a", "value": 1}]``, the entity wire format; keys in
    ``secret`` get ``"secret": true``."""
    return [{"key": k, "value": v, "secret": True} if k in secret else {"key": k, "value": v}
            for k, v in values.items()]


def with_secrets(values: Json, opts: Json) -> tuple[Json, set[str]]:
    """``values`` with the ``--param-secret`` pairs over them, and the secret keys."""
    secret = key_values(opts.get("secret_params") or (), None)
    return {**values, **secret}, set(secret)


# --- action code ------------------------------------------------------------------------


def _invalid(message: str, code: int = EXIT_USAGE) -> CliError:
    # wsk wraps action parsing problems as "Invalid argument(s). <reason>".
    return CliError(f"Invalid argument(s). {message}", code, usage=True)


def build_exec(
    artifact: str | None,
    *,
    kind: str | None = None,
    main: str | None = None,
    docker: str | None = None,
    native: bool = False,
) -> Json:
    """The ``exec`` object for a code artifact, a Docker image, or both."""
    if kind and docker:
        raise _invalid(
            "Cannot specify both --kind and --docker at the same time.", EXIT_NOT_ALLOWED
        )
    exec_: Json = {}
    ext = ""
    if artifact is not None:
        ext = Path(artifact).suffix.lower()
        if ext in BINARY_EXTENSIONS:
            path = Path(artifact)
            if not path.is_file():
                raise _invalid(f"File '{artifact}' is not a valid file or it does not exist")
            exec_["code"] = base64.b64encode(path.read_bytes()).decode("ascii")
        else:
            try:
                exec_["code"] = read_file(artifact)
            except CliError as exc:
                raise _invalid(exc.message, exc.exit_code) from None
    elif not docker:
        raise _invalid("An action name and code artifact are required.")

    if kind:
        exec_["kind"] = kind
    elif docker or native:
        exec_["kind"] = "blackbox"
        exec_["image"] = docker or SKELETON_IMAGE
    elif ext in EXTENSION_KINDS:
        exec_["kind"] = f"{EXTENSION_KINDS[ext]}:default"
    elif ext == ".zip":
        raise _invalid(
            "creating an action from a .zip artifact requires specifying the action kind explicitly"
        )
    else:
        raise _invalid(f"'{ext}' is not a supported action runtime")
    if main:
        exec_["main"] = main
    return exec_


def sequence_exec(components: Sequence[str]) -> Json:
    return {"kind": "sequence", "components": list(components)}


# --- web actions ------------------------------------------------------------------------

WEB_KEYS = ("web-export", "raw-http", "final")


def web_annotations(mode: str) -> Json:
    """``--web``: yes|true → web action, raw → raw HTTP web action, no|false → standard."""
    value = mode.lower()
    if value in ("yes", "true"):
        return {"web-export": True, "raw-http": False, "final": True}
    if value == "raw":
        return {"web-export": True, "raw-http": True, "final": True}
    if value in ("no", "false"):
        return {"web-export": False, "raw-http": False, "final": False}
    raise CliError(
        f"Invalid argument '{mode}' for --web flag. Valid input consist of 'yes', 'true', "
        "'raw', 'false', or 'no'.",
        EXIT_USAGE,
        usage=True,
    )


def web_secret(mode: str, existing: Any = None) -> Any:
    """``--web-secure``: ``true`` → a random number (kept if one exists), ``false`` → False."""
    value = mode.lower()
    if value == "true":
        if isinstance(existing, int) and not isinstance(existing, bool):
            return existing
        return random.getrandbits(63) & MAX_JS_INT
    if value == "false":
        return False
    return mode
