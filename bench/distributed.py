"""Warm invoke and cold starts on the distributed stack (Kafka, Consul, CouchDB, Docker).

Starts the test stack of ``tests/distributed.py`` (gateway, 2 controllers, 2 invokers; the
engines come from ``scripts/services up``), then measures through the gateway:

* warm blocking invoke of a no-op Python action (p50/p99 over N calls), next to the floor
  of the gateway's own trivial GET (``/ping`` through to a controller);
* cold start of a never-seen action: first blocking invoke, with a prewarmed stem cell of
  its kind (python:3.11) and without one (a kind with no stem cell: blackbox/native).

    python bench/distributed.py [-n 1000]
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.distributed import start_stack  # noqa: E402

NOOP = "def main(args):\n    return {}\n"


def summary(label: str, ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    p50, p99 = statistics.median(ms), ms[max(0, int(len(ms) * 0.99) - 1)]
    print(f"{label:<44} n={len(ms):<5} p50={p50:8.2f} ms  p99={p99:8.2f} ms")
    return p50, p99


def native_zip() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("exec")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\necho '{}'\n")
    return base64.b64encode(buf.getvalue()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        try:
            with stack.client() as api:
                ns = "/api/v1/namespaces/_/actions"
                api.put(f"{ns}/noop", json={"exec": {"kind": "python:3.11", "code": NOOP}})
                url = f"{ns}/noop?blocking=true&result=true"
                for _ in range(50):
                    api.post(url, json={})
                floor, warm = [], []
                for _ in range(args.n):
                    t0 = time.perf_counter()
                    api.get("/ping")
                    floor.append((time.perf_counter() - t0) * 1000)
                for _ in range(args.n):
                    t0 = time.perf_counter()
                    api.post(url, json={})
                    warm.append((time.perf_counter() - t0) * 1000)
                cold_pre, cold_none = [], []
                for i in range(5):
                    api.put(f"{ns}/cold{i}", json={"exec": {"kind": "python:3.11",
                                                            "code": NOOP}})
                    api.put(f"{ns}/native{i}", json={"exec": {
                        "kind": "blackbox", "image": "openwhisk/dockerskeleton",
                        "code": native_zip()}})
                    time.sleep(1.5)  # let the stem cell used last time be replaced
                    t0 = time.perf_counter()
                    api.post(f"{ns}/cold{i}?blocking=true", json={})
                    cold_pre.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    api.post(f"{ns}/native{i}?blocking=true", json={})
                    cold_none.append((time.perf_counter() - t0) * 1000)
            f50, _ = summary("floor: GET /ping through the gateway", floor)
            w50, _ = summary("warm blocking invoke (python no-op)", warm)
            summary("cold start, prewarmed python stem cell", cold_pre)
            summary("cold start, no stem cell (native blackbox)", cold_none)
            print(f"{'warm invoke / floor':<44} p50 x{w50 / f50:.1f}")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
