"""A Faust app whose consumer reads committed records only.

Faust reads committed records only in its exactly_once mode, which the hub does not use; the
identity log is written in transactions (streams/fencing.py), and a fenced or killed writer's
aborted batch stays in the log, marked aborted. Every Faust app that reads the log (the hub's
worker, its resolver's child) is a CommittedReadingApp; the projection-only worker's plain
consumer sets read_committed itself (projections/sink.py).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


class _CommittedReadingThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Not started yet: its fetcher takes the isolation level at start.
        consumer._isolation_level = "read_committed"  # noqa: SLF001 - no public setter
        return consumer


class _CommittedReadingConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _CommittedReadingThread(self, loop=self.loop, beacon=self.beacon)


class CommittedReadingApp(faust.App):
    """faust.App whose consumer reads committed records only."""

    def _new_consumer(self) -> Any:
        return _CommittedReadingConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )
