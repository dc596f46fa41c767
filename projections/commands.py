"""Supervisors' review decisions as commands to the resolver: a MUST_LINK / CANNOT_LINK
IdentityDecision produced to mpp.hub.identity-reviews (Avro, string key, acks=all, idempotent).

The read side never decides an identity itself: the resolver reads the command, honours it from
then on, and its own MUST_LINK / CANNOT_LINK on mpp.canonical.identity is what closes the review
in the projection. The topic is the stream stage's (it creates it, one partition).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiokafka import AIOKafkaProducer

from eventlog import KafkaSettings
from schemas import catalog
from schemas.codec import encode, parse
from schemas.registry import RegistryAuth, RegistryClient

SAME, DIFFERENT = "same", "different"
KINDS = {SAME: "MUST_LINK", DIFFERENT: "CANNOT_LINK"}
SEND_TIMEOUT_S = 30.0


def review_command(
    decision: str,
    record_id: str,
    other_record_id: str,
    *,
    person_id: str,
    who: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The IdentityDecision of a supervisor's "same" / "different" on two records; `reason` is
    who decided (a user name, never the citizen's data)."""
    return {
        "kind": KINDS[decision],
        "person_id": person_id,
        "record_id": record_id,
        "record": None,
        "other_record_id": other_record_id,
        "other_person_ids": [],
        "moved_record_ids": [],
        "evidence": None,
        "reason": who,
        "ts": now or dt.datetime.now(dt.UTC),
    }


class ReviewCommands:
    """Produces review commands; the producer and the subjects are set up on the first send."""

    def __init__(
        self,
        kafka: KafkaSettings,
        registry_url: str,
        topic: str | None = None,
        registry_auth: RegistryAuth | None = None,
    ):
        self.kafka = kafka
        self.registry_url = registry_url
        self.registry_auth = registry_auth or RegistryAuth()
        self.topic = topic or kafka.topics.identity_reviews  # the hub's (its prefix applied)
        self._producer: AIOKafkaProducer | None = None
        self._ids: tuple[int, int] | None = None  # key and value schema ids
        self._value_schema = parse(catalog.get("identity_decision").schema)
        self._key_schema = parse("string")
        self._lock = asyncio.Lock()

    def _register(self) -> tuple[int, int]:
        with RegistryClient(self.registry_url, **self.registry_auth.options()) as registry:
            key = registry.ensure_subject(catalog.key_subject(self.topic), '"string"')
            value = registry.ensure_subject(
                catalog.value_subject(self.topic), catalog.get("identity_decision").schema
            )
        return key, value

    async def _start(self) -> tuple[AIOKafkaProducer, tuple[int, int]]:
        async with self._lock:
            if self._ids is None:
                self._ids = await asyncio.to_thread(self._register)  # blocking HTTP, once
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **self.kafka.client_options(), acks="all", enable_idempotence=True
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()  # a failed start leaves its connections open
                    raise
                self._producer = producer
            return self._producer, self._ids

    async def send(self, command: dict[str, Any]) -> None:
        """Produce one command keyed by its first record and wait for the acknowledgement."""
        producer, (key_id, value_id) = await self._start()
        key = encode(key_id, self._key_schema, command["record_id"])
        value = encode(value_id, self._value_schema, command)
        await asyncio.wait_for(
            producer.send_and_wait(self.topic, value, key=key), timeout=SEND_TIMEOUT_S
        )

    async def close(self) -> None:
        """Stop the producer (flushing what it holds)."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
