"""A worker's /metrics with stages in child processes (ops/metrics.py Merged): one family per
name, each process's share added up, so that a scrape reads as one process's would."""

from __future__ import annotations

import time
import urllib.request
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from ops.metrics import Merged
from ops.processes import free_port


class Child:
    """What a child's relay yields: its registry's text, parsed (ops/stage_process._Relay)."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from text_string_to_metric_families(generate_latest(self.registry).decode())


def _metrics(registry: CollectorRegistry) -> dict[str, object]:
    return {
        "dead": Counter("mpphub_dead_letters", "d", ["stage"], registry=registry),
        "found": Counter("mpphub_findings", "f", ["rule"], registry=registry),
        "persons": Gauge("mpphub_persons", "p", registry=registry),
        "seconds": Histogram("mpphub_seconds", "s", buckets=(1.0,), registry=registry),
    }


def _values(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_each_family_once_with_the_shares_of_both_processes_added() -> None:
    parent, child = CollectorRegistry(), CollectorRegistry()
    mine = _metrics(parent)
    time.sleep(0.01)  # the child's metrics are created after the parent's
    theirs = _metrics(child)
    mine["dead"].labels(stage="normalize").inc(2)
    theirs["dead"].labels(stage="identity").inc(3)
    mine["found"].labels(rule="NIK_MALFORMED").inc(1)
    theirs["found"].labels(rule="NIK_MALFORMED").inc(4)
    theirs["persons"].set(7)  # the child's gauge; the parent's stays at its initial 0
    mine["seconds"].observe(0.5)
    theirs["seconds"].observe(2.0)
    merged = Merged(parent)
    merged.add(Child(child))

    text = generate_latest(merged).decode()

    types = Tally(line.split()[2] for line in text.splitlines() if line.startswith("# TYPE"))
    assert types and max(types.values()) == 1, f"a family served twice: {types}"
    values = _values(text)
    assert values[("mpphub_dead_letters_total", (("stage", "normalize"),))] == 2
    assert values[("mpphub_dead_letters_total", (("stage", "identity"),))] == 3
    assert values[("mpphub_findings_total", (("rule", "NIK_MALFORMED"),))] == 5
    assert values[("mpphub_persons", ())] == 7
    assert values[("mpphub_seconds_count", ())] == 2
    assert values[("mpphub_seconds_sum", ())] == 2.5
    assert values[("mpphub_seconds_bucket", (("le", "1.0"),))] == 1
    assert values[("mpphub_seconds_bucket", (("le", "+Inf"),))] == 2
    first = _values(generate_latest(parent).decode())
    key = ("mpphub_dead_letters_created", (("stage", "normalize"),))
    assert values[key] == first[key]  # the earliest of the two, not their sum
    key = ("mpphub_findings_created", (("rule", "NIK_MALFORMED"),))
    assert values[key] == first[key]


def test_without_children_the_registry_is_served_as_it_is() -> None:
    parent = CollectorRegistry()
    _metrics(parent)["dead"].labels(stage="normalize").inc()
    assert generate_latest(Merged(parent)) == generate_latest(parent)


def test_a_child_that_does_not_answer_leaves_the_parents_metrics() -> None:
    class Silent:
        def collect(self) -> Iterator[Metric]:
            return iter(())

    parent = CollectorRegistry()
    _metrics(parent)["dead"].labels(stage="normalize").inc(2)
    merged = Merged(parent)
    merged.add(Silent())
    values = _values(generate_latest(merged).decode())
    assert values[("mpphub_dead_letters_total", (("stage", "normalize"),))] == 2


def test_a_scrape_of_some_names_gets_their_merged_samples_only() -> None:
    parent, child = CollectorRegistry(), CollectorRegistry()
    mine, theirs = _metrics(parent), _metrics(child)
    mine["dead"].labels(stage="normalize").inc(2)
    theirs["dead"].labels(stage="identity").inc(3)
    theirs["persons"].set(7)
    merged = Merged(parent)
    merged.add(Child(child))
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=merged)
    try:
        url = f"http://127.0.0.1:{port}/metrics?name[]=mpphub_dead_letters_total"
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
    finally:
        server.shutdown()
        thread.join()
    assert _values(text) == {
        ("mpphub_dead_letters_total", (("stage", "normalize"),)): 2,
        ("mpphub_dead_letters_total", (("stage", "identity"),)): 3,
    }
