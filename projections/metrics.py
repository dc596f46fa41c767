"""Prometheus metrics of the projection writer (names used by ops/monitoring as they are).

No personal data in labels: topics, service codes, SLA states and decision kinds only.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import Counter, Gauge, Histogram

from .writer import BatchResult

FRESHNESS = Histogram(
    "mpphub_projection_freshness_seconds",
    "Time from the change in the source database to its projection commit.",
    # Fine below 2 s (a p99 under 1 s must be readable), coarse beyond.
    buckets=(
        *(0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1),
        *(1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 30, 60, 300, 900, 3600),
    ),
)
TURNAROUND = Histogram(
    "mpphub_permit_turnaround_working_days",
    "Working days from berkas lengkap to the decision, of permits that just finished.",
    ["service"],
    buckets=(0, 1, 2, 3, 5, 7, 9, 12, 15, 20, 25, 30, 45, 60),
)
PERMITS_OPEN = Gauge(
    "mpphub_permits_open",
    "Open permits per SLA state (none: no SLA clock yet).",
    ["sla_state"],
)
EVENTS = Counter(
    "mpphub_projection_events_total",
    "Canonical events applied to the projections, per topic.",
    ["topic"],
)
BATCH_SECONDS = Histogram(
    "mpphub_projection_batch_seconds",
    "Time to apply and commit one batch of canonical events.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IDENTITY_DECISIONS = Counter(
    "mpphub_projection_identity_decisions_total",
    "Identity decisions applied to the projections, per kind (MERGE: persons merged, SPLIT:"
    " persons split, REVIEW: pairs queued for a supervisor).",
    ["kind"],
)
REVIEWS_OPEN = Gauge(
    "mpphub_projection_identity_reviews_open",
    "Pairs of records waiting for a supervisor's decision (the review queue), from the"
    " projection database; reported by the worker in charge of the timers.",
)


def observe_batch(result: BatchResult, seconds: float, now: dt.datetime | None = None) -> None:
    """Record one committed batch: events per topic, freshness, finished permits, duration."""
    now_utc = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    for topic, n in result.per_topic.items():
        EVENTS.labels(topic=topic).inc(n)
    for ts in result.source_ts:
        FRESHNESS.observe(max(0.0, (now_utc - ts).total_seconds()))
    for service, days in result.finished:
        TURNAROUND.labels(service=service).observe(days)
    for kind, n in result.decisions.items():
        IDENTITY_DECISIONS.labels(kind=kind).inc(n)
    BATCH_SECONDS.observe(seconds)


def set_open_permits(counts: dict[str, int]) -> None:
    """Set the open-permit gauges from open_permit_counts()."""
    for state, n in counts.items():
        PERMITS_OPEN.labels(sla_state=state).set(n)


def set_review_queue(n: int) -> None:
    """Set the review-queue gauge from open_review_count()."""
    REVIEWS_OPEN.set(n)
