"""``python -m bridge --config bridge.yaml``: run the bridge until SIGINT or SIGTERM.

``--check`` validates the configuration and exits (0 when valid, 2 when not), without touching
the broker or pwsk. Exit status 1 means the bridge stopped because a task failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .config import BridgeConfig, ConfigError, load_config
from .mqtt import check_support
from .service import Bridge

log = logging.getLogger("bridge")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bridge",
                                     description="Fire pwsk triggers from MQTT messages.")
    parser.add_argument("--config", "-c", required=True, help="the bridge's YAML file")
    parser.add_argument("--check", action="store_true",
                        help="validate the configuration and exit")
    return parser


async def _serve(config: BridgeConfig) -> None:
    await check_support()
    bridge = Bridge(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bridge.stop()))
    if bridge.metrics_server is not None:
        log.info("metrics on http://%s:%d/metrics (once started)", bridge.metrics_server.host,
                 bridge.metrics_server.port)
    await bridge.run()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.config}: valid ({len(config.routes)} route(s))")
        return 0
    logging.basicConfig(level=config.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per HTTP request would drown the bridge's own story; failures are logged here.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve(config))
    except Exception as exc:  # a failed task: already logged with its traceback
        print(f"bridge: stopped: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
