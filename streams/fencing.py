"""The identity log has one writer: a transactional producer whose id is the hub's, so that a
worker taking the identity inputs over fences the one it replaces.

A worker stopped (SIGSTOP, a frozen VM) past its session timeout loses its partitions to
another worker; continued, it still holds the batch it was resolving and would write decisions
its successor has already written. Kafka's transactions stop that: the successor's producer
starts with the same transactional id (InitProducerId), which bumps the id's epoch and aborts
the predecessor's open transaction; every later write of the predecessor's producer is refused
(ProducerFenced). A fenced worker drops its batch (its offsets stay uncommitted) and writes
again only after the group gives it the inputs anew, with a new producer and a replay of the
log: a writer always decides on top of everything committed before its epoch began.

Readers of the identity log read committed records only (an aborted zombie batch is never
seen): the worker's consumer (streams/app.py) and every read_to_end.

Cost: one transaction per batch (AddPartitionsToTxn, EndTxn: two round trips to the
transaction coordinator) and one commit marker per batch in the log (an offset without a
record: offsets are no longer a record count).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    ProducerFenced,
)

from eventlog.settings import KafkaSettings

log = logging.getLogger(__name__)

# A fenced producer's batch cannot be written by it again: only a new producer can write.
FENCED_ERRORS = (ProducerFenced, InvalidProducerEpoch, InvalidProducerIdMapping)


class Fenced(Exception):
    """Another worker took the identity inputs over and fenced this one's producer. Not a
    KafkaError on purpose: no retry of the batch by this producer can succeed."""


class IdentityWriter:
    """The identity stage's transactional producer, (re)started when the worker is given the
    identity inputs (`renew()`): starting it fences whichever worker wrote before."""

    def __init__(
        self,
        kafka: KafkaSettings,
        transactional_id: str,
        *,
        still_fenced_s: float = 30.0,
        **producer_options: Any,
    ):
        self.kafka = kafka
        self.transactional_id = transactional_id
        self.options = producer_options
        self.producer: AIOKafkaProducer | None = None
        self.renewing = True  # no producer yet: the first batch starts one
        self.fenced = False
        self.fenced_at = 0.0
        # Batches still delivered this long after a fence mean the group left (or gave back)
        # the inputs to this worker: e.g. the broker ended a transaction that hung past its
        # timeout, which fences too, with no successor. Longer than a session timeout.
        self.still_fenced_s = still_fenced_s

    def renew(self) -> None:
        """The group gave this worker the identity inputs: the next batch starts a new producer
        (and so fences any other), even after this one was fenced."""
        self.renewing = True
        self.fenced = False

    async def current(self) -> AIOKafkaProducer:
        """The producer to write the next batch with; Fenced while this worker is fenced and
        has not been given the inputs anew."""
        if self.fenced and time.monotonic() - self.fenced_at < self.still_fenced_s:
            raise Fenced("identity: fenced by a newer writer; waiting for a new assignment")
        if self.fenced:
            self.renew()
        if self.renewing or self.producer is None:
            await self.close()
            producer = AIOKafkaProducer(
                **self.kafka.client_options(),
                transactional_id=self.transactional_id,
                acks="all",
                enable_idempotence=True,
                **self.options,
            )
            try:
                await producer.start()  # InitProducerId: the previous writer is fenced here
            except BaseException:
                await producer.stop()
                raise
            self.producer, self.renewing = producer, False
            log.info("identity: writing the identity log as its one transactional writer")
        return self.producer

    def check(self, error: BaseException) -> None:
        """Raise Fenced when `error` (or what killed the producer under it) says a newer writer
        fenced this one: then it stays fenced until renew(). A producer broken otherwise (a
        fatal error such as an out-of-order sequence) is replaced at the next attempt."""
        cause = self._fatal_cause() or error
        if isinstance(cause, FENCED_ERRORS):
            self.fenced, self.fenced_at = True, time.monotonic()
            raise Fenced("identity: another worker writes the identity log now") from error
        if self._fatal_cause() is not None:
            self.renewing = True

    def _fatal_cause(self) -> BaseException | None:
        """The error that ended the producer's sender, once its transactions are dead."""
        p = self.producer
        txn = None if p is None else p._txn_manager  # noqa: SLF001 - aiokafka has no public one
        if p is None or txn is None or not txn.is_fatal_error():
            return None
        task = p._sender.sender_task  # noqa: SLF001
        if task is None or not task.done() or task.cancelled():
            return KafkaError("the identity producer failed")
        return task.exception() or KafkaError("the identity producer failed")

    async def close(self) -> None:
        """Stop the current producer, if any."""
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception as e:  # noqa: BLE001 - a fenced producer may fail to flush
                log.debug("identity: stopping the old producer: %s", type(e).__name__)
