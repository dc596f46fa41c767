"""The worker's Prometheus metrics of the normalize step (names are what ops/monitoring's alert
rules and dashboards use). Labels never carry personal data: topic names, stage names, agency
codes and rule codes only."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS = Counter(
    "mpphub_worker_events_total",
    "Raw change events processed by the normalize step, per raw topic.",
    ["topic"],
)
DEAD_LETTERS = Counter(
    "mpphub_worker_dead_letters_total",
    "Messages written to the dead-letter topic by the worker, per stage.",
    ["stage"],
)
DQ_FINDINGS = Counter(
    "mpphub_dq_findings_total",
    "Data-quality findings emitted, per agency and rule code.",
    ["agency", "rule"],
)
BATCH_SECONDS = Histogram(
    "mpphub_worker_batch_seconds",
    "Time to normalize one batch: decode, map, encode, produce and wait for the acks.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
