"""How long log collection holds a warm run's result on the Docker backend.

Starts one python container with ``DockerFactory`` (no platform around it), then times N
``/run`` calls of a no-op over the invoker's own client and, after each, the collection of
its logs up to the sentinels: the time a blocking result waits for its logs.

    python bench/log_wait.py [-n 300]      # needs Docker (scripts/lib/docker.sh)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from invoker.containers.base import ContainerSpec
from invoker.containers.docker import DockerFactory
from invoker.http import ProxyConnection


async def measure(n: int) -> tuple[list[float], list[float]]:
    factory = DockerFactory("http://127.0.0.1:1", invoker="bench-log-wait")
    container = await factory.create(ContainerSpec("python", "python:3.11", 256, "logwait"))
    conn = ProxyConnection(container.host, container.port)
    try:
        await container.wait_ready(60)
        init = {"value": {"code": "def main(a):\n    return {}\n", "main": "main"}}
        status, body = await conn.post("/init", orjson.dumps(init), 30)
        assert status == 200, body
        await container.collect_logs(2, True)
        runs, waits = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            await conn.post("/run", b'{"value": {}}', 30)
            t1 = time.perf_counter()
            logs = await container.collect_logs(2, True)
            t2 = time.perf_counter()
            assert logs.complete
            runs.append((t1 - t0) * 1000)
            waits.append((t2 - t1) * 1000)
        return runs, waits
    finally:
        conn.close()
        await container.destroy()
        await factory.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300)
    runs, waits = asyncio.run(measure(parser.parse_args().n))
    for label, ms in (("/run (invoker client → container)", runs),
                      ("log collection after /run", waits)):
        ms.sort()
        print(f"{label:<36} n={len(ms)} p50 {statistics.median(ms):7.3f} ms  "
              f"p90 {ms[int(len(ms) * 0.9)]:7.3f} ms  p99 {ms[int(len(ms) * 0.99) - 1]:7.3f} ms")


if __name__ == "__main__":
    main()
