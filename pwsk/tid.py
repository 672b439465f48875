"""Transaction ids: one per request, carried from the edge to the container and back.

OpenWhisk's transaction id is 32 alphanumeric characters, taken from ``X-Request-ID`` when a
caller sends a usable one. It lives in a context variable so every log line and bus message
made while serving the request carries it without being passed by hand.
"""

from __future__ import annotations

import contextvars
import re
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_VALID = re.compile(r"^[A-Za-z0-9]{1,64}$")

current: contextvars.ContextVar[str] = contextvars.ContextVar("pwsk_tid", default="sid_unknown")


def new() -> str:
    """A fresh 32-character alphanumeric transaction id."""
    # One read of the OS's randomness instead of 32 (the modulo bias is irrelevant here:
    # transaction ids must be unique, not secret).
    return "".join(_ALPHABET[b % 62] for b in secrets.token_bytes(32))


def from_header(value: str | None) -> str:
    """Use the caller's request id when it is a sane token, else make one."""
    if value and _VALID.match(value):
        return value
    return new()


def activation_id() -> str:
    """32 lower-case hex characters, like a dash-less UUID4."""
    return secrets.token_hex(16)
