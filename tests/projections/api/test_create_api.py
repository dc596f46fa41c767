"""create_api as assembled: metrics are not served by the API (its port carries personal data
behind a login); `mpphub api --metrics-port` serves the process's registry, hub metrics
included, on a port of its own."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ops.metrics import serve_metrics
from ops.processes import free_port
from projections.metrics import observe_batch
from projections.writer import BatchResult

TOPIC = "test.api.metrics"


def events_served(port: int) -> float:
    """mpphub_projection_events_total of TOPIC as the metrics port serves it (0 before any)."""
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert r.status_code == 200
    return sum(
        s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == "mpphub_projection_events_total" and s.labels == {"topic": TOPIC}
    )


def test_the_api_does_not_serve_metrics(client):
    assert client.get("/metrics/").status_code == 404
    assert client.get("/metrics").status_code == 404


def test_metrics_serve_the_projection_counters_on_their_own_port():
    port = free_port()
    serve_metrics(port)
    before = events_served(port)
    result = BatchResult(received=3, applied=3)
    result.per_topic[TOPIC] = 3
    observe_batch(result, 0.01)
    assert events_served(port) == before + 3
