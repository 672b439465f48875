"""Secret parameters: marked ``{"key", "value", "secret": true}``, redacted where shown.

* The API shows a secret's value as ``REDACTED`` (GET, PUT and DELETE answers of actions,
  packages, bindings and triggers); ``redact_doc`` does that on the way out.
* A PUT that sends ``REDACTED`` back as the value of a parameter stored secret keeps the
  stored value (a GET-then-PUT round trip, or a client that drops the ``secret`` field, must
  not overwrite a token with the marker); ``restore`` does that on the way in.
* The invoker masks every occurrence of a secret's text in an activation's logs and result
  (``Masker``); the action itself receives the real value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from .errors import BadRequest

Json = dict[str, Any]

REDACTED = "********"
# Shorter texts are not masked in logs: masking "1" or "no" would garble every line and a
# value that short is no secret worth the name.
MIN_MASKED = 4


def is_secret(param: Json) -> bool:
    return param.get("secret") is True


def has_secret(params: Iterable[Json]) -> bool:
    return any(p.get("secret") is True for p in params)


def redact(params: list[Json]) -> list[Json]:
    """A copy of ``params`` in which every secret value is the marker."""
    if not has_secret(params):
        return params
    return [{**p, "value": REDACTED} if p.get("secret") is True else p for p in params]


def redact_doc(doc: Json) -> Json:
    """The entity JSON as the API shows it (``parameters`` redacted), a shallow copy."""
    params = doc.get("parameters")
    if not params or not has_secret(params):
        return doc
    return {**doc, "parameters": redact(params)}


def restore(new: list[Json], old: list[Json] | None, strict: bool = True) -> list[Json]:
    """Parameters sent with the marker as the value of a stored secret keep the stored
    value and stay secret. The marker for a secret with nothing stored is a 400 (``strict``)
    or is left for ``settle`` (a binding may inherit the value from its package)."""
    if not any(p.get("value") == REDACTED for p in new):
        return new
    stored = {p["key"]: p for p in old or [] if p.get("secret") is True}
    out: list[Json] = []
    for p in new:
        if p.get("value") == REDACTED and p["key"] in stored:
            out.append({**p, "value": stored[p["key"]].get("value"), "secret": True})
        else:
            out.append(p)
    return settle(out, []) if strict else out


def settle(params: list[Json], inherited: list[Json]) -> list[Json]:
    """After ``restore``: a binding's marker for a secret of its bound package is dropped
    (the package's value applies, as GET showed it merged), with or without the ``secret``
    field; any other marker left for a secret is a 400, since no value exists to keep."""
    if not any(p.get("value") == REDACTED for p in params):
        return params
    bound = {p["key"] for p in inherited if p.get("secret") is True}
    out: list[Json] = []
    for p in params:
        if p.get("value") != REDACTED:
            out.append(p)
        elif p["key"] in bound:
            continue
        elif p.get("secret") is True:
            raise BadRequest(
                f"The request content was malformed: parameter '{p['key']}' is secret and its "
                "value is the redaction marker, but no stored value exists to keep; give "
                "its value."
            )
        else:
            out.append(p)
    return out


def secret_keys(params: Iterable[Json]) -> list[str]:
    return [p["key"] for p in params if p.get("secret") is True]


def mark_secret(params: list[Json], keys: list[str], args: Json) -> list[Json]:
    """``params`` with ``keys`` marked secret (values from ``args``, which override them
    anyway): a trigger's secret parameters reach its rules' actions as arguments."""
    out = [{**p, "value": args.get(p["key"]), "secret": True} if p["key"] in keys else p
           for p in params]
    present = {p["key"] for p in params}
    return out + [{"key": k, "value": args.get(k), "secret": True}
                  for k in keys if k not in present]


def _texts(value: Any, out: set[str]) -> None:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _texts(v, out)
    elif isinstance(value, list):
        for v in value:
            _texts(v, out)
    elif value is not None and not isinstance(value, bool):
        out.add(str(value))


def texts_of(values: Iterable[Any]) -> list[str]:
    """The texts to mask for these secret values: each string (and number) in them, also
    as JSON escapes it, longest first so that a longer secret is masked whole."""
    found: set[str] = set()
    for value in values:
        _texts(value, found)
    forms: set[str] = set()
    for text in found:
        if len(text) < MIN_MASKED:
            continue
        forms.add(text)
        forms.add(orjson.dumps(text).decode()[1:-1])
        forms.add(json.dumps(text)[1:-1])  # with \\uXXXX escapes, as Python prints it
    return sorted(forms, key=len, reverse=True)


class Masker:
    """Replaces the texts of secret values with the marker in log lines and results."""

    __slots__ = ("texts",)

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __bool__(self) -> bool:
        return bool(self.texts)

    @classmethod
    def for_args(cls, content: Json, keys: Iterable[str]) -> Masker:
        return cls(texts_of(content[k] for k in keys if k in content))

    def text(self, text: str) -> str:
        for secret in self.texts:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value
