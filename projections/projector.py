"""The Projector: batches of raw canonical messages -> decode -> apply_batch (in a thread, with
retries) -> metrics; and the daily re-derivation of open permits. No Faust here (see agent.py).

Delivery: apply_batch skips what the checkpoint in the database says was applied, so a batch
handed over again (kill -9, rebalance) doubles nothing. A batch that fails for a transient
reason (database or registry away, a deadlock) is retried until it goes through; a message that
cannot be projected at all (bad bytes, an event missing a field) is logged with its
topic/partition/offset, counted, and passed over.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from eventlog.retry import retrying
from schemas.codec import CodecError, Deserializer
from schemas.registry import RegistryClient

from .facts import CONSUMER, Message, ProjectionTopics
from .metrics import observe_batch, set_open_permits, set_review_queue
from .permit import open_permit_counts, refresh_open_permits
from .reviews import open_review_count
from .settings import ProjectionSettings
from .store import LockTimeouts, Store, end_stalled_writers, local_today, lock_key, open_store
from .writer import BatchResult, apply_batch

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0
# A unique-key race with another worker (rebalance) clears on retry; one that does not, after
# this many tries, is taken for bad data.
INTEGRITY_RETRIES = 5

SKIPPED = Counter(
    "mpphub_projection_skipped_total",
    "Canonical messages that could not be projected (undecodable or invalid), per topic.",
    ["topic"],
)

RawMessage = tuple[str, int, int, Any, Any]  # topic, partition, offset, key bytes, value bytes


def bad_data(error: BaseException, integrity_is_bad_data: bool = False) -> bool:
    """Whether an error of apply_batch comes from the data (retrying cannot help) rather than
    from the database or the network (retrying will)."""
    if isinstance(error, sa_exc.IntegrityError):
        return integrity_is_bad_data  # usually a race with another worker: retry first
    if isinstance(error, sa_exc.OperationalError):
        # A lock timeout (a stopped worker holds the rows), a lost connection: the batch
        # rolled back whole, checkpoint included, so it is retried and doubles nothing. (A
        # session the server ended, idle in a transaction too long, is an InternalError: also
        # not bad data, also retried.)
        return False
    if isinstance(error, sa_exc.DataError):
        return True  # a value the column refuses
    if isinstance(error, sa_exc.StatementError) and not isinstance(error, sa_exc.DBAPIError):
        return True  # a value SQLAlchemy could not bind
    return isinstance(error, KeyError | TypeError | ValueError | AttributeError)


def lock_timeout(error: BaseException) -> bool:
    """Whether a database error is PostgreSQL's lock timeout (SQLSTATE 55P03)."""
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) == "55P03"


def describe_error(error: BaseException) -> str:
    """An error for the log without personal data: database errors by their first line only
    (PostgreSQL's DETAIL repeats key values; parameters are hidden by the engine), data errors
    by their type (a ValueError may quote the value), a missing field by its name."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        first = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else ""
        return f"{type(error).__name__} ({type(error.orig).__name__}): {first}"
    if isinstance(error, KeyError):
        return f"KeyError: missing field {error.args[0]!r}" if error.args else "KeyError"
    if isinstance(error, ValueError | TypeError | AttributeError | sa_exc.StatementError):
        return type(error).__name__
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Projector:
    """The edge between a consumer and apply_batch: decoding, retries, metrics.

    Thread-safe: batches and the refresh timer take turns (one lock), so the two never race
    on the same permit rows."""

    def __init__(
        self,
        settings: ProjectionSettings,
        *,
        topics: ProjectionTopics | None = None,
        consumer: str = CONSUMER,
        store: Store | None = None,
        registry: Any = None,
    ):
        self.settings = settings
        # The hub's canonical topics (its prefix applied) unless told others (tests).
        self.topics = topics or ProjectionTopics.of(settings.kafka.topics)
        self.consumer = consumer
        self._store = store
        self._registry = registry
        self._decoder: Deserializer | None = None
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._refreshed_on: dt.date | None = None

    @property
    def store(self) -> Store:
        """The projection database (opened, tables created, on first use)."""
        with self._open_lock:
            if self._store is None:
                timeouts = LockTimeouts(
                    self.settings.lock_timeout_s, self.settings.idle_in_transaction_timeout_s
                )
                self._store = open_store(
                    self.settings.db_url,
                    timeouts=timeouts,
                    lock_key=lock_key(self.settings.db_url, self.settings.secret_file),
                )
            return self._store

    @property
    def decoder(self) -> Deserializer:
        """The Avro decoder (registry client created on first use)."""
        with self._open_lock:
            if self._decoder is None:
                registry = self._registry or RegistryClient(
                    self.settings.registry_url, **self.settings.registry_auth.options()
                )
                self._decoder = Deserializer(registry)
            return self._decoder

    def decode(self, raw: RawMessage) -> Message:
        """One raw message decoded; a value that is no canonical event becomes None (logged)."""
        topic, partition, offset, key, value = raw
        if isinstance(key, bytes | bytearray):
            key = bytes(key).decode("utf-8", "replace")
        if value is None:
            return Message(topic, partition, offset, key, None)
        try:
            record = self.decoder(value)
        except CodecError as e:  # garbage bytes, unknown schema id: never heals by retrying
            self._skip(topic, partition, offset, f"undecodable: {e}")
            return Message(topic, partition, offset, key, None)
        if not isinstance(record, dict):
            self._skip(topic, partition, offset, f"not a record: {type(record).__name__}")
            record = None
        return Message(topic, partition, offset, key, record)

    def _skip(self, topic: str, partition: int, offset: int, reason: str) -> None:
        log.error("projection skips %s[%d]@%d: %s", topic, partition, offset, reason)
        SKIPPED.labels(topic=topic).inc()

    def apply(
        self, raw: Sequence[RawMessage], *, integrity_is_bad_data: bool = False
    ) -> BatchResult:
        """Decode and apply one batch, then record metrics; blocking (run it in a thread).

        A batch that fails on bad data is applied message by message, passing the bad ones
        over; any other error is raised for the caller to retry."""
        messages = [self.decode(m) for m in raw]
        with self._lock:
            started = time.perf_counter()
            try:
                result = self._apply(messages)
            except Exception as e:
                if not bad_data(e, integrity_is_bad_data):
                    raise
                result = self._apply_one_by_one(messages, integrity_is_bad_data)
            observe_batch(result, time.perf_counter() - started)
        return result

    def _apply(self, messages: list[Message]) -> BatchResult:
        with self.store.sessions() as session:
            return apply_batch(
                session, messages, topics=self.topics, consumer=self.consumer, today=local_today()
            )

    def _apply_one_by_one(
        self, messages: list[Message], integrity_is_bad_data: bool
    ) -> BatchResult:
        total = BatchResult(received=len(messages))
        for m in messages:
            try:
                r = self._apply([m])
            except Exception as e:
                if not bad_data(e, integrity_is_bad_data):
                    raise  # transient after all: the caller retries from the checkpoint
                self._skip(m.topic, m.partition, m.offset, describe_error(e))
                r = self._apply([m._replace(value=None)])
            total.applied += r.applied
            total.per_topic.update(r.per_topic)
            total.source_ts.extend(r.source_ts)
            total.finished.extend(r.finished)
            total.decisions.update(r.decisions)
            total.reviews_changed |= r.reviews_changed
            total.checkpoints.update(r.checkpoints)
        return total

    async def process(self, raw: Sequence[RawMessage]) -> BatchResult:
        """Apply a batch in a thread, retrying with backoff until it is committed."""
        integrity_failures = 0
        locked_out = False  # the last attempt met a lock timeout

        def report(e: BaseException, delay: float) -> None:
            nonlocal integrity_failures, locked_out
            if isinstance(e, sa_exc.IntegrityError):
                integrity_failures += 1
            locked_out = lock_timeout(e)
            self._log_retry(raw, e, delay)

        def attempt() -> Any:
            return asyncio.to_thread(
                self._retry_apply, raw, locked_out, integrity_failures >= INTEGRITY_RETRIES
            )

        return await retrying(
            attempt,
            transient=lambda _e: True,  # database or registry away: wait, retry
            on_retry=report,
            first_s=RETRY_FIRST_S,
            max_s=RETRY_MAX_S,
        )

    def _retry_apply(
        self, raw: Sequence[RawMessage], locked_out: bool, integrity_is_bad_data: bool
    ) -> BatchResult:
        """apply(); after a lock timeout, first end the sessions of writers stopped in the
        middle of a statement (store.end_stalled_writers: the server's idle timeout misses
        them)."""
        if locked_out:
            ended = end_stalled_writers(
                self.store.engine, self.settings.idle_in_transaction_timeout_s
            )
            if ended:
                log.warning("ended %d projection writer session(s) stalled in a statement", ended)
        return self.apply(raw, integrity_is_bad_data=integrity_is_bad_data)

    def _log_retry(self, raw: Sequence[RawMessage], e: Exception, delay: float) -> None:
        first, last = raw[0], raw[-1]
        log.warning(
            "projection batch of %d messages (%s[%d]@%d .. %s[%d]@%d) failed, retry in %.1fs: %s",
            len(raw),
            first[0],
            first[1],
            first[2],
            last[0],
            last[1],
            last[2],
            delay,
            describe_error(e),
        )

    def refresh(self, *, force: bool = False) -> int:
        """Re-derive open permits as of today and update the open-permit gauges; the number of
        permits that changed. Working days change with the date only, so once per day (and
        once after start) is enough: later ticks of the same day return 0 at once."""
        today = local_today()
        if not force and self._refreshed_on == today:
            return 0
        with self._lock, self.store.sessions() as session:
            changed = refresh_open_permits(session, today)
            _set_gauges(session)
        self._refreshed_on = today
        return changed

    def update_gauges(self) -> None:
        """Set the open-permit and review-queue gauges from the database."""
        with self.store.sessions() as session:
            _set_gauges(session)


def _set_gauges(session: Session) -> None:
    set_review_queue(open_review_count(session))
    set_open_permits(open_permit_counts(session))
