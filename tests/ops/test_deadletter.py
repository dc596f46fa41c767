"""`mpphub deadletter list|show|replay`: the pure parts (ids, filters, masking, refusals) alone,
then the commands against the real broker and registry, each test on dead-letter and raw topics
of its own (dead_letter.avsc records written here, one of them around a real raw change event)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kafka import KafkaProducer

from eventlog import KafkaSettings
from eventlog.admin import ensure_topics
from eventlog.reading import read_to_end
from eventlog.topics import DELETE
from ops.cli import main
from ops.deadletter import (
    DeadLetter,
    Filters,
    ReplayReport,
    mask_text,
    parse_time,
    refusal,
    render_bytes,
    resolve,
    select,
)
from schemas import catalog
from schemas.codec import Deserializer, Serializer
from schemas.registry import RegistryClient
from tests.streams.helpers import FakeRegistry, RawSender
from tests.streams.rows import WOMAN, biodata

MPPHUB = Path(sys.executable).with_name("mpphub")
MASKED = "741301**********"
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def letter(partition: int = 0, offset: int = 0, **over: Any) -> DeadLetter:
    record = {
        "reason": "BIODATA_WNI.JENIS_KLMIN: 9 is not a sex code", "error_type": "MappingError",
        "stage": "normalize", "original_topic": "mpp.disdukcapil.biodata_wni", "partition": 0,
        "offset": 7, "key": b"k", "value": b"v", "agency": "disdukcapil",
        "source_table": "BIODATA_WNI", "source_position": f"2025-08-18 09:30:00|{WOMAN}",
        "ts": T0,
    }  # fmt: skip
    return DeadLetter.of(partition, offset, record | over)


# --- without Kafka ------------------------------------------------------------------------------
def test_identity_numbers_are_masked_in_text() -> None:
    assert mask_text(f'{{"NIK": "{WOMAN}", "TELP": "0812345"}}') == (
        f'{{"NIK": "{MASKED}", "TELP": "0812345"}}'
    )
    assert mask_text("2025-08-18 09:30:00|7413014508900001") == f"2025-08-18 09:30:00|{MASKED}"
    assert mask_text(None) is None


def test_times_are_iso_and_utc_without_an_offset() -> None:
    assert parse_time("2026-11-02T08:00") == T0
    assert parse_time("2026-11-02T16:00+08:00") == T0
    assert parse_time("2026-11-02T08:00:00Z") == T0
    assert parse_time("2026-11-02") == dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_time("yesterday")


def test_an_id_is_partition_and_offset_and_a_bare_offset_must_be_unique() -> None:
    letters = [letter(0, 0), letter(1, 0), letter(1, 5)]
    assert resolve(letters, "1:0") is letters[1]
    assert resolve(letters, "5") is letters[2]
    with pytest.raises(ValueError, match="ambiguous: say one of 0:0, 1:0"):
        resolve(letters, "0")
    with pytest.raises(ValueError, match="no dead letter 2:0"):
        resolve(letters, "2:0")
    with pytest.raises(ValueError, match="expected partition:offset"):
        resolve(letters, "a:b")


def test_filters_must_all_match() -> None:
    a = letter(0, 0)
    b = letter(0, 1, stage="capture", reason="record does not fit", ts=T0 + dt.timedelta(days=1))
    letters = [a, b]
    assert select(letters, Filters(stage="capture")) == [b]
    assert select(letters, Filters(reason="SEX CODE")) == [a]
    assert select(letters, Filters(since=T0 + dt.timedelta(hours=1))) == [b]
    assert select(letters, Filters(until=T0 + dt.timedelta(hours=1))) == [a]
    assert select(letters, Filters(agency="dpmptsp")) == []
    assert select(letters, Filters(stage="capture"), ids=["0:0"]) == []
    assert select(letters, ids=["0:1"]) == [b]
    assert not Filters().any and Filters(agency="x").any


def test_only_normalize_dead_letters_with_a_place_are_replayable() -> None:
    assert refusal(letter()) is None
    capture = refusal(letter(stage="capture", partition=None, offset=None))
    assert capture is not None
    assert "no message reached mpp.disdukcapil.biodata_wni" in capture
    assert "re-capture the row by touching it at the source" in capture
    assert WOMAN not in capture and MASKED in capture
    assert "only normalize-stage" in (refusal(letter(stage="identity")) or "")
    assert "nothing to re-send to" in (refusal(letter(original_topic=None)) or "")


def test_bytes_are_rendered_as_avro_json_text_or_bytes_and_masked() -> None:
    registry = FakeRegistry()
    schema = {
        "type": "record", "name": "R",
        "fields": [{"name": "nik", "type": "string"}, {"name": "ts_ms", "type": "long"}],
    }  # fmt: skip
    avro = Serializer(registry, "t-value", schema)({"nik": WOMAN, "ts_ms": 1755509400000})
    decode = Deserializer(registry)
    assert json.loads(render_bytes(avro, decode)) == {"nik": MASKED, "ts_ms": "175550*******"}
    assert json.loads(render_bytes(avro, decode, mask=False)) == {
        "nik": WOMAN, "ts_ms": 1755509400000
    }  # fmt: skip
    row = json.dumps({"after": {"a": 1, "nik": int(WOMAN)}}).encode()
    assert json.loads(render_bytes(row, decode)) == {"after": {"a": 1, "nik": MASKED}}
    assert render_bytes(b"\xde\xad\xbe\xef garbage", decode) == r"b'\xde\xad\xbe\xef garbage'"
    assert render_bytes(f"plain {WOMAN}".encode(), decode) == f"plain {MASKED}"
    assert render_bytes(None, decode) == "null"


def test_a_replay_report_says_each_and_counts() -> None:
    report = ReplayReport(skipped=[(letter(0, 1), "replayed 1 time(s) already")])
    report.refused.append((letter(0, 2, stage="capture"), "capture-stage dead letter: ..."))
    assert report.lines(2) == [
        "skipped 0:1: replayed 1 time(s) already",
        "refused 0:2: capture-stage dead letter: ...",
        "replayed 0, skipped 1, refused 1 of 2 selected",
    ]


# --- against the real broker and registry -------------------------------------------------------
@dataclass
class Letters:
    """A dead-letter topic of the test's own, and what was written to it."""

    stack: Any
    topic: str
    raw_topic: str  # the normalize dead letters' original topic
    capture_topic: str
    change: tuple[bytes, bytes]  # key and value of the real raw change event
    ids: dict[str, str]  # name -> partition:offset on the dead-letter topic
    audit: Path

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap=self.stack.bootstrap)

    @property
    def env(self) -> dict[str, str]:
        return {
            "MPPHUB_KAFKA_BOOTSTRAP": self.stack.bootstrap,
            "MPPHUB_REGISTRY_URL": self.stack.registry_url,
            "MPPHUB_DEADLETTER_TOPIC": self.topic,
        }

    def cli(self, *args: str, code: int = 0, stdout_only: bool = False) -> str:
        """Run `mpphub deadletter ...` in-process; its output (stdout and stderr) once the exit
        code is checked."""
        done = CliRunner().invoke(main, ["deadletter", *args], env=self.env)
        assert done.exit_code == code, done.output
        return done.stdout if stdout_only else done.output

    def json(self, *args: str) -> Any:
        """The JSON a command prints with --json."""
        return json.loads(self.cli(*args, "--json", stdout_only=True))

    def read(self, topic: str) -> list[Any]:
        return records(self.kafka, topic)


def records(kafka: KafkaSettings, topic: str) -> list[Any]:
    """Every record of `topic` now, as aiokafka gives them (none for a missing topic)."""

    async def go() -> list[Any]:
        return [m async for batch in read_to_end(kafka, topic) for m in batch]

    return asyncio.run(go())


def _ts(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


@pytest.fixture
def letters(stack, tmp_path: Path) -> Iterator[Letters]:
    """Four dead letters on a fresh two-partition topic: two of stage normalize (around a real
    raw change event of BIODATA_WNI, and around garbage), one of capture, one of identity."""
    run = uuid.uuid4().hex[:8]
    topic, raw, capture = f"test.deadletter.{run}", f"test.{run}.biodata_wni", f"test.{run}.pemohon"
    kafka = KafkaSettings(bootstrap=stack.bootstrap)
    asyncio.run(
        ensure_topics(kafka, {topic: DELETE, raw: DELETE}, partitions=2, replication_factor=1)
    )
    registry = RegistryClient(stack.registry_url)
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    try:
        sender = RawSender(registry, producer, {"BIODATA_WNI": raw})
        change = sender.change("BIODATA_WNI", "c", biodata(JENIS_KLMIN=9))
        garbage = sender.raw("BIODATA_WNI", b"some-key", b"\xde\xad\xbe\xef garbage")
        (kv,) = [(m.key, m.value) for m in records(kafka, raw) if m.offset == change.offset]
        dead = catalog.get("dead_letter").schema
        encode = Serializer(registry, f"{topic}-value", dead)
        base = {"key": None, "value": None, "partition": None, "offset": None, "agency": None,
                "source_table": None, "source_position": None}  # fmt: skip
        written = {
            "mapping": (0, base | {
                "reason": "BIODATA_WNI.JENIS_KLMIN: 9 is not a sex code",
                "error_type": "MappingError", "stage": "normalize", "original_topic": raw,
                "partition": 0, "offset": change.offset, "key": kv[0], "value": kv[1],
                "agency": "disdukcapil", "source_table": "BIODATA_WNI",
                "source_position": f"2025-08-18 09:30:00|{WOMAN}", "ts": _ts(0)}),
            "garbage": (1, base | {
                "reason": "magic byte is 0xde, not 0x00: not Confluent-framed Avro",
                "error_type": "WireFormatError", "stage": "normalize", "original_topic": raw,
                "partition": 0, "offset": garbage.offset, "key": b"some-key",
                "value": b"\xde\xad\xbe\xef garbage", "ts": _ts(1)}),
            "capture": (0, base | {
                "reason": "record does not fit schema id 9 of subject x: no_identitas",
                "error_type": "EncodeError", "stage": "capture", "original_topic": capture,
                "value": json.dumps({"op": "c", "after": {"no_identitas": WOMAN}}).encode(),
                "agency": "dpmptsp", "source_table": "tmpemohon",
                "source_position": "binlog.000003:1234", "ts": _ts(26)}),
            "identity": (1, base | {
                "reason": "no person fact in the value", "error_type": "WireFormatError",
                "stage": "identity", "original_topic": f"test.{run}.person", "partition": 0,
                "offset": 3, "value": b"x", "ts": _ts(50)}),
        }  # fmt: skip
        ids = {}
        for name, (partition, record) in written.items():
            sent = producer.send(topic, encode(record), key=name.encode(), partition=partition)
            meta = sent.get(30)
            ids[name] = f"{meta.partition}:{meta.offset}"
        yield Letters(stack, topic, raw, capture, kv, ids, tmp_path / "audit.jsonl")
    finally:
        producer.close()
        registry.close()


@pytest.mark.integration
def test_list_filters_and_never_shows_a_value(letters: Letters) -> None:
    ids = letters.ids

    def listed(*args: str) -> list[str]:
        return [r["id"] for r in letters.json("list", *args)]

    rows = letters.json("list")
    assert [r["id"] for r in rows] == [
        ids[n] for n in ("mapping", "garbage", "capture", "identity")
    ]
    assert rows[0] == {
        "id": ids["mapping"], "partition": 0, "offset": 0, "ts": "2026-11-02T08:00:00.000Z",
        "stage": "normalize", "original_topic": letters.raw_topic, "original_partition": 0,
        "original_offset": 0, "error_type": "MappingError",
        "reason": "BIODATA_WNI.JENIS_KLMIN: 9 is not a sex code", "agency": "disdukcapil",
        "source_table": "BIODATA_WNI", "replayed": 0,
    }  # fmt: skip
    assert listed("--stage", "normalize") == [ids["mapping"], ids["garbage"]]
    assert listed("--reason", "MAGIC BYTE") == [ids["garbage"]]
    assert listed("--topic", letters.raw_topic) == [ids["mapping"], ids["garbage"]]
    assert listed("--agency", "dpmptsp") == [ids["capture"]]
    assert listed("--since", "2026-11-03") == [ids["capture"], ids["identity"]]
    assert listed("--since", "2026-11-02T08:30", "--until", "2026-11-04") == [
        ids["garbage"], ids["capture"]
    ]  # fmt: skip
    assert listed("--limit", "1") == [ids["identity"]]
    table = letters.cli("list")
    assert "4 dead letter(s)" in table and WOMAN not in table and "garbage" not in table
    assert "Invalid value for '--since'" in letters.cli("list", "--since", "x", code=2)


@pytest.mark.integration
def test_the_command_runs_as_a_process_and_fails_in_one_line(letters: Letters) -> None:
    env = os.environ | letters.env | {"COLUMNS": "200"}
    done = subprocess.run(
        [str(MPPHUB), "deadletter", "list", "--stage", "normalize"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert letters.ids["garbage"] in done.stdout and "WireFormatError" in done.stdout
    assert "2 dead letter(s)" in done.stdout
    unreachable = env | {"MPPHUB_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    done = subprocess.run(
        [str(MPPHUB), "deadletter", "list"], capture_output=True, text=True, env=unreachable,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot connect to Kafka at 127.0.0.1:1: ")
    assert "MPPHUB_KAFKA_BOOTSTRAP" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.integration
def test_show_hides_the_key_and_value_and_masks_the_position(letters: Letters) -> None:
    shown = letters.json("show", letters.ids["mapping"])
    assert "key" not in shown and "value" not in shown
    assert shown["source_position"] == f"2025-08-18 09:30:00|{MASKED}"
    assert (shown["key_bytes"], shown["value_bytes"]) == tuple(len(b) for b in letters.change)
    text = letters.cli("show", letters.ids["mapping"])
    assert WOMAN not in text and "WA ODE" not in text and "--reveal to see them masked" in text
    assert "ambiguous: say one of 0:0, 1:0" in letters.cli("show", "0", code=1)


@pytest.mark.integration
def test_reveal_decodes_the_value_with_identity_numbers_masked(letters: Letters) -> None:
    shown = letters.json("show", letters.ids["mapping"], "--reveal")
    value = json.loads(shown["value"])
    assert value["after"]["NIK"] == MASKED and value["after"]["NO_KK"] == "741301**********"
    assert value["after"]["NAMA_LGKP"] == "WA ODE SITTI"  # names stay: only numbers are masked
    assert json.loads(shown["key"]) == {"NIK": MASKED}
    row = json.loads(letters.json("show", letters.ids["capture"], "--reveal")["value"])
    assert row == {"op": "c", "after": {"no_identitas": MASKED}}
    text = letters.cli("show", letters.ids["mapping"], "--reveal")
    assert WOMAN not in text and "identity numbers masked" in text
    assert not letters.audit.exists()


@pytest.mark.integration
def test_unmasked_needs_a_purpose_and_is_audited_first(letters: Letters) -> None:
    mapping = letters.ids["mapping"]
    audit = ("--audit-file", str(letters.audit))
    assert "--unmasked needs --purpose" in letters.cli(
        "show", mapping, "--reveal", "--unmasked", *audit, code=2
    )
    assert "--unmasked goes with --reveal" in letters.cli("show", mapping, "--unmasked", code=2)
    assert not letters.audit.exists()
    shown = letters.json(
        "show", mapping, "--reveal", "--unmasked", "--purpose", "fix sex code mapping", *audit
    )
    assert json.loads(shown["value"])["after"]["NIK"] == WOMAN
    assert shown["source_position"] == f"2025-08-18 09:30:00|{WOMAN}"
    (line,) = letters.audit.read_text().splitlines()
    entry = json.loads(line)
    assert {k: entry[k] for k in ("action", "deadletter_topic", "deadletter", "purpose")} == {
        "action": "deadletter-reveal-unmasked", "deadletter_topic": letters.topic,
        "deadletter": mapping, "purpose": "fix sex code mapping",
    }  # fmt: skip
    assert entry["who"] and entry["when"].startswith(str(dt.date.today().year))
    assert oct(letters.audit.stat().st_mode & 0o777) == "0o600"


@pytest.mark.integration
def test_replay_resends_the_exact_bytes_once_and_logs_it(letters: Letters) -> None:
    log_topic = letters.topic + "-replays"
    before = letters.read(letters.raw_topic)
    dry = letters.cli("replay", "--stage", "normalize", "--dry-run")
    assert f"would replay {letters.ids['mapping']} -> {letters.raw_topic} 0" in dry
    assert "would replay 2, skipped 0, refused 0 of 2 selected" in dry
    assert letters.read(letters.raw_topic) == before and letters.read(log_topic) == []

    out = letters.cli("replay", "--stage", "normalize")
    assert "replayed 2, skipped 0, refused 0 of 2 selected" in out
    new = letters.read(letters.raw_topic)[len(before) :]
    assert [(m.partition, m.key, m.value) for m in new] == [
        (0, *letters.change), (0, b"some-key", b"\xde\xad\xbe\xef garbage")
    ]  # fmt: skip
    logged = [json.loads(m.value) for m in letters.read(log_topic)]
    assert [e["deadletter"] for e in logged] == [
        {"topic": letters.topic, "partition": p, "offset": 0} for p in (0, 1)
    ]
    assert logged[0]["original"] == {"topic": letters.raw_topic, "partition": 0, "offset": 0}
    assert logged[0]["replayed_to"] == {
        "topic": letters.raw_topic, "partition": 0, "offset": new[0].offset
    }  # fmt: skip
    assert all(e["who"] and e["when"] for e in logged)

    again = letters.cli("replay", "--stage", "normalize")
    assert "skipped 0:0: replayed 1 time(s) already (--again to resend)" in again
    assert "replayed 0, skipped 2, refused 0 of 2 selected" in again
    assert len(letters.read(letters.raw_topic)) == len(before) + 2
    assert [r["replayed"] for r in letters.json("list", "--stage", "normalize")] == [1, 1]

    forced = letters.cli("replay", letters.ids["garbage"], "--again")
    assert "replayed 1, skipped 0, refused 0 of 1 selected" in forced
    assert len(letters.read(letters.raw_topic)) == len(before) + 3
    assert len(letters.json("show", letters.ids["garbage"])["replays"]) == 2


@pytest.mark.integration
def test_capture_and_other_stages_are_refused_with_what_to_do(letters: Letters) -> None:
    out = letters.cli("replay", letters.ids["capture"], letters.ids["identity"], code=1)
    assert (
        f"refused {letters.ids['capture']}: capture-stage dead letter: the row of table tmpemohon"
        f" of dpmptsp (position binlog.000003:1234) could not be encoded, so no message reached"
        f" {letters.capture_topic}"
    ) in out
    assert "re-capture the row by touching it at the source" in out
    assert f"refused {letters.ids['identity']}: stage identity: only normalize-stage" in out
    assert "error: 2 dead letter(s) could not be replayed (see above)" in out
    assert letters.read(letters.capture_topic) == []
    assert letters.read(letters.topic + "-replays") == []
    assert "name dead letters by ID or select them" in letters.cli("replay", code=2)
