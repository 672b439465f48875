"""Soak: ``python -m bench.soak --minutes N [--deployment standalone|distributed]``.

The load of ``tests/reliability/test_load.py`` (closed loops mixing blocking invokes, 502s,
non-blocking invokes and fires with two rules each) for ``N`` minutes on a fresh deployment,
with every service's RSS, open descriptors and child processes sampled each second. Then
every accepted activation (and each fire's rule activations) is looked for in the store.
Prints the figures and writes ``<out>/soak-<deployment>.json``: requests and rate, the
answers by kind and status, lost activations, and per service the RSS and descriptor
figures with the whole series (``[t s, RSS MB, fds, children]``), plus the load average
before and after. Records are looked for in the standalone's SQLite file, or through the
activation list on the distributed deployment (its pages are slow with many records).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.core import NS, Figure, Report, deployment, machine  # noqa: E402
from tests.reliability.test_load import (  # noqa: E402
    Flatness,
    Sampler,
    Tally,
    in_store,
    rule_ids_of,
    run_load,
    sample,
    setup_load,
    stored,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--deployment", default="standalone",
                        choices=("standalone", "distributed"))
    parser.add_argument("--backend", choices=("process", "docker"), default="process",
                        help="standalone's container backend (distributed is always docker)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=60,
                        help="seconds left out of the flatness figures (default 60)")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    args = parser.parse_args(argv)

    before = machine()
    print(f"machine: {before}", flush=True)
    env = {"PWSK_CONTAINERS": args.backend} if args.deployment == "standalone" else {}
    label = args.deployment if args.deployment != "standalone" or args.backend == "process" \
        else f"standalone-{args.backend}"
    report = Report("soak", label, quick=False)
    with tempfile.TemporaryDirectory(prefix="pwsk-soak-") as tmp, \
            deployment(args.deployment, Path(tmp), env) as target:
        with target.client() as api:
            setup_load(api)
            for _ in range(20):
                r = api.post(f"{NS}/actions/load-noop?blocking=true", json={})
                assert r.status_code == 200, r.text
        samplers = {name: Sampler(pid) for name, pid in target.services.items()}
        for s in samplers.values():
            s.samples.append(sample(s.pid, 0.0))
            s.start()
        tally = Tally()
        elapsed = asyncio.run(run_load(target.url, args.minutes * 60, args.clients, tally))
        for s in samplers.values():
            s.stopped.set()
            s.join()
        after = machine()
        t0 = time.monotonic()
        with target.client() as api:
            def records(ids: list[str], **params: str) -> tuple[dict[str, Any], list[str]]:
                if args.deployment == "standalone":  # its SQLite file: one query
                    return in_store(target.data_dir, ids, timeout_s=300)
                return stored(api, ids, timeout_s=300, **params)

            fired, lost = records(tally.fires, name="load-t", docs="true")
            rule_ids = [a for record in fired.values() for a in rule_ids_of(record)]
            ids = tally.accepted + tally.fires + rule_ids
            lost += records(tally.accepted + rule_ids)[1]
        checked_s = time.monotonic() - t0

    requests = sum(tally.codes.values())
    report.add(Figure("requests/s", "req/s", [requests / elapsed], higher_is_better=True,
                      note=f"{requests} requests in {elapsed:.0f} s, {args.clients} clients"))
    report.add(Figure("activations lost", "count", [float(len(lost))],
                      note=f"of {len(ids)} accepted (rule activations included)"))
    services: dict[str, Any] = {}
    for name, s in samplers.items():
        flat = Flatness.of(s.samples, args.warmup)
        rss = [x.rss_mb for x in s.samples]
        report.add(Figure(f"RSS, {name}", "MB", rss, floor="RSS at the start",
                          floor_p50=rss[0],
                          note=f"first {rss[0]:.1f}, last {rss[-1]:.1f}, max {max(rss):.1f}"))
        report.add(Figure(f"RSS growth after warm-up, {name}", "MB",
                          [flat.rss_growth_mb()], note="2nd half max - 1st half max"))
        report.add(Figure(f"fds growth beyond children, {name}", "count",
                          [float(flat.fd_growth())], note="2nd half max - 1st half max, "
                          "less 4 per extra child process"))
        services[name] = {
            "rss_mb": {"first": rss[0], "last": rss[-1], "max": max(rss),
                       "growth_after_warmup": round(flat.rss_growth_mb(), 2)},
            "fds": {"first": s.samples[0].fds, "last": s.samples[-1].fds,
                    "max": max(x.fds for x in s.samples),
                    "growth_beyond_children": flat.fd_growth()},
            "children_max": max(x.children for x in s.samples),
            "series": [[round(x.t, 1), round(x.rss_mb, 2), x.fds, x.children]
                       for x in s.samples],
        }
    print(report.table())
    print(f"answers: {dict(sorted(tally.codes.items()))}; unexpected: {len(tally.unexpected)}; "
          f"lost: {len(lost)} of {len(ids)} (checked in {checked_s:.0f} s); load average "
          f"before {before['load']}, after {after['load']}")
    doc = {**report.to_json(), "minutes": args.minutes, "clients": args.clients,
           "requests": requests, "seconds_loaded": round(elapsed, 1),
           "codes": dict(tally.codes), "unexpected": tally.unexpected[:20],
           "activations": len(ids), "lost": lost[:100], "load_before": before["load"],
           "services": services}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"soak-{label}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {path}")
    return 1 if lost or tally.unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
