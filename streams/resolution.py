"""The identity step without Kafka: person facts and supervisors' review commands (bytes) in, the
resolver's decisions (encoded, one group per input) out, so that the Faust agent
(streams/identity.py) only moves bytes and replays the log.

Each input's decisions are one group, written as one record batch, and each decision carries the
input's place (`mpphub-input` header: topic/partition/offset). A replay of the log therefore
ends on a whole input, and says which inputs are decided: after a crash those are skipped, not
decided again, so a restarted worker decides exactly as an uninterrupted one. (The header refers
to offsets of the person and reviews topics: recreating those topics means a new identity log.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.matching.decisions import Decision, DecisionKind
from domain.matching.ids import person_ids
from domain.matching.resolver import NOTHING_TO_COMPARE, Resolver, Scorer
from domain.nik import mask_nik
from domain.tokens import Tokens
from eventlog.topics import Topics
from schemas.codec import CodecError
from schemas.registry import DEFAULT_COMPATIBILITY, RegistryClient, RegistryError

from .canonical import DELETE, UPSERT, WARNING, DataQualityFinding
from .identity_records import (
    UnusableFact,
    decision_of,
    decision_record,
    founding_ms,
    person_record,
    record_key,
    source_ms,
)
from .wire import OutMessage, RawMessage, Wire

log = logging.getLogger(__name__)

STAGE = "identity"
INPUT_HEADER = "mpphub-input"
NOTHING_TO_COMPARE_RULE = "IDENTITY_NOTHING_TO_COMPARE"
_NOTHING_DETAIL = "no name, birth date or NIK to compare: the record is a person of its own"
_COMMANDS = {DecisionKind.MUST_LINK, DecisionKind.CANNOT_LINK}


def outputs(topics: Topics) -> dict[str, str]:
    """The topics the identity step encodes for -> their canonical schema. The review commands
    are registered here too, so that the API's commands and the log share one schema."""
    return {
        topics.identity: "identity_decision",
        topics.identity_reviews: "identity_decision",
        topics.dq_findings: "data_quality_finding",
    }


@dataclass
class IdentityResult:
    """What a batch turned into: decision groups in input order, other messages (findings,
    dead letters), the inputs left for after a replay, and the counts the metrics want."""

    groups: list[list[OutMessage]] = field(default_factory=list)
    other: list[OutMessage] = field(default_factory=list)
    rest: list[RawMessage] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)  # kind -> n
    findings: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agency, rule)
    dead_letters: int = 0
    skipped: int = 0  # inputs the log says are decided already
    seconds: list[float] = field(default_factory=list)  # per resolved input
    candidates: int = 0  # record pairs the resolver scored


class IdentityStep:
    """The resolver and its log's codec; one per worker."""

    def __init__(
        self,
        registry: RegistryClient,
        tokens: Tokens,
        model: Scorer,
        *,
        topics: Topics,
        compatibility: str = DEFAULT_COMPATIBILITY,
        clock: Callable[[], float] = time.time,
    ):
        self.tokens = tokens
        self.model = model
        self.clock = clock
        self.topics = topics
        self.wire = Wire(
            registry, stage=STAGE, topics=topics, compatibility=compatibility, clock=clock
        )
        self.resolver = self._new_resolver()
        # (topic, partition) -> the last input offset whose decisions are in the log
        self.decided: dict[tuple[str, int], int] = {}
        # A resolver that failed midway may hold decisions that are not in the log: replay.
        self.stale = True

    def _new_resolver(self) -> Resolver:
        return Resolver(self.model, person_ids(self.tokens))

    def ensure_subjects(self) -> None:
        """Register the subjects of the identity log, the review commands, the findings and the
        dead letters (blocking HTTP, once at start)."""
        self.wire.ensure_subjects(outputs(self.topics))

    # --- replay --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start over from an empty resolver (before replaying the log from its beginning)."""
        self.resolver = self._new_resolver()
        self.decided = {}
        self.stale = False

    def replay(self, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()) -> None:
        """Apply one logged decision (as on the wire) to the resolver and note its input.
        CodecError or ValueError when it cannot be read (the caller decides what that means)."""
        if value is None:
            return
        self.resolver.apply(decision_of(self.wire.decode(value, "identity decision")))
        for name, data in headers:
            if name == INPUT_HEADER:
                self._note_input(data)

    def _note_input(self, data: bytes) -> None:
        topic, partition, offset = data.decode().rsplit("/", 2)
        key = (topic, int(partition))
        self.decided[key] = max(self.decided.get(key, -1), int(offset))

    # --- the step ------------------------------------------------------------------------------
    def process(self, messages: Iterable[RawMessage]) -> IdentityResult:
        """Resolve a batch in order. Stops early (the rest in `result.rest`, `stale` set) when
        the resolver fails: its state must come from the log again before it goes on."""
        if not self.wire.ready:
            self.ensure_subjects()
        result = IdentityResult()
        resolver, scored = self.resolver, self.resolver.scored
        self._process(messages, result)
        result.candidates = resolver.scored - scored
        return result

    def _process(self, messages: Iterable[RawMessage], result: IdentityResult) -> None:
        pending = list(messages)
        for i, m in enumerate(pending):
            if m.value is None:
                continue
            if m.offset <= self.decided.get((m.topic, m.partition), -1):
                result.skipped += 1
                continue
            seen: dict[str, Any] = {}
            try:
                value = self.wire.decode(m.value, "value")
                seen.update(_where(value))
                decide = self._action(m, value)
            except RegistryError as e:
                if not isinstance(e, LookupError):
                    raise  # the registry is away: the caller retries the batch
                result.other.append(self.wire.dead_letter(m, e, seen))
                result.dead_letters += 1
                continue
            except (CodecError, ValueError, TypeError, KeyError) as e:
                result.other.append(self.wire.dead_letter(m, e, seen))
                result.dead_letters += 1
                continue
            started = time.perf_counter()
            try:
                decisions = decide()
                group = self._group(m, decisions)
            except Exception as e:  # noqa: BLE001 - a resolver bug must not stop the worker
                log.error(
                    "identity: unexpected %s at %s/%d/%d; input dead-lettered, resolver replayed",
                    type(e).__name__,
                    m.topic,
                    m.partition,
                    m.offset,
                )
                reason = f"unexpected {type(e).__name__} in the resolver"
                result.other.append(self.wire.dead_letter(m, e, seen, reason=reason))
                result.dead_letters += 1
                self.stale = True
                result.rest = pending[i + 1 :]
                return
            result.seconds.append(time.perf_counter() - started)
            if decisions:
                result.groups.append(group)
                result.decisions.update(d.kind.value for d in decisions)
                self.decided[(m.topic, m.partition)] = m.offset
            if any(
                d.kind is DecisionKind.NEW and d.reason == NOTHING_TO_COMPARE for d in decisions
            ):
                finding = self._nothing_to_compare(value)
                topic = self.topics.name(finding.topic)
                result.other.append(self.wire.encode(topic, finding.key, finding.record()))
                result.findings[(finding.agency, finding.rule_code)] += 1

    def _action(self, m: RawMessage, value: Any) -> Callable[[], list[Decision]]:
        """What one decoded input asks of the resolver (not done yet); UnusableFact (or another
        ValueError) when the input is not a fact or command the resolver can take."""
        if not isinstance(value, dict):
            raise UnusableFact(f"a {type(value).__name__} is neither a fact nor a command")
        if m.topic == self.topics.identity_reviews:
            return self._command(value)
        op = value.get("op")
        if op == DELETE:
            key = record_key(value, self.tokens)
            return lambda: self.resolver.forget(key)
        if op != UPSERT:
            raise UnusableFact(f"person fact op is {op!r}, not UPSERT or DELETE")
        record, ts_ms = person_record(value, self.tokens), founding_ms(value, m.timestamp_ms)
        if value.get("source_ts") is None and self.resolver.record(record.record_id) is not None:
            # A snapshot read (no source time) of a record already resolved is a late copy:
            # the snapshot comes first, so whatever was resolved since is as new or newer (a
            # worker frozen past its session timeout writes what it held when continued; see
            # projections/facts.is_stale). Resolved again, it would bring old fields back.
            return lambda: []
        return lambda: self.resolver.resolve(record, ts_ms=ts_ms)

    def _command(self, value: dict[str, Any]) -> Callable[[], list[Decision]]:
        """A supervisor's MUST_LINK / CANNOT_LINK; its reason (who decided) is logged with it."""
        command = decision_of(value)
        a, b = command.record_id, command.other_record_id
        if command.kind not in _COMMANDS or not a or not b:
            raise UnusableFact("a review command is MUST_LINK or CANNOT_LINK of two records")
        ts = source_ms({"source_ts": value.get("ts")})

        def decide() -> list[Decision]:
            r = self.resolver
            link = r.must_link if command.kind is DecisionKind.MUST_LINK else r.cannot_link
            return [
                dataclasses.replace(d, reason=command.reason) if d.kind in _COMMANDS else d
                for d in link(a, b, ts_ms=ts)
            ]

        return decide

    def _group(self, m: RawMessage, decisions: list[Decision]) -> list[OutMessage]:
        ts_ms = int(self.clock() * 1000)
        headers = ((INPUT_HEADER, f"{m.topic}/{m.partition}/{m.offset}".encode()),)
        return [
            self.wire.encode(self.topics.identity, d.person_id, decision_record(d, ts_ms), headers)
            for d in decisions
        ]

    def _nothing_to_compare(self, fact: dict[str, Any]) -> DataQualityFinding:
        record_id = str(fact.get("source_record_id") or "")
        # A source key that is a NIK is personal data (e.g. BIODATA_WNI's).
        shown = mask_nik(record_id) if record_id.isdigit() and len(record_id) >= 12 else record_id
        ts = fact.get("source_ts")
        if not isinstance(ts, dt.datetime):
            ts = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        return DataQualityFinding(
            agency=str(fact.get("agency") or ""),
            table=str(fact.get("source_table") or ""),
            record_key=shown,
            rule_code=NOTHING_TO_COMPARE_RULE,
            detail=_NOTHING_DETAIL,
            source_position=str(fact.get("source_position") or ""),
            ts=ts,
            severity=WARNING,
        )


def _where(value: Any) -> dict[str, Any]:
    """Agency, table and source position of a decoded fact, for its dead letter."""
    if not isinstance(value, dict):
        return {}
    return {
        "agency": value.get("agency"),
        "table": value.get("source_table"),
        "position": value.get("source_position"),
    }
