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


def test_one_read_serves_every_call_for_ten_seconds_and_a_failure_is_not_kept():
    from projections.api.pipeline import CACHE_S, HealthCache
    from projections.pipeline import PipelineHealth

    now = [100.0]
    reads: list[PipelineHealth] = []

    def read() -> PipelineHealth:
        reads.append(PipelineHealth(unreadable_letters=len(reads)))
        return reads[-1]

    def broken() -> PipelineHealth:
        raise OSError("unreachable")

    cache = HealthCache(clock=lambda: now[0])
    first = cache.get(read)
    now[0] += CACHE_S - 0.1
    assert cache.get(read) is first and len(reads) == 1
    now[0] += 0.2  # older than CACHE_S: read again
    assert cache.get(read) is not first and len(reads) == 2
    fresh = HealthCache(clock=lambda: now[0])
    for _ in range(2):  # a failed read is tried again at the next call
        try:
            fresh.get(broken)
        except OSError:
            pass
    assert fresh.get(read) is reads[-1] and len(reads) == 3
