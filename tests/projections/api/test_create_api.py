"""create_api as assembled: /metrics serves the process's Prometheus registry, hub metrics
included."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from projections.metrics import observe_batch
from projections.writer import BatchResult

TOPIC = "test.api.metrics"


def events_served(client) -> float:
    """mpphub_projection_events_total of TOPIC as /metrics serves it (0 before any)."""
    r = client.get("/metrics/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return sum(
        s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == "mpphub_projection_events_total" and s.labels == {"topic": TOPIC}
    )


def test_metrics_serve_the_projection_counters(client):
    before = events_served(client)
    result = BatchResult(received=3, applied=3)
    result.per_topic[TOPIC] = 3
    observe_batch(result, 0.01)
    assert events_served(client) == before + 3
