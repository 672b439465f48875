"""The suite's JSON as a Markdown table: ``python -m bench.markdown [DIR]``.

Used to write docs/performance.md from a run (default directory: artifacts/bench).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ORDER = ["latency", "throughput", "cold", "sequences", "triggers", "realtime", "memory"]


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def table(out_dir: Path) -> str:
    reports = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json"))]
    reports.sort(key=lambda r: (r["deployment"], ORDER.index(r["benchmark"])
                                if r["benchmark"] in ORDER else 99))
    rows = ["| deployment | figure | unit | p50 | p99 | runs | floor | floor p50 | ratio |",
            "|---|---|---|---:|---:|---:|---|---:|---:|"]
    for r in reports:
        for f in r["figures"]:
            ratio = "" if f["ratio"] is None else f"x{f['ratio']:.1f}"
            rows.append(f"| {r['deployment']} | {f['figure']} | {f['unit']} | {_num(f['p50'])} "
                        f"| {_num(f['p99'])} | {f['runs']} | {f['floor']} "
                        f"| {_num(f['floor_p50'])} | {ratio} |")
    machines = {(r["commit"], tuple(r["machine"]["load"])) for r in reports}
    notes = "; ".join(f"commit {c}, load {' '.join(str(x) for x in load)}"
                      for c, load in sorted(machines))
    return "\n".join(rows) + f"\n\nRuns: {notes}.\n"


if __name__ == "__main__":
    print(table(Path(sys.argv[1]) if len(sys.argv) > 1 else
                Path(__file__).resolve().parent.parent / "artifacts" / "bench"))
