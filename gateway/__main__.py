"""``python -m gateway``: the edge of the distributed stack.

``PWSK_CONTROLLERS=http://127.0.0.1:10001,http://127.0.0.1:10002 PWSK_PORT=3233``.
TLS: set ``PWSK_TLS_CERT`` and ``PWSK_TLS_KEY`` (PEM files).
"""

from __future__ import annotations

import os

import uvicorn

from .app import create_gateway


def main() -> None:
    controllers = [u for u in os.environ.get("PWSK_CONTROLLERS", "").split(",") if u]
    app = create_gateway(controllers or ["http://127.0.0.1:10001"])
    uvicorn.run(app, host=os.environ.get("PWSK_HOST", "127.0.0.1"),
                port=int(os.environ.get("PWSK_PORT", "3233")), log_level="warning",
                access_log=False, http="httptools",
                ssl_certfile=os.environ.get("PWSK_TLS_CERT"),
                ssl_keyfile=os.environ.get("PWSK_TLS_KEY"))


if __name__ == "__main__":
    main()
