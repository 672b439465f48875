"""Document stores: SQLite embedded, CouchDB for the distributed stack (``open_store``)."""

from __future__ import annotations

from pathlib import Path

from .base import ACTIVATIONS, SUBJECTS, WHISKS, ActivationQuery, EntityQuery, Json, Store

__all__ = [
    "ACTIVATIONS", "SUBJECTS", "WHISKS", "ActivationQuery", "EntityQuery", "Json", "Store",
    "open_store",
]


def open_store(url: str) -> Store:
    """``sqlite:///path/file.db``, ``sqlite://:memory:``, or
    ``couchdb://[user:password@]host[:port][?prefix=pwsk_]`` (``couchdbs://`` for TLS)."""
    if url.startswith("sqlite://"):
        from .sqlite import SqliteStore

        target = url[len("sqlite://"):]
        if target == ":memory:":
            return SqliteStore(None)
        return SqliteStore(Path(target))
    if url.startswith(("couchdb://", "couchdbs://")):
        from .couchdb import CouchStore

        return CouchStore.from_url(url)
    raise ValueError(f"unsupported store url {url!r}")
