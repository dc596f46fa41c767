"""MariaDB binlog capture against a real MariaDB (ROW binlog), Kafka and the registry."""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.config import parse_config
from connectors.mariadb.binlog import binlog_offset
from connectors.mariadb.mode import MariaDBMode, ReplicationError
from connectors.mode import ModeContext
from connectors.shapes import TableShape
from tests.connectors.harness import (
    InProcessConnector,
    SubprocessConnector,
    TopicLog,
    assert_log_based_history,
    connector_config,
    dead_letters,
    is_subsequence,
    read_topic,
    stored_offset,
    topic_size,
    wait_equal,
)
from tests.waiting import wait_until


# --- helpers ------------------------------------------------------------------------------------
def _engine(url: str) -> sa.Engine:
    # The test reads the source in UTC like the connector does (TIMESTAMP columns).
    return sa.create_engine(url, connect_args={"init_command": "SET time_zone = '+00:00'"})


def _topic(cfg: dict, table: str) -> str:
    return f"mpp.{cfg['agency']}.{table}"


def _wait_equal(stack, cfg, engine, table, key, timeout=60) -> TopicLog:
    return wait_equal(stack, _topic(cfg, table), engine, table, key, timeout)


def _config(stack, url: str, tables: list[str], **source) -> dict:
    # A server id of its own: the server drops an older binlog session with the same id.
    return connector_config(
        stack,
        "mariadb",
        [{"name": t} for t in tables],
        url=url,
        server_id=random.randrange(1000, 2**31),
        heartbeat_interval_s=1.0,
        **source,
    )


def _run(engine: sa.Engine, *statements: str, sql_mode: str | None = None) -> None:
    """Statements in one transaction."""
    with engine.begin() as c:
        if sql_mode is not None:
            c.execute(sa.text(f"SET SESSION sql_mode = '{sql_mode}'"))
        for s in statements:
            c.execute(sa.text(s))


# --- capture ------------------------------------------------------------------------------------
@pytest.mark.integration
def test_scripted_changes_end_equal_to_the_source_with_every_version(
    stack, mariadb_url: str
) -> None:
    engine = _engine(mariadb_url)
    _run(
        engine,
        "CREATE TABLE penduduk (id int PRIMARY KEY, nama varchar(60), tgl_lahir date, "
        "gaji decimal(12,2), diubah timestamp(3) NULL, dicatat datetime, aktif tinyint(1), "
        "foto varbinary(16), jam time, asal varchar(20) CHARACTER SET latin1)",
        "CREATE TABLE izin (kode varchar(10), nomor int, status smallint, berkas text, "
        "PRIMARY KEY (kode, nomor))",
    )
    _run(
        engine,
        *(
            f"INSERT INTO penduduk VALUES ({i}, 'warga {i}', '1990-01-01' + INTERVAL {i} DAY, "
            f"{i * 1000.5}, '2024-05-06 07:08:09.123', '2024-05-06 07:08:09', {i % 2}, "
            f"x'00ff{i:02x}', '08:00:{i:02d}', 'Raha {i}')"
            for i in range(1, 41)
        ),
        *(
            f"INSERT INTO izin VALUES ('{k}', {n}, 0, NULL)"
            for k in ("SIP", "PBG")
            for n in range(1, 11)
        ),
    )
    cfg = _config(stack, mariadb_url, ["penduduk", "izin"])
    with InProcessConnector(cfg) as conn:
        _wait_equal(stack, cfg, engine, "penduduk", ["id"])
        _run(  # several versions of one row in one transaction
            engine,
            "UPDATE penduduk SET nama = 'v1', diubah = now(3) WHERE id = 7",
            "UPDATE penduduk SET nama = 'v2' WHERE id = 7",
            "UPDATE penduduk SET nama = 'v3' WHERE id = 7",
            "DELETE FROM penduduk WHERE id BETWEEN 30 AND 34",
        )
        for v in ("v4", "v5"):  # and across transactions, in quick succession
            _run(engine, f"UPDATE penduduk SET nama = '{v}' WHERE id = 7")
        _run(
            engine,
            "INSERT INTO penduduk VALUES (100, 'baru', '2001-02-03', 12.34, "
            "'2024-05-06 07:08:09.456', '2024-05-06 07:08:09', 1, x'01', '23:59:59', 'Café')",
            "UPDATE izin SET status = 1, berkas = 'lengkap' WHERE kode = 'SIP' AND nomor = 1",
            "DELETE FROM izin WHERE kode = 'PBG' AND nomor > 8",
        )
        _run(engine, "UPDATE izin SET nomor = 99 WHERE kode = 'SIP' AND nomor = 2")
        # A transaction bigger than a batch: handed over in parts, the offset only after it.
        _run(engine, "INSERT INTO izin SELECT 'KKPR', seq, 0, NULL FROM seq_1_to_500")
        _wait_equal(stack, cfg, engine, "izin", ["kode", "nomor"])
        log = _wait_equal(stack, cfg, engine, "penduduk", ["id"])
        conn.check()
    assert_log_based_history(log, 7, ["warga 7", "v1", "v2", "v3", "v4", "v5"])
    izin = read_topic(stack, _topic(cfg, "izin"))
    ops = [e.value["op"] for e in izin.events if e.key == {"kode": "SIP", "nomor": 2} and e.value]
    assert ops == ["r", "d"]  # the key change: a delete of the old key, a create of the new
    assert izin.fold(["kode", "nomor"])[("SIP", 99)]["status"] == 0


@pytest.mark.integration
def test_an_added_column_evolves_the_schema_and_truncate_deletes(stack, mariadb_url: str) -> None:
    engine = _engine(mariadb_url)
    _run(engine, "CREATE TABLE keluarga (no_kk varchar(16) PRIMARY KEY, kepala varchar(40))")
    _run(engine, *(f"INSERT INTO keluarga VALUES ('74130{i}', 'kepala {i}')" for i in range(20)))
    cfg = _config(stack, mariadb_url, ["keluarga"])
    with InProcessConnector(cfg) as conn:
        _wait_equal(stack, cfg, engine, "keluarga", ["no_kk"])
        _run(engine, "ALTER TABLE keluarga ADD COLUMN alamat varchar(60) NULL")
        _run(
            engine,
            "INSERT INTO keluarga VALUES ('7413099', 'baru', 'Lawa')",
            "UPDATE keluarga SET alamat = 'Tiworo' WHERE no_kk = '741301'",
        )
        log = _wait_equal(stack, cfg, engine, "keluarga", ["no_kk"])
        assert log.fold(["no_kk"])[("7413099",)]["alamat"] == "Lawa"
        _run(engine, "TRUNCATE TABLE keluarga")
        _run(engine, "INSERT INTO keluarga VALUES ('7413098', 'sesudah', 'Wadaga')")
        log = _wait_equal(stack, cfg, engine, "keluarga", ["no_kk"])
        conn.check()
    assert list(log.fold(["no_kk"])) == [("7413098",)]


@pytest.mark.integration
def test_a_refused_schema_change_pauses_that_table_only(stack, mariadb_url: str) -> None:
    engine = _engine(mariadb_url)
    _run(
        engine,
        "CREATE TABLE penduduk (id int PRIMARY KEY, no_kec int)",
        "CREATE TABLE izin (id int PRIMARY KEY, status smallint)",
    )
    _run(engine, "INSERT INTO penduduk VALUES (1, 1)", "INSERT INTO izin VALUES (1, 0)")
    cfg = _config(stack, mariadb_url, ["penduduk", "izin"])
    with InProcessConnector(cfg) as conn:
        _wait_equal(stack, cfg, engine, "penduduk", ["id"])
        _run(engine, "ALTER TABLE penduduk MODIFY no_kec varchar(10)")  # int -> string: refused
        _run(engine, "INSERT INTO penduduk VALUES (2, '7413010')", "INSERT INTO izin VALUES (2, 1)")
        _wait_equal(stack, cfg, engine, "izin", ["id"])
        wait_until(
            lambda: "penduduk" in stored_offset(stack, cfg["agency"]).get("paused", {}),
            30,
            "paused",
        )
        conn.check()
    assert (2,) not in read_topic(stack, _topic(cfg, "penduduk")).fold(["id"])


@pytest.mark.integration
def test_the_offset_follows_the_binlog_while_the_captured_tables_are_idle(
    stack, mariadb_url: str
) -> None:
    engine = _engine(mariadb_url)
    _run(
        engine,
        "CREATE TABLE penduduk (id int PRIMARY KEY)",
        "CREATE TABLE lain (id int AUTO_INCREMENT PRIMARY KEY, isi text)",
    )
    cfg = _config(stack, mariadb_url, ["penduduk"])
    with InProcessConnector(cfg) as conn:
        wait_until(lambda: stored_offset(stack, cfg["agency"]).get("stream"), 30, "streaming")
        for _ in range(20):  # binlog from a table the connector does not capture
            _run(engine, "INSERT INTO lain (isi) VALUES (repeat('x', 900))")
        with engine.connect() as c:
            file, pos = c.exec_driver_sql("SHOW MASTER STATUS").first()[:2]
        end = binlog_offset(file, pos)["position"]
        wait_until(
            lambda: stored_offset(stack, cfg["agency"])["stream"]["position"] >= end,
            30,
            "the stored offset past the other table's changes",
        )
        conn.check()


@pytest.mark.integration
def test_a_lost_binlog_session_is_read_again_from_the_last_transaction(
    stack, mariadb_server, mariadb_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = _engine(mariadb_url)
    _run(engine, "CREATE TABLE penduduk (id int PRIMARY KEY, nama varchar(20))")
    cfg = _config(stack, mariadb_url, ["penduduk"])
    user = engine.url.username
    admin = sa.create_engine(mariadb_server.admin_url, isolation_level="AUTOCOMMIT")

    def kill_dump_sessions() -> None:
        with admin.connect() as c:
            for (session,) in c.exec_driver_sql(
                "SELECT id FROM information_schema.processlist WHERE command LIKE "
                "'Binlog Dump%%' AND user = %s",
                (user,),
            ).all():
                c.exec_driver_sql(f"KILL {int(session)}")

    try:
        with InProcessConnector(cfg) as conn:
            wait_until(lambda: stored_offset(stack, cfg["agency"]).get("stream"), 30, "streaming")
            _run(engine, "INSERT INTO penduduk VALUES (1, 'sebelum')")
            _wait_equal(stack, cfg, engine, "penduduk", ["id"])
            kill_dump_sessions()  # what a DBA does: the reader reconnects by itself
            _run(engine, "INSERT INTO penduduk VALUES (2, 'sesudah')")
            _wait_equal(stack, cfg, engine, "penduduk", ["id"])
            # Now the reconnection fails too, until the grant is back: the mode reads again.
            with admin.connect() as c:
                c.exec_driver_sql(f"REVOKE REPLICATION SLAVE ON *.* FROM '{user}'@'%%'")
            kill_dump_sessions()
            _run(engine, "UPDATE penduduk SET nama = 'lagi' WHERE id = 1")
            wait_until(lambda: "binlog reader failed" in caplog.text, 30, "a failed read")
            with admin.connect() as c:
                c.exec_driver_sql(f"GRANT REPLICATION SLAVE ON *.* TO '{user}'@'%%'")
            _run(engine, "INSERT INTO penduduk VALUES (3, 'akhir')")
            _wait_equal(stack, cfg, engine, "penduduk", ["id"])
            conn.check()
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"GRANT REPLICATION SLAVE ON *.* TO '{user}'@'%%'")
        admin.dispose()


@pytest.mark.integration
def test_kill_9_during_snapshot_and_streaming_loses_nothing(
    stack, mariadb_url: str, tmp_path: Path
) -> None:
    engine = _engine(mariadb_url)
    _run(engine, "CREATE TABLE penduduk (id int PRIMARY KEY, nama varchar(40), versi int)")
    with engine.begin() as c:
        c.execute(
            sa.text("INSERT INTO penduduk VALUES (:id, :nama, 0)"),
            [{"id": i, "nama": f"warga {i}"} for i in range(1, 20001)],
        )
    cfg = _config(stack, mariadb_url, ["penduduk"])
    cfg["snapshot"]["chunk_size"] = 200
    topic = _topic(cfg, "penduduk")
    written: dict[int, list[str]] = {}
    stop = threading.Event()

    def writer() -> None:
        db = engine.raw_connection()
        i = 0
        try:
            while not stop.is_set():
                i += 1
                ids = [random.randint(1, 20000) for _ in range(3)]
                with db.cursor() as cur:
                    for n, row in enumerate(ids):
                        cur.execute(
                            "UPDATE penduduk SET nama = %s, versi = versi + 1 WHERE id = %s",
                            (f"w{i}.{n}", row),
                        )
                        written.setdefault(row, []).append(f"w{i}.{n}")
                    cur.execute("INSERT INTO penduduk VALUES (%s, 'baru', 0)", (100000 + i,))
                    cur.execute("DELETE FROM penduduk WHERE id = %s", (100000 + i - 5,))
                db.commit()
                stop.wait(0.005)
        finally:
            db.close()

    proc = SubprocessConnector(cfg, tmp_path)
    proc.start()
    thread = threading.Thread(target=writer)
    try:
        wait_until(lambda: 0 < topic_size(stack, topic) < 20000, 60, "snapshot half-way")
        proc.kill9()
        proc.start()
        thread.start()

        def snapshot_done() -> bool:
            snap = stored_offset(stack, cfg["agency"]).get("tables", {}).get("penduduk", {})
            return bool(snap.get("snapshot", {}).get("done"))

        wait_until(snapshot_done, 60, "snapshot done after the restart")
        size = topic_size(stack, topic)
        wait_until(lambda: topic_size(stack, topic) > size + 300, 30, "streaming under way")
        proc.kill9()
        proc.start()
        size = topic_size(stack, topic)
        wait_until(lambda: topic_size(stack, topic) > size + 300, 30, "streaming again")
        stop.set()
        thread.join()
        log = _wait_equal(stack, cfg, engine, "penduduk", ["id"], timeout=60)
        assert proc.alive(), proc.output()[-2000:]
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        proc.stop()
    versions: dict[int, list] = {}
    for e in sorted(log.events, key=lambda e: (e.partition, e.offset)):
        if e.value and e.value["after"]:
            versions.setdefault(e.key["id"], []).append(e.value["after"]["nama"])
    lost = [k for k, w in written.items() if not is_subsequence(w, versions.get(k, []))]
    assert not lost, f"versions missing for ids {lost[:5]}"


@pytest.mark.integration
def test_an_unencodable_row_goes_to_the_dead_letter_topic(stack, mariadb_url: str) -> None:
    engine = _engine(mariadb_url)
    _run(
        engine,
        "CREATE TABLE penduduk (id int PRIMARY KEY, nama varchar(40), tgl_lahir date, "
        "asal varchar(20) CHARACTER SET latin1)",
    )
    _run(  # legacy rows: a lenient sql_mode lets zero dates in
        engine,
        "INSERT INTO penduduk VALUES (1, 'a', '1990-01-01', 'Raha'), "
        "(2, 'legacy', '0000-00-00', 'Raha'), (3, 'c', '1991-02-03', 'Raha')",
        sql_mode="",
    )
    cfg = _config(stack, mariadb_url, ["penduduk"])
    topic = _topic(cfg, "penduduk")
    with InProcessConnector(cfg) as conn:
        wait_until(
            lambda: read_topic(stack, topic).fold(["id"]).keys() == {(1,), (3,)},
            60,
            "the good rows of the snapshot",
        )
        _run(engine, "INSERT INTO penduduk VALUES (4, 'lama', '0000-00-00', 'Raha')", sql_mode="")
        # A latin1 byte that cp1252 leaves undefined: read as MariaDB reads it, not a failure.
        _run(engine, "INSERT INTO penduduk VALUES (5, 'e', '2000-01-01', x'526181')")
        wait_until(lambda: (5,) in read_topic(stack, topic).fold(["id"]), 30, "later rows go on")
        conn.check()
    letters = dead_letters(stack, cfg["agency"])
    assert sorted(x["row"]["after"]["id"] for x in letters) == [2, 4]
    assert all("tgl_lahir" in x["reason"] and x["table"] == "penduduk" for x in letters)
    assert all(x["stage"] == "capture" and x["topic"] == topic for x in letters)
    snap, streamed = sorted(letters, key=lambda x: x["row"]["after"]["id"])
    assert snap["position"].startswith("snapshot@") and streamed["position"].count(":") == 2
    assert (snap["row"]["op"], streamed["row"]["op"]) == ("r", "c")
    assert read_topic(stack, topic).fold(["id"])[(5,)]["asal"] == "Ra\x81"


# --- refusals -----------------------------------------------------------------------------------
def _mode(url: str, tables: list[str]) -> MariaDBMode:
    config = parse_config(
        {
            "agency": "uji",
            "source": {"mode": "mariadb", "url": url},
            "tables": [{"name": t} for t in tables],
        }
    )
    engine = sa.create_engine(url)
    refl = {t: sa.Table(t, sa.MetaData(), autoload_with=engine) for t in tables}
    return MariaDBMode(
        ModeContext(config, engine, refl, {t: TableShape.from_table(r) for t, r in refl.items()})
    )


@pytest.mark.integration
def test_a_binlog_not_in_full_row_format_is_refused(mariadb_server, mariadb_url: str) -> None:
    _run(sa.create_engine(mariadb_url), "CREATE TABLE penduduk (id int PRIMARY KEY)")
    admin = sa.create_engine(mariadb_server.admin_url, isolation_level="AUTOCOMMIT")
    mode = _mode(mariadb_url, ["penduduk"])
    try:
        with admin.connect() as c:
            c.execute(sa.text("SET GLOBAL binlog_row_image = 'MINIMAL'"))
        with pytest.raises(ReplicationError, match="binlog_row_image=MINIMAL.*FULL"):
            asyncio.run(mode.start())
    finally:
        with admin.connect() as c:
            c.execute(sa.text("SET GLOBAL binlog_row_image = 'FULL'"))
        admin.dispose()
        mode.ctx.engine.dispose()
    asyncio.run(mode.start())  # fixed: accepted


@pytest.mark.integration
def test_a_user_without_replication_grants_is_refused(mariadb_server, mariadb_url: str) -> None:
    engine = sa.create_engine(mariadb_url)
    _run(engine, "CREATE TABLE penduduk (id int PRIMARY KEY)")
    user = f"petugas_{random.randrange(10**6)}"  # users are per server, not per database
    admin = sa.create_engine(mariadb_server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'rahasia'"))
        c.execute(sa.text(f"GRANT SELECT ON `{engine.url.database}`.* TO '{user}'@'%'"))
    url = engine.url.set(username=user, password="rahasia")
    mode = _mode(url.render_as_string(hide_password=False), ["penduduk"])
    try:
        with pytest.raises(ReplicationError, match=f"{user}@% .* lacks REPLICATION SLAVE and"):
            asyncio.run(mode.start())
    finally:
        mode.ctx.engine.dispose()
        with admin.connect() as c:
            c.execute(sa.text(f"DROP USER '{user}'@'%'"))
        admin.dispose()
        engine.dispose()
