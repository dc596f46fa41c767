"""The worker's Prometheus metrics of the normalize step and the identity resolver (names are
what ops/monitoring's alert rules and dashboards use). Labels never carry personal data: topic
names, stage names, agency codes, rule codes and decision kinds only."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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

IDENTITY_DECISIONS = Counter(
    "mpphub_identity_decisions_total",
    "Identity decisions logged by the resolver, per kind (NEW, LINK, MERGE, SPLIT, REVIEW, ...).",
    ["kind"],
)
IDENTITY_REVIEW_QUEUE = Gauge(
    "mpphub_identity_review_queue",
    "Open review decisions: record pairs that may be one person, waiting for a supervisor.",
)
IDENTITY_PERSONS = Gauge(
    "mpphub_identity_persons",
    "Persons in the resolver's index (ids that are not aliases).",
)
IDENTITY_CANDIDATES = Counter(
    "mpphub_identity_candidates_total",
    "Record pairs the resolver scored (blocking candidates). Per resolved record this grows "
    "with the population until the block caps hold it: the resolver's cost per record with it.",
)
IDENTITY_RESOLVE_SECONDS = Histogram(
    "mpphub_identity_resolve_seconds",
    "Time the resolver takes to decide one record or one supervisor command (no I/O).",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
)
