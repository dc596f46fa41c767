"""Test harness for capture modes: run a connector (in-process task or a real subprocess that can
be killed with -9), read back its topics, fold them by key, compare with the source."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kafka import KafkaConsumer, TopicPartition

from connectors.config import ConnectorConfig, parse_config
from connectors.runner import Connector
from ops.processes import ChildProcess
from schemas.codec import decode
from schemas.registry import RegistryClient
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def connector_config(stack, mode: str, tables: list[dict], **source: Any) -> dict:
    """A config mapping for a fresh agency (unique topics per test)."""
    agency = f"t{uuid.uuid4().hex[:10]}"
    return {
        "agency": agency,
        "source": {"mode": mode, **source},
        "tables": tables,
        "kafka": {"bootstrap": stack.bootstrap},
        "registry": {"url": stack.registry_url},
        "snapshot": {"chunk_size": 50},
        "batch_size": 200,
    }


@dataclass
class Event:
    key: dict | None
    value: dict | None  # None = tombstone
    offset: int
    partition: int


@dataclass
class TopicLog:
    """Everything one table topic holds, decoded."""

    events: list[Event] = field(default_factory=list)

    def fold(self, key_fields: list[str]) -> dict[tuple, dict]:
        """Latest `after` per key, deletes and tombstones removed (what a compacted reader sees)."""
        state: dict[tuple, dict] = {}
        for e in sorted(self.events, key=lambda e: (e.partition, e.offset)):
            k = tuple(e.key[f] for f in key_fields)
            if e.value is None or e.value["after"] is None:
                state.pop(k, None)
            else:
                state[k] = e.value["after"]
        return state

    def versions(self, key_fields: list[str], key: tuple) -> list[dict]:
        """Every `after` published for one key, in order (deletes as None)."""
        out = []
        for e in sorted(self.events, key=lambda e: (e.partition, e.offset)):
            if tuple(e.key[f] for f in key_fields) == key and e.value is not None:
                out.append(e.value["after"])
        return out


def read_topic(stack, topic: str, keys: bool = True) -> TopicLog:
    """Read a topic from the beginning to its current end (keys decoded unless keys=False)."""
    registry = RegistryClient(stack.registry_url)
    consumer = KafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        log = TopicLog()
        if not tps:
            return log
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for tp, msgs in consumer.poll(timeout_ms=500).items():
                for m in msgs:
                    log.events.append(
                        Event(
                            decode(registry, m.key) if m.key and keys else None,
                            decode(registry, m.value) if m.value is not None else None,
                            m.offset,
                            tp.partition,
                        )
                    )
        return log
    finally:
        consumer.close()


class InProcessConnector:
    """A connector running as an asyncio task in a background thread."""

    def __init__(self, config: dict):
        self.config: ConnectorConfig = parse_config(config)
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.connector: Connector | None = None
        import threading

        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.stop_event = asyncio.Event()
            self.connector = Connector(self.config, progress=False)
            await self.connector.run(self.stop_event)

        try:
            self.loop.run_until_complete(main())
        except BaseException as e:  # noqa: BLE001 - reported to the test
            self.error = e

    def __enter__(self) -> InProcessConnector:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(60)
        if self.error and not exc[0]:
            raise self.error
        if self.error and isinstance(exc[1], BaseException):
            # The test failed first (often a wait that timed out because the connector had
            # died): say why the connector ended, or that failure hides it.
            exc[1].add_note(
                f"the connector had ended with {type(self.error).__name__}: {self.error}"
            )

    def check(self) -> None:
        """Raise the connector's error, if it died."""
        if self.error:
            raise self.error


class SubprocessConnector(ChildProcess):
    """`mpphub connect CONFIG` as a real process, for kill -9 tests."""

    def __init__(self, config: dict, tmp: Path):
        self.path = tmp / f"{config['agency']}.yaml"
        self.path.write_text(yaml.safe_dump(config))
        super().__init__(
            f"connector {config['agency']}",
            [sys.executable, "-m", "ops.cli", "connect", str(self.path), "--no-progress"],
            tmp / f"{config['agency']}.log",
            cwd=REPO,
        )

    def output(self) -> str:
        """Everything the connector printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def dead_letters(stack, agency: str) -> list[dict]:
    """The capture dead letters of one agency (Avro, dead_letter.avsc), oldest first, with the
    row they carry decoded from its JSON."""
    import json

    out = []
    for e in read_topic(stack, "mpp.hub.deadletter", keys=False).events:
        v = e.value
        if v is None or v.get("agency") != agency:
            continue
        out.append(
            {
                "reason": v["reason"],
                "error_type": v["error_type"],
                "stage": v["stage"],
                "table": v["source_table"],
                "position": v["source_position"],
                "topic": v["original_topic"],
                "row": json.loads(v["value"]) if v["value"] else None,
            }
        )
    return out


def read_raw(stack, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a topic from its beginning to its current end, undecoded."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic}"
            for msgs in consumer.poll(timeout_ms=500).values():
                out.extend((m.key, m.value) for m in msgs)
        return out
    finally:
        consumer.close()


def topic_size(stack, topic: str) -> int:
    """How many records the topic holds (sum of its partitions' end offsets)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=stack.bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()


def stored_offset(stack, agency: str) -> dict:
    """The connector's last record in mpp.hub.connect-offsets (its key is the connector name,
    which the harness configs leave equal to the agency)."""
    import json

    state: dict = {}
    for key, value in read_raw(stack, "mpp.hub.connect-offsets"):
        if key == agency.encode():
            state = json.loads(value) if value else {}
    return state


def snapshot_done(stack, agency: str, table: str) -> bool:
    """True once the stored offset says the table's snapshot is complete."""
    tables = stored_offset(stack, agency).get("tables", {})
    return bool(tables.get(table, {}).get("snapshot", {}).get("done"))


def snapshot_rows_stored(stack, agency: str, table: str) -> int:
    """How many snapshot rows the stored offset covers (what a restart does not re-send)."""
    tables = stored_offset(stack, agency).get("tables", {})
    return int(tables.get(table, {}).get("snapshot", {}).get("rows", 0))


def is_subsequence(wanted: list, seen: list) -> bool:
    """Every item of `wanted` appears in `seen`, in that order (others may lie between)."""
    it = iter(seen)
    return all(any(w == s for s in it) for w in wanted)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _norm(v: Any) -> Any:
    """A value as it compares after an Avro round trip (a naive timestamp travels as UTC)."""
    if isinstance(v, dt.datetime):
        v = v if v.tzinfo else v.replace(tzinfo=dt.UTC)
        return (v - _EPOCH) // dt.timedelta(microseconds=1)
    return v


def source_state(engine, table: str) -> dict[tuple, dict]:
    """The source table now, keyed and converted as the connector converts it."""
    import sqlalchemy as sa

    from connectors.shapes import TableShape

    refl = sa.Table(table, sa.MetaData(), autoload_with=engine)
    shape = TableShape.from_table(refl)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(refl)).mappings()]
    return {
        tuple(_norm(v) for v in shape.convert_key(r).values()): {
            k: _norm(v) for k, v in shape.convert_row(r).items()
        }
        for r in rows
    }


def wait_equal(stack, topic: str, engine, table: str, key: list[str], timeout=60) -> TopicLog:
    """Wait until the folded topic equals the source table; returns the topic's log.

    The failure names a few differing keys only: pytest's own diff of two large dicts takes
    minutes on every poll."""
    seen: dict[str, TopicLog] = {}

    def same() -> bool:
        seen["log"] = read_topic(stack, topic)
        source = source_state(engine, table)
        columns = next(iter(source.values())).keys() if source else ()
        # Events written before a column was added lack it: a reader's schema fills in null.
        folded = {
            tuple(_norm(v) for v in k): {c: _norm(row.get(c)) for c in columns}
            for k, row in seen["log"].fold(key).items()
        }
        differ = [k for k in source.keys() | folded.keys() if folded.get(k) != source.get(k)]
        assert not differ, (
            f"{len(differ)} key(s) differ ({len(folded)} in topic, {len(source)} in source), "
            f"e.g. {sorted(differ, key=str)[:3]}"
        )
        return True

    wait_until(same, timeout, f"{table}: folded topic == source")
    return seen["log"]


def assert_log_based_history(log: TopicLog, row_id: int, names: list[str]) -> None:
    """What a log-based mode owes over the scripted `penduduk` table: every version of row
    `row_id` in order (`nama` values), each streamed event with its source time and its own
    ordered position, and every delete carrying the full old row followed by a tombstone."""
    assert [v["nama"] if v else None for v in log.versions(["id"], (row_id,))] == names
    events = sorted(log.events, key=lambda e: (e.partition, e.offset))
    streamed = [e for e in events if e.value and e.value["op"] != "r"]
    assert all(e.value["source"]["ts_ms"] for e in streamed)
    positions = [e.value["source"]["position"] for e in streamed if e.key == {"id": row_id}]
    assert positions == sorted(positions) and len(set(positions)) == len(names) - 1
    for i, e in enumerate(events):
        if e.value and e.value["op"] == "d":
            assert e.value["before"]["nama"] == f"warga {e.key['id']}"
            nxt = next(x for x in events[i + 1 :] if x.key == e.key and x.partition == e.partition)
            assert nxt.value is None
