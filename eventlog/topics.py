"""The hub's own topic names and the configuration each kind of topic is created with.

Canonical topics are the source of truth projections are rebuilt from: kept forever. Table
topics and the connectors' offsets are state by key: compacted. Dead letters and data-quality
findings are a record of what happened: deleted by time (the broker's retention)."""

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
# Identity decisions, and supervisors' review decisions waiting for the resolver: one partition
# each, since identity resolution is one ordered sequence of decisions (see streams/identity.py).
IDENTITY_TOPIC = "mpp.canonical.identity"
IDENTITY_REVIEWS_TOPIC = "mpp.hub.identity-reviews"

CANONICAL_TOPICS: tuple[str, str, str] = (PERSON_TOPIC, PERMIT_TOPIC, SERVICE_TOPIC)

# Every topic the stream stage writes, with its configuration. The service topic is kept whole,
# not compacted: a delete event carries only the key, and a rebuild must still see the service
# it deletes (the live projection did).
STREAM_OUTPUTS: Mapping[str, TopicConfig] = {
    PERSON_TOPIC: KEEP_FOREVER,
    PERMIT_TOPIC: KEEP_FOREVER,
    SERVICE_TOPIC: KEEP_FOREVER,
    DQ_FINDINGS_TOPIC: DELETE,
    DEADLETTER_TOPIC: DELETE,
}


def table_topic_config(keyed: bool) -> TopicConfig:
    """A source table's change topic: compacted when the key identifies the row."""
    return COMPACT if keyed else DELETE
