"""The metrics endpoint."""

from __future__ import annotations

import httpx
import pytest

from bridge.metrics import Metrics, MetricsServer, parse_metrics

pytestmark = pytest.mark.anyio


def test_render_is_prometheus_text() -> None:
    metrics = Metrics(received=3, fired=2, in_flight=1)
    text = metrics.render()
    assert "# TYPE pwsk_bridge_received_total counter\npwsk_bridge_received_total 3\n" in text
    assert "# TYPE pwsk_bridge_in_flight gauge\npwsk_bridge_in_flight 1\n" in text
    assert "# HELP pwsk_bridge_dead_lettered_total Fires written to the dead-letter file" in text
    values = parse_metrics(text)
    assert set(values) >= {"received", "fired", "retried", "dead_lettered", "in_flight",
                           "reconnects"}
    assert values["fired"] == 2


async def test_the_server_answers_metrics_and_health() -> None:
    metrics = Metrics()
    healthy = [False]
    report: dict[str, object] = {"status": "degraded", "pwsk": {"status": "down"}}
    server = MetricsServer(metrics, "127.0.0.1", 0, lambda: healthy[0], lambda: report)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            metrics.received = 5
            response = await client.get("/metrics?x=1")
            assert response.status_code == 200
            assert parse_metrics(response.text)["received"] == 5
            assert (await client.get("/healthz")).status_code == 503
            healthy[0] = True
            assert (await client.get("/healthz")).text == "ok\n"
            response = await client.get("/health")
            assert (response.status_code, response.json()) == (503, report)
            report["status"] = "ok"
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/nope")).status_code == 404
            assert (await client.post("/metrics")).status_code == 405
    finally:
        await server.stop()
