"""Entity names and fully qualified names, with OpenWhisk's validation rules.

A fully qualified name (FQN) is ``/namespace[/package]/name``. Callers may write ``_`` for
their own namespace, drop the leading slash on a three-segment name, or write ``pkg/name``
(two segments, no slash) to mean a package in their own namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BadRequest

DEFAULT_NAMESPACE = "_"
MAX_NAME_LENGTH = 256
_NAME = re.compile(r"\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\Z")


def is_valid_name(name: str) -> bool:
    return bool(_NAME.match(name)) and len(name) <= MAX_NAME_LENGTH


def check_name(name: str, what: str = "name") -> str:
    """Raise a 400 with a message a person can act on when ``name`` is not a valid entity name."""
    if not is_valid_name(name):
        raise BadRequest(
            f"The {what} '{name[:80]}' is not valid: names are 1 to 256 characters, start "
            "with a letter, digit or underscore, and may contain @ . & - and spaces."
        )
    return name


@dataclass(frozen=True, slots=True)
class FQN:
    """``/namespace[/package]/name``; ``path`` is ``namespace[/package]``."""

    namespace: str
    name: str
    package: str | None = None

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.package}" if self.package else self.namespace

    @property
    def doc_id(self) -> str:
        """The store id, as CouchDB's ``_id``: ``ns[/pkg]/name``."""
        return f"{self.path}/{self.name}"

    @property
    def relative(self) -> str:
        """``[pkg/]name``, the name as seen from inside its namespace."""
        return f"{self.package}/{self.name}" if self.package else self.name

    def __str__(self) -> str:
        return f"/{self.doc_id}"

    def resolve(self, namespace: str) -> FQN:
        """Replace ``_`` by the caller's namespace."""
        if self.namespace == DEFAULT_NAMESPACE:
            return FQN(namespace, self.name, self.package)
        return self

    @classmethod
    def from_path(cls, path: str, name: str) -> FQN:
        """From an entity's ``namespace`` field (``ns`` or ``ns/pkg``) and its name."""
        ns, _, pkg = path.partition("/")
        return cls(ns, name, pkg or None)


def parse_fqn(text: str, default_namespace: str = DEFAULT_NAMESPACE) -> FQN:
    """Parse a user-written entity reference (see the module docstring)."""
    raw = text.strip()
    if not raw:
        raise BadRequest("The name is empty.")
    absolute = raw.startswith("/")
    parts = raw.strip("/").split("/")
    if any(p == "" for p in parts):
        raise BadRequest(f"The name '{raw[:80]}' is not valid.")
    if absolute:
        if len(parts) == 2:
            ns, pkg, name = parts[0], None, parts[1]
        elif len(parts) == 3:
            ns, pkg, name = parts
        else:
            raise BadRequest(f"The fully qualified name '{raw[:80]}' is not valid.")
    elif len(parts) == 1:
        ns, pkg, name = default_namespace, None, parts[0]
    elif len(parts) == 2:
        ns, pkg, name = default_namespace, parts[0], parts[1]
    elif len(parts) == 3:
        ns, pkg, name = parts
    else:
        raise BadRequest(f"The name '{raw[:80]}' is not valid.")
    if ns != DEFAULT_NAMESPACE:
        check_name(ns, "namespace")
    if pkg is not None:
        check_name(pkg, "package name")
    check_name(name)
    return FQN(ns, name, pkg)
