"""The hub's topic names and the configuration each kind of topic is created with.

Every name a process uses comes from a `Topics` (KafkaSettings.topics): the hub's prefix
(MPPHUB_TOPIC_PREFIX, default none) put before every topic and consumer group, so two hubs can
share one cluster. The *_TOPIC constants below are names within a hub, before the prefix: code
that talks to Kafka never uses them directly (tests/test_topics_prefix.py checks that).

Canonical topics are the source of truth projections are rebuilt from: kept forever. Table
topics and the connectors' offsets are state by key: compacted. Dead letters and data-quality
findings are the record of what happened: kept for the hub's record retention (default forever).
A few topics have a partition count of their own: identity resolution is one ordered sequence."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

TopicConfig = Mapping[str, str]

KEEP_FOREVER: TopicConfig = {"cleanup.policy": "delete", "retention.ms": "-1"}
COMPACT: TopicConfig = {"cleanup.policy": "compact"}
DELETE: TopicConfig = {"cleanup.policy": "delete"}

# Names within a hub (before its prefix).
PERSON_TOPIC = "mpp.canonical.person"
PERMIT_TOPIC = "mpp.canonical.permit"
SERVICE_TOPIC = "mpp.canonical.service"
DEADLETTER_TOPIC = "mpp.hub.deadletter"
DQ_FINDINGS_TOPIC = "mpp.hub.dq-findings"
CONNECT_OFFSETS_TOPIC = "mpp.hub.connect-offsets"
# What `mpphub deadletter replay` re-sent, by whom and why (ops/deadletter.py): kept forever.
DEADLETTER_REPLAYS_TOPIC = "mpp.hub.deadletter-replays"
# Identity decisions, and supervisors' review decisions waiting for the resolver (see
# streams/identity.py). Both kept forever: the decisions are the person ids' only source, and the
# supervisors' are the audit of who decided.
IDENTITY_TOPIC = "mpp.canonical.identity"
IDENTITY_REVIEWS_TOPIC = "mpp.hub.identity-reviews"
# The audit chain's published heads (projections/audit/heads.py): kept forever, never compacted,
# so no one can take back what the audit said at a time.
AUDIT_HEADS_TOPIC = "mpp.hub.audit-heads"
# A source table's change topic: RAW_NAMESPACE.<agency>.<table> (also its Avro namespace).
RAW_NAMESPACE = "mpp"

# Topics with a partition count of their own, whatever the default: the resolver reads person
# facts and review commands as one ordered sequence and writes its decisions in that order (a
# partitioned index would decide differently).
PARTITIONS: Mapping[str, int] = {PERSON_TOPIC: 1, IDENTITY_TOPIC: 1, IDENTITY_REVIEWS_TOPIC: 1}

CANONICAL_TOPICS: tuple[str, str, str] = (PERSON_TOPIC, PERMIT_TOPIC, SERVICE_TOPIC)

# A prefix: topic-name characters, ending in a separator so the names stay readable.
_PREFIX = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]{0,62}[._-])?$")
PREFIX_RULE = (
    "letters, digits, '.', '_' or '-', at most 64, ending in '.', '_' or '-' (e.g. 'kota-a.')"
)


def check_prefix(prefix: str) -> str:
    """The prefix when it is one (PREFIX_RULE); ValueError saying the rule otherwise."""
    if not _PREFIX.match(prefix):
        raise ValueError(f"{prefix!r} is not a topic prefix: use {PREFIX_RULE}")
    return prefix


def check_retention(ms: int) -> int:
    """A retention.ms for kept records: -1 (forever) or a positive number of milliseconds."""
    if ms != -1 and ms <= 0:
        raise ValueError("use -1 (keep forever) or a positive number of milliseconds")
    return ms


@dataclass(frozen=True)
class Topics:
    """The names of one hub's topics and consumer groups, and their configurations."""

    prefix: str = ""
    # retention.ms of dead letters and data-quality findings.
    record_retention_ms: int = -1

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        check_retention(self.record_retention_ms)

    def name(self, base: str) -> str:
        """The topic (or consumer group) a name within the hub has on the cluster."""
        return self.prefix + base

    def group(self, group_id: str) -> str:
        """A consumer group id (a Faust app id: its internal topics follow it) of this hub."""
        return self.prefix + group_id

    def raw(self, agency: str, table: str) -> str:
        """A source table's change topic (lower-cased: topic names are case-sensitive)."""
        return self.name(f"{RAW_NAMESPACE}.{agency}.{table.lower()}")

    def agency_table(self, topic: str) -> tuple[str | None, str | None]:
        """Agency and table of a change topic of this hub; (None, None) for any other."""
        parts = topic.removeprefix(self.prefix).split(".") if topic.startswith(self.prefix) else []
        if len(parts) == 3 and parts[0] == RAW_NAMESPACE and all(parts):
            return parts[1], parts[2]
        return None, None

    person = property(lambda self: self.name(PERSON_TOPIC))
    permit = property(lambda self: self.name(PERMIT_TOPIC))
    service = property(lambda self: self.name(SERVICE_TOPIC))
    identity = property(lambda self: self.name(IDENTITY_TOPIC))
    identity_reviews = property(lambda self: self.name(IDENTITY_REVIEWS_TOPIC))
    deadletter = property(lambda self: self.name(DEADLETTER_TOPIC))
    deadletter_replays = property(lambda self: self.name(DEADLETTER_REPLAYS_TOPIC))
    dq_findings = property(lambda self: self.name(DQ_FINDINGS_TOPIC))
    connect_offsets = property(lambda self: self.name(CONNECT_OFFSETS_TOPIC))
    audit_heads = property(lambda self: self.name(AUDIT_HEADS_TOPIC))

    @property
    def canonical(self) -> tuple[str, str, str]:
        """The canonical fact topics: person, permit, service."""
        return (self.person, self.permit, self.service)

    @property
    def kept_records(self) -> TopicConfig:
        """The configuration of dead letters and data-quality findings."""
        return {"cleanup.policy": "delete", "retention.ms": str(self.record_retention_ms)}

    @property
    def stream_outputs(self) -> dict[str, TopicConfig]:
        """Every topic the stream stage writes, with its configuration. The service topic is
        kept whole, not compacted: a delete event carries only the key, and a rebuild must still
        see the service it deletes (the live projection did)."""
        return {
            self.person: KEEP_FOREVER,
            self.permit: KEEP_FOREVER,
            self.service: KEEP_FOREVER,
            self.identity: KEEP_FOREVER,
            self.dq_findings: self.kept_records,
            self.deadletter: self.kept_records,
        }

    @property
    def stream_commands(self) -> dict[str, TopicConfig]:
        """Topics the stream stage reads that no connector writes: the supervisors' review
        decisions (written by the API)."""
        return {self.identity_reviews: KEEP_FOREVER}

    @property
    def partitions(self) -> dict[str, int]:
        """Topics with a partition count of their own (PARTITIONS), by their name here."""
        return {self.name(base): n for base, n in PARTITIONS.items()}

    def partitions_of(self, topic: str, default: int) -> int:
        """The partition count a topic is created with: its own, else `default`."""
        return self.partitions.get(topic, default)


def table_topic_config(keyed: bool) -> TopicConfig:
    """A source table's change topic: compacted when the key identifies the row."""
    return COMPACT if keyed else DELETE
