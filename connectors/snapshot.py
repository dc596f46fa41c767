"""The initial snapshot of one table as a pipeline (Debezium's *snapshotter*): a reader thread,
the encoder and librdkafka's producer overlap, each behind a bounded queue, so memory stays flat
whatever the table's size.

The stored offset is the last key of the last chunk whose events are all acknowledged, in read
order, never ahead of an acknowledgement; it is written every `offset_flush_interval_s` and at
the end, not per chunk. A kill -9 re-sends at most what was read since the last flush.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .dispatcher import EventDispatcher
from .producer import Acks
from .sql import chunks

READ_AHEAD = 4  # chunks read and not yet encoded
IN_FLIGHT = 8  # chunks sent and not yet acknowledged
_END = object()


class ChunkReader:
    """Reads a table's chunks in a thread of its own; hands them over through a bounded queue."""

    def __init__(self, engine: sa.Engine, table: sa.Table, key: list[str], after, size: int):
        self._args = (engine, table, key, after, size)
        self._queue: queue.Queue = queue.Queue(READ_AHEAD)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read, name="snapshot-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        try:
            for chunk in chunks(*self._args, stopping=self._stopping.is_set):
                if not self._put(chunk):
                    return
            self._put(_END)
        except BaseException as e:  # noqa: BLE001 - handed to the reading coroutine
            self._put(e)

    def _put(self, item: Any) -> bool:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    async def next(self) -> list[tuple] | None:
        """The next chunk of value tuples; None at the end of the table."""
        while True:
            try:
                item = await asyncio.to_thread(self._queue.get, True, 0.5)
            except queue.Empty:
                continue
            if item is _END:
                return None
            if isinstance(item, BaseException):
                raise item
            return item

    async def close(self) -> None:
        """Stop reading (the COPY is dropped, not drained) and wait for the thread."""
        self._stopping.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)


@dataclass
class _Sent:
    """A chunk handed to the producer and not yet settled."""

    acked: asyncio.Future
    dead: list
    after: list
    rows: int
    events: int


class TableSnapshot:
    """One table's snapshot: `run` publishes from the stored `after` key to the table's end."""

    def __init__(
        self,
        dispatcher: EventDispatcher,
        engine: sa.Engine,
        chunk_size: int,
        flush_interval_s: float,
        commit: Callable[[], Awaitable[None]],
        settled: Callable[[str, _Sent], None],
    ):
        self.dispatcher = dispatcher
        self.engine = engine
        self.chunk_size = chunk_size
        self.flush_interval_s = flush_interval_s
        self.commit = commit
        self.settled = settled

    async def run(
        self, table: str, sql_table: sa.Table, state: dict, marker: str, stop: asyncio.Event
    ) -> bool:
        """Publish the rest of the table; True when its end was reached (not stopped)."""
        shape = self.dispatcher.channels[table].shape
        key_at = [shape.columns.index(k) for k in shape.key]
        reader = ChunkReader(
            self.engine, sql_table, list(shape.key), state["after"], self.chunk_size
        )
        reader.start()
        position = f"snapshot@{marker}"
        inflight: deque[_Sent] = deque()
        flushed = time.monotonic()
        finished = False
        try:
            while not stop.is_set():
                rows = await reader.next()
                if rows is None:
                    finished = True
                    break
                acks = Acks(asyncio.get_running_loop())
                events, dead = await self.dispatcher.publish_rows(table, rows, position, acks)
                after = [rows[-1][i] for i in key_at]
                acked = asyncio.ensure_future(acks.wait())
                inflight.append(_Sent(acked, dead, after, len(rows), events))
                while inflight and (inflight[0].acked.done() or len(inflight) >= IN_FLIGHT):
                    await self._settle(table, inflight.popleft(), state)
                if time.monotonic() - flushed >= self.flush_interval_s:
                    await self.commit()
                    flushed = time.monotonic()
            while inflight:  # what was sent is still settled when stopping: the offset moves
                await self._settle(table, inflight.popleft(), state)
        finally:
            for sent in inflight:
                sent.acked.cancel()
            await reader.close()
        await self.commit()
        return finished

    async def _settle(self, table: str, sent: _Sent, state: dict) -> None:
        await sent.acked
        if sent.dead:
            await asyncio.gather(*sent.dead)
        state["after"] = sent.after
        state["rows"] += sent.rows
        self.settled(table, sent)
