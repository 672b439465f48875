"""Fixtures for the brewery tests: a local Telegram Bot API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from tests.functions.telegram import FakeTelegram


@pytest.fixture
def telegram() -> Iterator[str]:
    FakeTelegram.sent = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeTelegram)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
