"""Run the benchmark suite: ``python -m bench [--quick] [--deployment standalone|distributed]``.

Starts the deployment (``pwsk standalone`` on processes by default, or the distributed stack
of ``tests/distributed.py`` on Kafka, Consul, CouchDB and Docker), runs each benchmark in
turn, prints its table, and writes ``<out>/<benchmark>-<deployment>.json`` plus
``<out>/summary.png`` (figures against their floors). Benchmarks: memory, latency,
throughput, cold, sequences, triggers, realtime (``--only`` picks some; memory runs first on a fresh
deployment). ``--quick`` uses tiny counts: it checks the suite works, not the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.core import Report, deployment, machine  # noqa: E402
from bench.plot import plot  # noqa: E402
from bench.suite import BENCHMARKS, FULL, QUICK  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts (CI smoke)")
    parser.add_argument("--deployment", default="standalone",
                        help="standalone, distributed, or both (comma-separated)")
    parser.add_argument("--backend", choices=("process", "docker"), default="process",
                        help="standalone's container backend (distributed is always docker)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--activations", type=int, default=None,
                        help="activations for the memory growth figure (default 20000)")
    parser.add_argument("-n", "--invokes", type=int, default=None,
                        help="timed calls per latency series and floor (default 1000)")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else FULL
    if args.activations is not None:
        sizes = replace(sizes, activations=args.activations)
    if args.invokes is not None:
        sizes = replace(sizes, invokes=args.invokes, floor=args.invokes,
                        sequence=min(sizes.sequence, args.invokes))
    names = [n for n in BENCHMARKS if args.only is None or n in args.only]
    reports: list[Report] = []
    print(f"machine: {machine()}", flush=True)
    for kind in args.deployment.split(","):
        env = {"PWSK_CONTAINERS": args.backend} if kind == "standalone" else {}
        with tempfile.TemporaryDirectory(prefix="pwsk-bench-") as tmp, \
                deployment(kind, Path(tmp), env) as target:
            for name in names:
                report = Report(name, kind if args.backend == "process" or kind != "standalone"
                                else f"{kind}-{args.backend}", args.quick)
                t0 = time.perf_counter()
                BENCHMARKS[name](target, sizes, report)
                print(report.table(), flush=True)
                path = report.write(args.out)
                print(f"-- {time.perf_counter() - t0:.1f} s, wrote {path}\n", flush=True)
                reports.append(report)
    png = plot(reports, args.out / "summary.png")
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
