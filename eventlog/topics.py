"""The hub's own topic names and the configuration each kind of topic is created with.

Canonical topics are the source of truth projections are rebuilt from: kept forever. Table
topics and the connectors' offsets are state by key: compacted. Dead letters and data-quality
findings are a record of what happened: deleted by time (the broker's retention). A few topics
have a partition count of their own (PARTITIONS): identity resolution is one ordered sequence."""

from __future__ import annotations

from collections.abc import Mapping

TopicConfig = Mapping[str, str]

KEEP_FOREVER: TopicConfig = {"cleanup.policy": "delete", "retention.ms": "-1"}
COMPACT: TopicConfig = {"cleanup.policy": "compact"}
DELETE: TopicConfig = {"cleanup.policy": "delete"}

PERSON_TOPIC = "mpp.canonical.person"
PERMIT_TOPIC = "mpp.canonical.permit"
SERVICE_TOPIC = "mpp.canonical.service"
DEADLETTER_TOPIC = "mpp.hub.deadletter"
DQ_FINDINGS_TOPIC = "mpp.hub.dq-findings"
CONNECT_OFFSETS_TOPIC = "mpp.hub.connect-offsets"
# Identity decisions, and supervisors' review decisions waiting for the resolver (see
# streams/identity.py). Both kept forever: the decisions are the person ids' only source, and the
# supervisors' are the audit of who decided.
IDENTITY_TOPIC = "mpp.canonical.identity"
IDENTITY_REVIEWS_TOPIC = "mpp.hub.identity-reviews"
# The audit chain's published heads (projections/audit/heads.py): kept forever, never compacted,
# so no one can take back what the audit said at a time.
AUDIT_HEADS_TOPIC = "mpp.hub.audit-heads"

# Topics with a partition count of their own, whatever the default: the resolver reads person
# facts and review commands as one ordered sequence and writes its decisions in that order (a
# partitioned index would decide differently).
PARTITIONS: Mapping[str, int] = {PERSON_TOPIC: 1, IDENTITY_TOPIC: 1, IDENTITY_REVIEWS_TOPIC: 1}

CANONICAL_TOPICS: tuple[str, str, str] = (PERSON_TOPIC, PERMIT_TOPIC, SERVICE_TOPIC)

# Every topic the stream stage writes, with its configuration. The service topic is kept whole,
# not compacted: a delete event carries only the key, and a rebuild must still see the service
# it deletes (the live projection did).
STREAM_OUTPUTS: Mapping[str, TopicConfig] = {
    PERSON_TOPIC: KEEP_FOREVER,
    PERMIT_TOPIC: KEEP_FOREVER,
    SERVICE_TOPIC: KEEP_FOREVER,
    IDENTITY_TOPIC: KEEP_FOREVER,
    DQ_FINDINGS_TOPIC: DELETE,
    DEADLETTER_TOPIC: DELETE,
}
# Topics the stream stage reads that no connector writes: the supervisors' review decisions
# (written by the API).
STREAM_COMMANDS: Mapping[str, TopicConfig] = {IDENTITY_REVIEWS_TOPIC: KEEP_FOREVER}


def partitions_of(topic: str, default: int) -> int:
    """The partition count a topic is created with: its own (PARTITIONS), else `default`."""
    return PARTITIONS.get(topic, default)


def table_topic_config(keyed: bool) -> TopicConfig:
    """A source table's change topic: compacted when the key identifies the row."""
    return COMPACT if keyed else DELETE
