"""GET / and /metrics: the front-office page and the Prometheus metrics."""

from __future__ import annotations


def test_page_and_metrics(client):
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.text and "fetch(" in page.text
    metrics = client.get("/metrics/")
    assert metrics.status_code == 200
    assert "mpphub_projection_events_total" in metrics.text or "python_info" in metrics.text
