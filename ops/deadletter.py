"""Dead letters read back: list them, show one, replay normalize-stage ones to their raw topic.

A dead letter's id is its place on the dead-letter topic, `partition:offset`. Its key, value and
source position may hold personal data (NIK, names): they are shown only when asked for, with
identity numbers masked unless the reader unmasks them with a purpose, which is written first to
an append-only audit file. A replay re-sends the exact original bytes and records itself on a
replay-log topic; later runs read that log to skip what was replayed."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from domain.nik import mask_numbers_in
from eventlog import KafkaSettings
from eventlog.admin import ensure_topics, topic_partitions
from eventlog.reading import read_to_end
from eventlog.topics import KEEP_FOREVER
from schemas import catalog
from schemas.codec import CodecError, Deserializer
from schemas.registry import RegistryAuth, RegistryClient

REPLAYABLE_STAGE = "normalize"
# The replay log of a dead-letter topic is named after it, so a test's (or another hub's)
# dead-letter topic has a log of its own (the hub's: Topics.deadletter_replays).
REPLAY_LOG_SUFFIX = "-replays"


@dataclass(frozen=True)
class Source:
    """Where dead letters are: the cluster, the registry their Avro is registered in, the topic
    (default: the hub's, its prefix applied)."""

    kafka: KafkaSettings
    registry_url: str
    topic: str = ""
    registry_auth: RegistryAuth = field(default_factory=RegistryAuth)

    def __post_init__(self) -> None:
        if not self.topic:
            object.__setattr__(self, "topic", self.kafka.topics.deadletter)

    @property
    def log_topic(self) -> str:
        """The replay log of this dead-letter topic."""
        return self.topic + REPLAY_LOG_SUFFIX


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter (dead_letter.avsc) and where it sits on the dead-letter topic."""

    partition: int
    offset: int
    ts: dt.datetime  # when it was written, UTC
    stage: str
    reason: str
    error_type: str
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    key: bytes | None = field(repr=False)
    value: bytes | None = field(repr=False)
    agency: str | None
    source_table: str | None
    source_position: str | None = field(repr=False)

    @classmethod
    def of(cls, partition: int, offset: int, r: Mapping[str, Any]) -> DeadLetter:
        """A decoded dead-letter record found at `partition:offset`."""
        return cls(
            partition, offset, _utc(r["ts"]), r["stage"], r["reason"], r["error_type"],
            r["original_topic"], r["partition"], r["offset"], r["key"], r["value"],
            r["agency"], r["source_table"], r["source_position"],
        )  # fmt: skip

    @property
    def id(self) -> str:
        """`partition:offset` on the dead-letter topic."""
        return f"{self.partition}:{self.offset}"


@dataclass(frozen=True)
class Filters:
    """What `list` and `replay` select; every given filter must match."""

    topic: str | None = None  # original topic, exact
    reason: str | None = None  # substring, case-insensitive
    stage: str | None = None
    agency: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @property
    def any(self) -> bool:
        """Whether any filter is given."""
        return any(v is not None for v in vars(self).values())

    def match(self, d: DeadLetter) -> bool:
        """Whether `d` passes every filter given."""
        return (
            (self.topic is None or d.original_topic == self.topic)
            and (self.reason is None or self.reason.lower() in (d.reason or "").lower())
            and (self.stage is None or d.stage == self.stage)
            and (self.agency is None or d.agency == self.agency)
            and (self.since is None or d.ts >= _utc(self.since))
            and (self.until is None or d.ts < _utc(self.until))
        )


@dataclass
class Loaded:
    """The dead letters of a topic (by ts, then place), and messages on it that are not ones."""

    letters: list[DeadLetter]
    unreadable: list[str] = field(default_factory=list)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 date or time; without an offset it is UTC."""
    try:
        return _utc(dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-02T08:00)") from None


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def load(source: Source) -> Loaded:
    """Every dead letter on the topic, oldest first (a missing topic has none)."""
    messages = asyncio.run(_read(source.kafka, source.topic))
    reader = catalog.get("dead_letter").schema
    out = Loaded([])
    with RegistryClient(source.registry_url, **source.registry_auth.options()) as registry:
        decode = Deserializer(registry, reader_schema=reader)
        for partition, offset, value in messages:
            try:
                out.letters.append(DeadLetter.of(partition, offset, decode(value)))
            except (CodecError, TypeError):
                out.unreadable.append(f"{partition}:{offset}")
    out.letters.sort(key=lambda d: (d.ts, d.partition, d.offset))
    return out


async def _read(kafka: KafkaSettings, topic: str) -> list[tuple[int, int, Any]]:
    return [
        (m.partition, m.offset, m.value) async for batch in read_to_end(kafka, topic) for m in batch
    ]


def select(
    letters: Sequence[DeadLetter],
    filters: Filters = Filters(),
    ids: Iterable[str] = (),
) -> list[DeadLetter]:
    """The dead letters named by `ids` (all, when none is named) that pass `filters`;
    ValueError for an id that names none or, as a bare offset, several."""
    wanted = {resolve(letters, i).id for i in ids}
    return [d for d in letters if (not wanted or d.id in wanted) and filters.match(d)]


def resolve(letters: Sequence[DeadLetter], text: str) -> DeadLetter:
    """The dead letter `partition:offset` names; a bare offset when only one partition has it."""
    part, _, off = text.strip().rpartition(":")
    try:
        offset, partition = int(off), int(part) if part else None
    except ValueError:
        raise ValueError(f"dead letter id {text!r}: expected partition:offset, e.g. 0:42") from None
    found = [d for d in letters if d.offset == offset and partition in (None, d.partition)]
    if not found:
        raise ValueError(f"no dead letter {text} (see `mpphub deadletter list`)")
    if len(found) > 1:
        ids = ", ".join(d.id for d in found)
        raise ValueError(f"dead letter id {text} is ambiguous: say one of {ids}")
    return found[0]


# --- personal data -----------------------------------------------------------------------------
def mask_text(text: str | None) -> str | None:
    """Text with every number of 12 or more digits (a NIK, a KK number) masked."""
    if text is None:
        return None
    return mask_numbers_in(text)


def mask_value(v: Any) -> Any:
    """A decoded value with identity numbers masked in its strings, and integers of 12 or more
    digits (a NIK kept as BIGINT; also epoch milliseconds, masked all the same) as masked text."""
    if isinstance(v, Mapping):
        return {k: mask_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [mask_value(x) for x in v]
    if isinstance(v, bytes):
        return mask_text(v.decode("utf-8", "backslashreplace"))
    if isinstance(v, str):
        return mask_text(v)
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**11:
        return mask_text(str(v))
    return v


def render_bytes(data: bytes | None, decode: Deserializer, *, mask: bool = True) -> str:
    """Bytes as a reader wants them (framed Avro decoded to JSON, else JSON, else text, else
    Python's bytes notation), identity numbers masked unless `mask` is False."""
    if data is None:
        return "null"
    value: Any
    try:
        value = decode(data)
    except (CodecError, LookupError):  # not framed Avro: garbage, or a captured row's JSON
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = repr(data)
        try:
            value = json.loads(text)
        except ValueError:
            return (mask_text(text) or "") if mask else text
    if mask:
        value = mask_value(value)
    return json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)


def revealed(source: Source, d: DeadLetter, *, unmasked: bool = False) -> dict[str, str]:
    """The key and value of `d` as text (render_bytes), identity numbers masked unless
    `unmasked`."""
    with RegistryClient(source.registry_url, **source.registry_auth.options()) as registry:
        decode = Deserializer(registry)
        return {k: render_bytes(getattr(d, k), decode, mask=not unmasked) for k in ("key", "value")}


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "backslashreplace")
    return str(v)  # Decimal, UUID


def audit_reveal(path: Path, *, who: str, topic: str, letter: DeadLetter, purpose: str) -> None:
    """Append who saw which dead letter unmasked, when and why; before it is shown, so that a
    reveal that cannot be recorded does not happen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "who": who,
        "action": "deadletter-reveal-unmasked",
        "deadletter_topic": topic,
        "deadletter": letter.id,
        "purpose": purpose,
    }
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(line, ensure_ascii=False) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


# --- views -------------------------------------------------------------------------------------
def summary(d: DeadLetter, replays: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A dead letter's list row: where it is and why; no key, value or source position."""
    return {
        "id": d.id,
        "partition": d.partition,
        "offset": d.offset,
        "ts": _iso(d.ts),
        "stage": d.stage,
        "original_topic": d.original_topic,
        "original_partition": d.original_partition,
        "original_offset": d.original_offset,
        "error_type": d.error_type,
        "reason": mask_text(d.reason),
        "agency": d.agency,
        "source_table": d.source_table,
        "replayed": len(replays),
    }


def details(
    d: DeadLetter, replays: Sequence[Mapping[str, Any]] = (), *, unmasked: bool = False
) -> dict[str, Any]:
    """A dead letter's metadata for `show`: the summary, the source position (masked unless
    `unmasked`), the sizes of key and value, and its replays."""
    out = summary(d)
    position = d.source_position
    out["source_position"] = position if unmasked else mask_text(position)
    out["key_bytes"] = None if d.key is None else len(d.key)
    out["value_bytes"] = None if d.value is None else len(d.value)
    out["replays"] = [dict(r) for r in replays]
    return out


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- replay ------------------------------------------------------------------------------------
@dataclass
class ReplayReport:
    """What a replay did (or, dry, would do) with each selected dead letter."""

    replayed: list[dict[str, Any]] = field(default_factory=list)  # replay-log records
    would_replay: list[DeadLetter] = field(default_factory=list)  # --dry-run
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)  # already replayed
    refused: list[tuple[DeadLetter, str]] = field(default_factory=list)  # cannot be replayed

    def lines(self, selected: int) -> list[str]:
        """One line per dead letter and a count, for the operator."""
        out = [
            f"would replay {d.id} -> {d.original_topic} {d.original_partition}"
            for d in self.would_replay
        ]
        for e in self.replayed:
            dead, to = e["deadletter"], e["replayed_to"]
            out.append(
                f"replayed {dead['partition']}:{dead['offset']} ->"
                f" {to['topic']} {to['partition']}:{to['offset']}"
            )
        out += [f"skipped {d.id}: {why}" for d, why in self.skipped]
        out += [f"refused {d.id}: {why}" for d, why in self.refused]
        done = (
            f"would replay {len(self.would_replay)}"
            if self.would_replay
            else f"replayed {len(self.replayed)}"
        )
        out.append(
            f"{done}, skipped {len(self.skipped)}, refused {len(self.refused)}"
            f" of {selected} selected"
        )
        return out


def refusal(d: DeadLetter) -> str | None:
    """Why `d` cannot be replayed, None when it can."""
    if d.stage == "capture":
        where = f"table {d.source_table} of {d.agency}" if d.source_table else "its table"
        return (
            f"capture-stage dead letter: the row of {where} (position"
            f" {mask_text(d.source_position)}) could not be encoded, so no message reached"
            f" {d.original_topic or 'Kafka'} and there are no bytes to re-send; fix the cause,"
            " then re-capture the row by touching it at the source (an update of its"
            " last-change column) so the connector captures it again"
        )
    if d.stage != REPLAYABLE_STAGE:
        return (
            f"stage {d.stage}: only {REPLAYABLE_STAGE}-stage dead letters (raw change events)"
            " are replayed"
        )
    if d.original_topic is None or d.original_partition is None:
        return "no original topic and partition recorded: nothing to re-send to"
    return None


def replays_of(source: Source) -> dict[str, list[dict[str, Any]]]:
    """The replay log of the source's dead-letter topic: dead-letter id -> its replays."""
    return asyncio.run(_replays(source))


async def _replays(source: Source) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    async for batch in read_to_end(source.kafka, source.log_topic):
        for m in batch:
            try:
                entry = json.loads(m.value)
                dead = entry["deadletter"]
            except (TypeError, ValueError, KeyError):
                continue  # not a replay record: nothing to skip for it
            if dead.get("topic") == source.topic:
                out.setdefault(f"{dead['partition']}:{dead['offset']}", []).append(entry)
    return out


def replay(
    source: Source,
    selected: Sequence[DeadLetter],
    *,
    who: str,
    replication_factor: int = 1,
    again: bool = False,
    dry_run: bool = False,
) -> ReplayReport:
    """Re-send the selected normalize-stage dead letters (same key and value bytes, same
    partition) to their original topic and log each on the replay-log topic; a dead letter
    already in that log is skipped unless `again`; `dry_run` sends nothing."""
    report = ReplayReport()
    done = replays_of(source)
    todo = []
    for d in selected:
        why = refusal(d)
        if why is not None:
            report.refused.append((d, why))
        elif d.id in done and not again:
            n = len(done[d.id])
            report.skipped.append((d, f"replayed {n} time(s) already (--again to resend)"))
        else:
            todo.append(d)
    if dry_run:
        report.would_replay = todo
    elif todo:
        asyncio.run(_send(source, todo, report, who, replication_factor))
    return report


async def _send(
    source: Source, todo: Sequence[DeadLetter], report: ReplayReport, who: str, rf: int
) -> None:
    await ensure_topics(
        source.kafka, {source.log_topic: KEEP_FOREVER}, partitions=1, replication_factor=rf
    )
    topics = {d.original_topic for d in todo}
    counts: dict[str, int] = {}
    for tp in await topic_partitions(source.kafka, topics):
        counts[tp.topic] = counts.get(tp.topic, 0) + 1
    producer = AIOKafkaProducer(**source.kafka.client_options(), acks="all")
    await producer.start()
    try:
        for d in todo:
            if d.original_topic not in counts:
                report.refused.append((d, f"topic {d.original_topic} does not exist (any more)"))
                continue
            # The original partition keeps the row's order with its other changes; a topic
            # that has fewer partitions now leaves the choice to the key's hash.
            original = d.original_partition
            partition = original if original < counts[d.original_topic] else None
            sent = await producer.send_and_wait(
                d.original_topic, d.value, key=d.key, partition=partition
            )
            # Sent first, logged second: a crash between leaves a replay without its log
            # record, which a later run sends again; normalize and projections take it twice.
            entry = _log_entry(source.topic, d, sent.partition, sent.offset, who)
            await producer.send_and_wait(
                source.log_topic, json.dumps(entry).encode(), key=d.id.encode()
            )
            report.replayed.append(entry)
    finally:
        await producer.stop()


def _log_entry(topic: str, d: DeadLetter, partition: int, offset: int, who: str) -> dict:
    return {
        "deadletter": {"topic": topic, "partition": d.partition, "offset": d.offset},
        "original": {
            "topic": d.original_topic,
            "partition": d.original_partition,
            "offset": d.original_offset,
        },
        "replayed_to": {"topic": d.original_topic, "partition": partition, "offset": offset},
        "who": who,
        "when": _iso(dt.datetime.now(dt.UTC)),
    }
