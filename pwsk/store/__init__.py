"""Document stores: SQLite embedded, CouchDB for the distributed stack (``open_store``)."""

from __future__ import annotations

from pathlib import Path

from .base import ACTIVATIONS, SUBJECTS, WHISKS, ActivationQuery, EntityQuery, Json, Store

__all__ = [
    "ACTIVATIONS", "SUBJECTS", "WHISKS", "ActivationQuery", "EntityQuery", "Json", "Store",
    "open_store",
]


def open_store(url: str) -> Store:
    """``sqlite:///path/file.db``, ``sqlite://:memory:``, or ``couchdb://host:port`` (later)."""
    if url.startswith("sqlite://"):
        from .sqlite import SqliteStore

        target = url[len("sqlite://"):]
        if target == ":memory:":
            return SqliteStore(None)
        return SqliteStore(Path(target))
    raise ValueError(f"unsupported store url {url!r}")
