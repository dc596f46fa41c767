"""SQL polling capture against real SQLite/PostgreSQL, Kafka and the registry."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.shapes import TableShape
from tests.connectors.harness import (
    REPO,
    InProcessConnector,
    SubprocessConnector,
    connector_config,
    dead_letters,
    read_topic,
    snapshot_done,
    topic_size,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

FAST = {"poll_interval_s": 0.2, "safety_delay_s": 0.3, "diff_interval_s": 1.0}


def _people(meta: sa.MetaData, name: str = "penduduk") -> sa.Table:
    return sa.Table(
        name,
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("nama", sa.String(100)),
        sa.Column("tgl_lahir", sa.Date),
        sa.Column("tgl_ubah", sa.DateTime, nullable=False),
    )


def _now() -> dt.datetime:
    return dt.datetime.now()


def _insert(engine: sa.Engine, table: sa.Table, ids, name="warga") -> None:
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {
                    "id": i,
                    "nama": f"{name} {i}",
                    "tgl_lahir": dt.date(1990, 1, 1 + i % 28),
                    "tgl_ubah": _now(),
                }
                for i in ids
            ],
        )


def _source_state(engine: sa.Engine, table: sa.Table) -> dict[tuple, dict]:
    refl = sa.Table(table.name, sa.MetaData(), autoload_with=engine)
    shape = TableShape.from_table(refl)
    with engine.connect() as conn:
        return {
            (r["id"],): shape.convert_row(dict(r)) for r in conn.execute(sa.select(refl)).mappings()
        }


def _assert_topic_equals_source(stack, cfg: dict, engine, table: sa.Table, timeout=60) -> None:
    topic = f"mpp.{cfg['agency']}.{table.name.lower()}"

    def same() -> bool:
        source = _source_state(engine, table)
        # An event written before a column was added lacks it: a reader with the latest
        # schema sees the default, null.
        columns = {c for row in source.values() for c in row}
        folded = {
            k: {c: v.get(c) for c in columns}
            for k, v in read_topic(stack, topic).fold(["id"]).items()
        }
        # A compact report: pytest's own diff of two 20k-key dicts takes minutes.
        differ = sorted(k for k in source.keys() | folded.keys() if source.get(k) != folded.get(k))
        assert not differ, (
            f"{len(differ)} key(s) differ ({len(folded)} in topic, {len(source)} in source), "
            f"e.g. {differ[:3]}: topic {folded.get(differ[0])} source {source.get(differ[0])}"
        )
        return True

    wait_until(same, timeout, f"{topic} folded == source")


def _sqlite(tmp_path: Path) -> tuple[str, sa.Engine, sa.Table]:
    url = f"sqlite:///{tmp_path / 'agency.db'}"
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = _people(meta)
    meta.create_all(engine)
    return url, engine, table


def test_inserts_updates_deletes_end_equal_to_the_source(stack, tmp_path: Path) -> None:
    url, engine, table = _sqlite(tmp_path)
    _insert(engine, table, range(1, 121))
    cfg = connector_config(
        stack, "polling", [{"name": "penduduk", "timestamp_column": "tgl_ubah"}], url=url, **FAST
    )
    with InProcessConnector(cfg) as conn:
        _assert_topic_equals_source(stack, cfg, engine, table)
        with engine.begin() as c:
            c.execute(table.update().where(table.c.id <= 10).values(nama="diubah", tgl_ubah=_now()))
            c.execute(table.delete().where(table.c.id.between(50, 59)))
        _insert(engine, table, range(200, 230), name="baru")
        for i in range(3):  # several changes of one row
            with engine.begin() as c:
                c.execute(
                    table.update().where(table.c.id == 7).values(nama=f"v{i}", tgl_ubah=_now())
                )
        _assert_topic_equals_source(stack, cfg, engine, table)
        conn.check()
    log = read_topic(stack, f"mpp.{cfg['agency']}.penduduk")
    ops = [e.value["op"] for e in log.events if e.value is not None]
    assert ops.count("r") == 120 and ops.count("d") == 10 and ops.count("c") == 30
    # every delete is followed by a tombstone for the same key
    tombstones = [e for e in log.events if e.value is None]
    assert len(tombstones) == 10
    assert {
        json.dumps(e.value["source"]["snapshot"])
        for e in log.events
        if e.value and e.value["op"] == "r"
    } == {"true"}


def test_a_delete_is_dated_on_the_sources_clock_east_of_utc(
    stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Agency applications stamp local wall time (WITA, UTC+8) without a zone. A delete found by
    the key-set diff must be dated on that clock too: dated in epoch time it would be eight hours
    older than the row's last update, and a projection drops a change older than the version it
    holds (projections/facts.is_stale)."""
    monkeypatch.setenv("TZ", "Asia/Makassar")
    time.tzset()
    try:
        url, engine, table = _sqlite(tmp_path)
        _insert(engine, table, range(1, 4))
        cfg = connector_config(
            stack,
            "polling",
            [{"name": "penduduk", "timestamp_column": "tgl_ubah"}],
            url=url,
            **FAST,
        )
        topic = f"mpp.{cfg['agency']}.penduduk"
        with InProcessConnector(cfg) as conn:
            wait_until(lambda: topic_size(stack, topic) >= 3, 60, "the snapshot")
            with engine.begin() as c:
                c.execute(table.update().where(table.c.id == 2).values(nama="x", tgl_ubah=_now()))
            wait_until(lambda: topic_size(stack, topic) >= 4, 60, "the update")
            with engine.begin() as c:
                c.execute(table.delete().where(table.c.id == 2))
            wait_until(lambda: topic_size(stack, topic) >= 6, 60, "the delete and its tombstone")
            conn.check()
        events = [e.value for e in read_topic(stack, topic).events if e.value is not None]
        (update,) = [e for e in events if e["op"] == "u"]
        (delete,) = [e for e in events if e["op"] == "d"]
        assert delete["source"]["ts_ms"] >= update["source"]["ts_ms"]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_transaction_committing_after_a_later_one_is_not_lost(stack, pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    meta = sa.MetaData()
    table = _people(meta)
    meta.create_all(engine)
    _insert(engine, table, range(1, 6))
    cfg = connector_config(
        stack,
        "polling",
        [{"name": "penduduk", "timestamp_column": "tgl_ubah"}],
        url=pg_url,
        poll_interval_s=0.2,
        safety_delay_s=0.5,
        diff_interval_s=2.0,
    )
    with InProcessConnector(cfg):
        _assert_topic_equals_source(stack, cfg, engine, table)
        slow = engine.connect()
        tx = slow.begin()
        # Timestamped now, committed only after a later transaction and after the safety delay:
        # the cursor passes it, the key-set diff must still find it.
        slow.execute(
            table.update().where(table.c.id == 1).values(nama="terlambat", tgl_ubah=_now())
        )
        time.sleep(0.05)
        with engine.begin() as c:
            c.execute(table.update().where(table.c.id == 2).values(nama="cepat", tgl_ubah=_now()))
        wait_until(
            lambda: any(
                e.value and e.value["after"] and e.value["after"]["nama"] == "cepat"
                for e in read_topic(stack, f"mpp.{cfg['agency']}.penduduk").events
            ),
            30,
            "the later transaction published",
        )
        tx.commit()
        slow.close()
        _assert_topic_equals_source(stack, cfg, engine, table)


def test_kill_9_during_snapshot_and_streaming_loses_nothing(stack, tmp_path: Path) -> None:
    url, engine, table = _sqlite(tmp_path)
    # Rows enough that a poll every 0.1 s sees the snapshot half-way: 20,000 were snapshotted
    # between two polls once.
    rows = 100_000
    _insert(engine, table, range(1, rows + 1))
    cfg = connector_config(
        stack, "polling", [{"name": "penduduk", "timestamp_column": "tgl_ubah"}], url=url, **FAST
    )
    cfg["snapshot"]["chunk_size"] = 200
    topic = f"mpp.{cfg['agency']}.penduduk"
    proc = SubprocessConnector(cfg, tmp_path)
    proc.start()
    try:
        wait_until(lambda: 0 < topic_size(stack, topic) < rows, 90, "snapshot half-way")
        proc.kill9()
        proc.start()
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.is_set():
                with engine.begin() as c:
                    c.execute(
                        table.update()
                        .where(table.c.id == 1 + i % 500)
                        .values(nama=f"w{i}", tgl_ubah=_now())
                    )
                i += 1
                time.sleep(0.01)

        t = threading.Thread(target=writer)
        t.start()
        try:
            wait_until(
                lambda: snapshot_done(stack, cfg["agency"], "penduduk"),
                120,
                "snapshot done after restart",
            )
            wait_until(lambda: topic_size(stack, topic) > rows + 100, 60, "streaming under way")
            proc.kill9()
            proc.start()
        finally:
            stop.set()
            t.join()
        _assert_topic_equals_source(stack, cfg, engine, table, timeout=120)
        assert proc.alive(), proc.output()[-2000:]
    finally:
        proc.stop()


def test_a_column_added_while_the_snapshot_runs_is_published(
    stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column is added, and a row not read yet given a value in it, between two chunks of the
    snapshot, which goes on with the columns it started with. The stream must send that row
    again with the new column, though its timestamp says it went out already."""
    import connectors.snapshot

    url, engine, table = _sqlite(tmp_path)
    _insert(engine, table, range(1, 121))
    read = connectors.snapshot.chunks

    def changed_midway(*args, **kwargs):
        for i, chunk in enumerate(read(*args, **kwargs)):
            yield chunk
            if i == 0:  # chunks of 50: row 100 is read after the change
                with engine.begin() as c:
                    c.execute(sa.text("ALTER TABLE penduduk ADD COLUMN no_kk VARCHAR(16)"))
                    c.execute(
                        sa.text("UPDATE penduduk SET no_kk = :kk, tgl_ubah = :at WHERE id = 100"),
                        {"kk": "7413010101010001", "at": _now()},
                    )

    monkeypatch.setattr(connectors.snapshot, "chunks", changed_midway)
    cfg = connector_config(
        stack, "polling", [{"name": "penduduk", "timestamp_column": "tgl_ubah"}], url=url, **FAST
    )
    with InProcessConnector(cfg) as conn:
        wait_until(
            lambda: (
                read_topic(stack, f"mpp.{cfg['agency']}.penduduk")
                .fold(["id"])
                .get((100,), {})
                .get("no_kk")
                == "7413010101010001"
            ),
            30,
            "row 100 with the added column",
        )
        _assert_topic_equals_source(stack, cfg, engine, table)
        conn.check()


def test_a_refused_schema_change_pauses_one_table_and_the_others_go_on(
    stack, pg_url: str, tmp_path: Path
) -> None:
    engine = sa.create_engine(pg_url)
    meta = sa.MetaData()
    a, b = _people(meta, "penduduk"), _people(meta, "keluarga")
    meta.create_all(engine)
    _insert(engine, a, range(1, 4))
    _insert(engine, b, range(1, 4))
    tables = [{"name": n, "timestamp_column": "tgl_ubah"} for n in ("penduduk", "keluarga")]
    cfg = connector_config(stack, "polling", tables, url=pg_url, **FAST)
    with InProcessConnector(cfg) as conn:
        # Both snapshots done first: a column added while a table's snapshot still runs is not
        # what this test is about (and the snapshot reads the columns it started with).
        _assert_topic_equals_source(stack, cfg, engine, a)
        _assert_topic_equals_source(stack, cfg, engine, b)
        with engine.begin() as c:  # an added nullable column evolves compatibly
            c.execute(sa.text("ALTER TABLE keluarga ADD COLUMN no_kk VARCHAR(16)"))
            c.execute(
                sa.text(
                    "UPDATE keluarga SET no_kk = '7413010101010001', tgl_ubah = now() WHERE id = 1"
                )
            )
        wait_until(
            lambda: any(
                e.value and e.value["after"] and e.value["after"].get("no_kk") == "7413010101010001"
                for e in read_topic(stack, f"mpp.{cfg['agency']}.keluarga").events
            ),
            30,
            "the added column published",
        )
        with engine.begin() as c:  # a narrowed type is refused by the registry
            c.execute(sa.text("ALTER TABLE penduduk ALTER COLUMN nama TYPE integer USING id"))
        wait_until(lambda: "penduduk" in conn.connector.paused, 30, "penduduk paused")
        assert "nama" in conn.connector.paused["penduduk"]
        with engine.begin() as c:  # a change while paused must not be lost
            c.execute(sa.text("UPDATE penduduk SET tgl_ubah = now() WHERE id = 3"))
        _insert(engine, b, range(10, 15))
        _assert_topic_equals_source(stack, cfg, engine, b)
        status = _status(cfg, tmp_path)
        assert status.returncode == 1 and "paused" in status.stdout
        with engine.begin() as c:  # the operator's fix
            # Back to text, and to the values the rows had (DDL rewrites no timestamp).
            c.execute(
                sa.text(
                    "ALTER TABLE penduduk ALTER COLUMN nama TYPE varchar(100)"
                    " USING 'warga ' || nama"
                )
            )
            c.execute(sa.text("UPDATE penduduk SET nama = 'pulih', tgl_ubah = now() WHERE id = 2"))
        wait_until(lambda: "penduduk" not in conn.connector.paused, 30, "penduduk resumed")
        _assert_topic_equals_source(stack, cfg, engine, a)
    assert _status(cfg, tmp_path).returncode == 0


def test_an_unencodable_row_goes_to_the_dead_letter_topic(stack, tmp_path: Path) -> None:
    url, engine, table = _sqlite(tmp_path)
    _insert(engine, table, range(1, 4))
    with engine.begin() as c:  # a legacy zero date, as old applications wrote them
        c.execute(sa.text("UPDATE penduduk SET tgl_lahir = '0000-00-00' WHERE id = 2"))
    cfg = connector_config(
        stack, "polling", [{"name": "penduduk", "timestamp_column": "tgl_ubah"}], url=url, **FAST
    )
    with InProcessConnector(cfg):
        topic = f"mpp.{cfg['agency']}.penduduk"
        wait_until(
            lambda: read_topic(stack, topic).fold(["id"]).keys() == {(1,), (3,)}, 60, "good rows"
        )
        _insert(engine, table, [4])
        wait_until(lambda: (4,) in read_topic(stack, topic).fold(["id"]), 30, "later rows go on")
    letters = dead_letters(stack, cfg["agency"])
    # At-least-once: the stream may read the row again where it overlaps the snapshot.
    assert letters and all(x["row"]["after"]["id"] == 2 for x in letters)
    assert all("tgl_lahir" in x["reason"] and x["table"] == "penduduk" for x in letters)
    assert all(x["stage"] == "capture" for x in letters)
    # The snapshot met it first (the letters are spread over partitions, not in time order).
    assert any(x["position"].startswith("snapshot") for x in letters)


# --- helpers ----------------------------------------------------------------------------------
def _status(cfg: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    import yaml

    path = tmp_path / "status.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "connect", str(path), "--status"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
