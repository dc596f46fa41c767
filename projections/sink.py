"""The projection-only worker as a plain Kafka consumer (aiokafka): batches from `getmany` to
the Projector, offsets committed after the database commit, and the timers that keep open
permits and their gauges current. It runs the worker's `--projections process` child and the
projection-only worker of the tests; inline, the projection stays an agent of the worker's
Faust app (projections/agent.py).

Why not Faust here: the projection folds whole batches and keeps its own checkpoints in the
same transaction as its rows, so it uses none of Faust's stream features, and Faust's per-event
machinery (an Event per message, a queue hand-off and a take() buffer per event, an ack per
event) was about half of the projection child's CPU (py-spy --gil on `mpphub bench e2e`,
2026-12-03: 57% of the child's GIL samples outside Projector.apply). A projection is a sink,
as a Kafka Connect sink is; the streaming stages stay on Faust.

Delivery is unchanged: offsets are committed only after the batch's rows and checkpoints are,
so Kafka's committed offsets may lag the database (kill -9, a lost commit at a rebalance) but
never run ahead of it, and a replayed message is skipped by its checkpoint. Committed records
only (read_committed): the identity log is written in transactions.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from .facts import CONSUMER, ProjectionTopics
from .projector import Projector
from .settings import ProjectionSettings
from .upkeep import GAUGE_INTERVAL_S, REFRESH_INTERVAL_S, ensure_topics

log = logging.getLogger(__name__)


def group_id(settings: ProjectionSettings) -> str:
    """The projection-only workers' consumer group (the same as when they ran on Faust, so a
    worker upgraded in place goes on from the group's committed offsets)."""
    return settings.kafka.topics.group(f"{settings.app_id}-projections")


class ProjectionSink:
    """One projection-only worker: `await run()` until `stop()`."""

    def __init__(
        self,
        settings: ProjectionSettings,
        *,
        topics: ProjectionTopics | None = None,
        consumer: str = CONSUMER,
        projector: Projector | None = None,
        session_timeout_s: float = 10.0,
        heartbeat_interval_s: float = 3.0,
    ):
        self.settings = settings
        self.projector = projector or Projector(settings, topics=topics, consumer=consumer)
        self.topics = self.projector.topics
        self.session_timeout_s = session_timeout_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._assignment = 0  # counts rebalances: a batch commits only in the one it came in
        self._in_hand = asyncio.Lock()  # held from a batch's projection to its offsets' commit
        self._uncommitted: dict[TopicPartition, int] = {}  # projected, not committed yet

    def stop(self) -> None:
        """Ask the worker to stop after the batch in hand (committed first)."""
        self._stopping.set()

    def consumer_options(self) -> dict[str, Any]:
        """The consumer's settings: the hub's Kafka connection and security, its group, manual
        commits, committed records only."""
        s = self.settings
        return {
            **s.kafka.client_options(),
            "group_id": group_id(s),
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed",
            "session_timeout_ms": int(self.session_timeout_s * 1000),
            "heartbeat_interval_ms": int(self.heartbeat_interval_s * 1000),
        }

    def in_charge(self) -> bool:
        """Whether this worker refreshes open permits and reports their (global) gauges: the
        owner of the permit topic's partition 0, as inline (projections/agent.py)."""
        consumer = self._consumer
        return consumer is not None and TopicPartition(self.topics.permit, 0) in (
            consumer.assignment()
        )

    async def run(self) -> None:
        """Create the canonical topics if missing, then consume and project until stopped."""
        created = await ensure_topics(self.settings, self.topics)
        if created:
            log.info("created canonical topics %s", ", ".join(created))
        consumer = AIOKafkaConsumer(**self.consumer_options())
        consumer.subscribe(list(self.topics.names), listener=_Rebalance(self))
        await consumer.start()
        self._consumer = consumer
        timers = [
            asyncio.create_task(self._every(REFRESH_INTERVAL_S, self.projector.refresh, "refresh")),
            asyncio.create_task(
                self._every(GAUGE_INTERVAL_S, self.projector.update_gauges, "gauges")
            ),
        ]
        try:
            await self._consume(consumer)
        finally:
            for timer in timers:
                timer.cancel()
            await asyncio.gather(*timers, return_exceptions=True)
            self._consumer = None
            await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        within_ms = max(1, int(self.settings.batch_within_s * 1000))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                poll = asyncio.ensure_future(consumer.getmany(timeout_ms=within_ms))
                await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not poll.done():  # stopping: nothing fetched is lost, it was not committed
                    poll.cancel()
                    await asyncio.gather(poll, return_exceptions=True)
                    return
                fetched_in = self._assignment
                for batch in in_log_order(poll.result(), self.settings.batch_size):
                    if self._assignment != fetched_in:
                        break  # fetched for an assignment that is gone: read again from Kafka
                    await self._project(consumer, batch, fetched_in)
                    if self._stopping.is_set():
                        return  # the rest was not committed: the next start reads it again
                if self._uncommitted:  # a commit that failed (broker away): try again
                    async with self._in_hand:
                        await self._commit(consumer)
        finally:
            stopping.cancel()

    async def _project(
        self, consumer: AIOKafkaConsumer, batch: list[ConsumerRecord], fetched_in: int
    ) -> None:
        """Project one batch; commit its offsets unless a rebalance came since it was fetched."""
        async with self._in_hand:
            await self.projector.process(
                [(m.topic, m.partition, m.offset, m.key, m.value) for m in batch]
            )
            if self._assignment != fetched_in:
                return  # whoever holds its partitions now reads them from the committed offsets
            # A partition's records in a batch are a prefix of what is left of it (in_log_order
            # keeps its order): the next read starts after its last.
            for m in batch:
                self._uncommitted[TopicPartition(m.topic, m.partition)] = m.offset + 1
            await self._commit(consumer)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        offsets = dict(self._uncommitted)
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as e:
            # A rebalance took partitions away meanwhile: whoever gets them reads from the
            # committed offsets, and the checkpoints make that replay a no-op.
            log.info("projection offsets not committed (%s): read again by the next owner", e)
            self._uncommitted.clear()
            return
        except KafkaError as e:
            log.warning("projection offsets not committed (%s): tried again", e)
            return
        for tp, offset in offsets.items():
            if self._uncommitted.get(tp) == offset:
                del self._uncommitted[tp]

    def _reassigned(self) -> None:
        """A rebalance: what was fetched before is stale, and so are offsets not committed
        yet (a commit of them now could move a partition's offset back behind what its next
        owner committed meanwhile, and nobody would read the gap again)."""
        self._assignment += 1
        self._uncommitted.clear()

    async def _every(self, interval_s: float, work: Callable[[], Any], name: str) -> None:
        while True:
            await asyncio.sleep(interval_s)
            if not self.in_charge():
                continue
            try:
                await asyncio.to_thread(work)
            except Exception:  # noqa: BLE001 - a timer must not die; the next tick tries again
                log.exception("projection %s timer failed; the next tick tries again", name)


class _Rebalance(ConsumerRebalanceListener):
    """Before the group reassigns partitions: marks the batch in hand stale (its offsets will
    not be committed) and waits for it to end (bounded: a batch stuck on the database must not
    hold the whole group), so that no commit of this member lands in the next assignment."""

    def __init__(self, sink: ProjectionSink):
        self.sink = sink

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.sink._reassigned()
        try:
            async with asyncio.timeout(self.sink.session_timeout_s):
                async with self.sink._in_hand:
                    pass
        except TimeoutError:
            log.warning("projection batch still in hand at a rebalance: its offsets are dropped")

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.sink._reassigned()


def in_log_order(
    fetched: dict[TopicPartition, list[ConsumerRecord]], size: int
) -> Iterator[list[ConsumerRecord]]:
    """What one poll fetched, in batches of at most `size`, the partitions merged by record
    timestamp (each partition's own order kept even where its timestamps go back).

    aiokafka hands out one partition's buffer after another: a catch-up would project two
    thousand permit events before the four service events written before them, and each
    permit that finished meanwhile would be counted under an unknown service. Merged by time,
    the projection sees the topics about in the order they were written, as the worker's
    inline agent does (Faust hands out its partitions' records round robin)."""
    merged = heapq.merge(*fetched.values(), key=lambda m: m.timestamp or 0)
    while batch := list(itertools.islice(merged, size)):
        yield batch


def run_projection_sink(
    settings: ProjectionSettings,
    *,
    topics: ProjectionTopics | None = None,
    session_timeout_s: float = 10.0,
    heartbeat_interval_s: float = 3.0,
) -> None:
    """Run the projection-only worker until SIGTERM or SIGINT (the batch in hand is committed
    first)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
        )

    async def main() -> None:
        sink = ProjectionSink(
            settings,
            topics=topics,
            session_timeout_s=session_timeout_s,
            heartbeat_interval_s=heartbeat_interval_s,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, sink.stop)
        log.info("projection worker: consuming %s", ", ".join(sink.topics.names))
        await sink.run()
        log.info("projection worker: stopped")

    asyncio.run(main())
