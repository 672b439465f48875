"""``python -m controller``: one controller process of the distributed stack.

Configured by ``PWSK_*`` variables (see ``pwsk.settings``), e.g.::

    PWSK_STORE=couchdb://127.0.0.1:5984 PWSK_BUS=kafka://127.0.0.1:9092 \\
    PWSK_REGISTRY=consul://127.0.0.1:8500 PWSK_CONTROLLER_ID=0 PWSK_CLUSTER_SIZE=2 \\
    PWSK_PORT=10001 python -m controller
"""

from __future__ import annotations

import os

import uvicorn

from pwsk import log
from pwsk.bus import open_bus
from pwsk.settings import Settings
from pwsk.store import open_store

from .app import create_app


def main() -> None:
    log.configure(os.environ.get("PWSK_LOG_LEVEL", "info"))
    settings = Settings()
    app = create_app(settings, open_store(settings.store), open_bus(settings.bus))
    uvicorn.run(app, host=os.environ.get("PWSK_HOST", "127.0.0.1"), port=settings.port,
                log_level="warning", access_log=False, http="httptools",
                timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
