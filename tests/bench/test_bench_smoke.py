"""The benchmark suite keeps working: ``python -m bench --quick`` runs and writes its output.

A smoke test only: tiny counts, no assertion on any timing (figures are measured by the
suite itself, on a quiet machine, never by tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT

BENCHMARKS = {"memory", "latency", "throughput", "cold", "sequences", "triggers", "realtime"}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_suite_runs_and_writes_valid_json_and_a_png(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = {p.stem.rsplit("-", 1)[0]: p for p in tmp_path.glob("*-standalone.json")}
    assert set(written) == BENCHMARKS
    for name, path in written.items():
        report = json.loads(path.read_text())  # strict JSON: no NaN
        assert report["benchmark"] == name and report["deployment"] == "standalone"
        assert report["quick"] is True and report["commit"] and report["machine"]["cpus"]
        assert report["figures"], name
        for figure in report["figures"]:
            assert {"figure", "unit", "p50", "p90", "p99", "runs", "floor",
                    "floor_p50", "ratio"} <= set(figure)
            assert figure["runs"] >= 1 and figure["p50"] is not None, figure
            if figure["floor_p50"] is not None:
                assert figure["ratio"] is not None
        # every table line printed, with the figure next to its floor
        assert f"== {name} (standalone, quick)" in done.stdout
    png = (tmp_path / "summary.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
