"""``python -m functions.simulator``: brew over MQTT (or print the brew with ``--stdout``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from .model import Fault, FaultError, Simulator, Step
from .publisher import BrokerAddress, print_brew, publish


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m functions.simulator",
        description="Simulate a two-tank brew and publish its sensors over MQTT.",
        epilog="Faults: overheat@M[+D] (mash heater relay stuck on, default 8 min), "
               "stuck-valve@M[+D] (mash valve jammed shut, default 15 min); M and D are "
               "simulated minutes from mash-in. The mash rest runs from about minute 36 to 96, "
               "the lauter from 96 to 135.",
    )
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                        help="mqtt://[user[:password]@]host[:port] (default %(default)s)")
    parser.add_argument("--time-scale", type=float, default=60.0,
                        help="simulated seconds per real second; 0 = as fast as possible "
                             "(default %(default)s)")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="simulated seconds between reports (default %(default)s)")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND@MINUTE[+MINUTES]",
                        help="inject a fault (repeatable)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop after this many simulated minutes (default: when the brew "
                             "is done)")
    parser.add_argument("--seed", type=int, default=None, help="make the noise repeatable")
    parser.add_argument("--prefix", default="brewery", help="topic prefix (default %(default)s)")
    parser.add_argument("--repeat", action="store_true", help="brew again and again")
    parser.add_argument("--stdout", action="store_true",
                        help="print the brew as JSON lines instead of publishing it")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = [Fault.parse(spec) for spec in args.fault]
        broker = BrokerAddress.parse(args.broker)
        if args.time_scale < 0 or args.interval <= 0:
            raise ValueError("--time-scale must be >= 0 and --interval > 0")
        if args.minutes is not None and not args.minutes > 0:
            raise ValueError("--minutes must be > 0")
    except (FaultError, ValueError) as exc:
        parser.error(str(exc))

    def brew(number: int) -> Simulator:
        seed = None if args.seed is None else args.seed + number
        if args.minutes is None:
            return Simulator(seed=seed, interval=args.interval, faults=faults)
        return Simulator(seed=seed, interval=args.interval, faults=faults,
                         max_seconds=args.minutes * 60)

    if args.stdout:
        try:
            print_brew(brew(0), prefix=args.prefix)
        except BrokenPipeError:  # e.g. piped into head
            sys.stderr.close()
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log = logging.getLogger("functions.simulator")

    def phase_logger() -> Callable[[Step], None]:
        last = [""]

        def on_step(step: Step) -> None:
            if step.phase != last[0]:
                last[0] = step.phase
                log.info("minute %.0f: %s", step.t / 60, step.phase)
        return on_step

    async def run() -> None:
        number = 0
        while True:
            done = await publish(brew(number), broker, time_scale=args.time_scale,
                                 prefix=args.prefix, on_step=phase_logger())
            log.info("brew %d done: %d messages, %d reading set(s) skipped", number + 1,
                     done.messages, done.skipped)
            number += 1
            if not args.repeat:
                return

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
