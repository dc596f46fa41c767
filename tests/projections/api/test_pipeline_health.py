"""GET /pipeline/health without a broker: a supervisor gets a 503 saying Kafka is unreachable
(the page: a clear error page), never a stack trace; an officer is refused before any read.
The figures themselves over the real broker: tests/browser/test_pipeline_health.py."""

from __future__ import annotations

from eventlog import KafkaSettings
from ops.processes import free_port
from tests.projections.api.conftest import OFFICER, SUPERVISOR


def without_kafka(client) -> None:
    settings = client.app.state.settings
    closed = KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}")  # nothing listens there
    client.app.state.settings = settings.model_copy(update={"kafka": closed})


def test_no_broker_is_a_503_that_says_so(client):
    without_kafka(client)
    r = client.get("/pipeline/health", headers=SUPERVISOR)
    assert r.status_code == 503
    assert "Kafka or the schema registry is not reachable" in r.json()["detail"]
    page = client.get("/kesehatan-pipeline", headers=SUPERVISOR | {"Accept": "text/html"})
    assert page.status_code == 503
    assert "Kafka atau registry skema tidak dapat dihubungi" in page.text
    assert "Traceback" not in page.text


def test_an_officer_is_refused(client):
    without_kafka(client)
    assert client.get("/pipeline/health", headers=OFFICER).status_code == 403
