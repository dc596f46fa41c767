"""The throwaway PostgreSQL and MariaDB servers: configured for change capture, and stopped
without leaving a process or a bound port behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from ops.databases import (
    DatabaseServerError,
    MariaDBServer,
    PostgresServer,
    ServerNotInstalled,
)
from ops.processes import free_port, pid_alive, port_is_free, process_group, wait_for
from tests.databases import database_state_dir

REPO = Path(__file__).resolve().parents[2]


def _scalar(url: str, query: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar()
    finally:
        engine.dispose()


# --- without servers ----------------------------------------------------------------------------
def test_missing_postgres_binaries_say_how_to_install(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path, free_port(), bindir=tmp_path / "no-such-bin")
    with pytest.raises(ServerNotInstalled) as err:
        server.start()
    message = str(err.value)
    assert "\n" not in message
    assert "`apt-get install -y postgresql-15`" in message
    assert str(tmp_path / "no-such-bin" / "initdb") in message


def test_missing_mariadb_binaries_say_how_to_install(tmp_path: Path) -> None:
    server = MariaDBServer(tmp_path, free_port())
    server.mariadbd = tmp_path / "no-such-mariadbd"
    with pytest.raises(ServerNotInstalled) as err:
        server.start()
    message = str(err.value)
    assert "\n" not in message
    assert "`apt-get install -y mariadb-server`" in message


def test_database_names_must_be_plain_identifiers(tmp_path: Path) -> None:
    with pytest.raises(DatabaseServerError, match="not a plain identifier"):
        PostgresServer(tmp_path, 5432, database="x; DROP DATABASE y")
    with pytest.raises(DatabaseServerError, match="not a plain identifier"):
        MariaDBServer(tmp_path, 3306, user="root`@`%")


def test_urls_name_driver_user_loopback_port_and_database(tmp_path: Path) -> None:
    pg = PostgresServer(tmp_path, 15432, user="cdc", password="p@ss", database="siak")
    assert pg.url == "postgresql+psycopg://cdc:p%40ss@127.0.0.1:15432/siak"
    my = MariaDBServer(tmp_path, 13306, database="sicantik")
    assert my.url == "mysql+pymysql://mpphub:mpphub@127.0.0.1:13306/sicantik?charset=utf8mb4"


# --- PostgreSQL -----------------------------------------------------------------------------------
@pytest.mark.integration
def test_postgres_runs_with_logical_wal_on_loopback(postgres_server: PostgresServer) -> None:
    assert postgres_server.running
    assert _scalar(postgres_server.url, "SHOW wal_level") == "logical"
    assert _scalar(postgres_server.url, "SHOW max_replication_slots") == "10"
    assert _scalar(postgres_server.url, "SHOW max_wal_senders") == "10"
    assert _scalar(postgres_server.url, "SHOW listen_addresses") == "127.0.0.1"
    assert (
        _scalar(
            postgres_server.admin_url, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        is True
    )


@pytest.mark.integration
def test_postgres_app_user_creates_a_pgoutput_slot_that_sees_changes(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE biodata_wni (nik text PRIMARY KEY, nama text)"))
            conn.execute(sa.text("CREATE PUBLICATION mpphub_pub FOR TABLE biodata_wni"))
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_create_logical_replication_slot('t', 'pgoutput')"))
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO biodata_wni VALUES ('7413010101900001', 'La Ode')"))
        with engine.connect() as conn:
            changes = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('t', NULL, NULL, "
                    "'proto_version', '1', 'publication_names', 'mpphub_pub')"
                )
            ).scalar()
    finally:
        engine.dispose()
    assert changes >= 3  # BEGIN, RELATION, INSERT, COMMIT of the one transaction


# --- MariaDB --------------------------------------------------------------------------------------
@pytest.mark.integration
def test_mariadb_binlog_is_on_and_row_based(mariadb_server: MariaDBServer) -> None:
    url = mariadb_server.url
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            variables = dict(
                conn.execute(
                    sa.text(
                        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', "
                        "'binlog_format', 'binlog_row_image', 'bind_address')"
                    )
                ).all()
            )
            grants = " ".join(row[0] for row in conn.execute(sa.text("SHOW GRANTS")))
    finally:
        engine.dispose()
    assert variables == {
        "log_bin": "ON",
        "binlog_format": "ROW",
        "binlog_row_image": "FULL",
        "bind_address": "127.0.0.1",
    }
    # MariaDB 10.5+ spells REPLICATION CLIENT as BINLOG MONITOR in SHOW GRANTS.
    assert "REPLICATION SLAVE" in grants
    assert "REPLICATION CLIENT" in grants or "BINLOG MONITOR" in grants


@pytest.mark.integration
# python-mysql-replication itself still passes pymysql the deprecated `db` argument.
@pytest.mark.filterwarnings("ignore:'db' is deprecated:DeprecationWarning")
def test_mariadb_app_user_reads_row_events_from_the_binlog(
    mariadb_server: MariaDBServer, mariadb_url: str
) -> None:
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.row_event import WriteRowsEvent

    database = sa.make_url(mariadb_url).database
    engine = sa.create_engine(mariadb_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE tmpemohon (id INT PRIMARY KEY, nama VARCHAR(80))"))
            conn.execute(sa.text("INSERT INTO tmpemohon VALUES (1, 'Wa Ode Sitti')"))
    finally:
        engine.dispose()
    stream = BinLogStreamReader(
        connection_settings={
            "host": "127.0.0.1",
            "port": mariadb_server.port,
            "user": mariadb_server.user,
            "password": mariadb_server.password,
        },
        server_id=4242,
        is_mariadb=True,
        only_events=[WriteRowsEvent],
        only_schemas=[database],
        blocking=False,
    )
    try:
        rows = [row["values"] for event in stream for row in event.rows]
    finally:
        stream.close()
    assert rows == [{"id": 1, "nama": "Wa Ode Sitti"}]


# --- lifecycle ------------------------------------------------------------------------------------
SERVERS = [pytest.param(PostgresServer, id="postgres"), pytest.param(MariaDBServer, id="mariadb")]


@pytest.mark.integration
@pytest.mark.parametrize("server_cls", SERVERS)
def test_stop_leaves_no_process_and_frees_the_port(server_cls: type) -> None:
    with database_state_dir("lifecycle") as state:
        port = free_port()
        server = server_cls(state, port)
        server.start()
        try:
            pid = server.pid
            assert pid is not None and pid_alive(pid)
            assert not port_is_free(port)
            server.stop()
            assert not server.running
            assert not pid_alive(pid)
            assert process_group(pid) == []
            assert port_is_free(port)
            # Started again on the same data directory (the demo's second run): still usable.
            server.start()
            assert _scalar(server.url, "SELECT 1") == 1
        finally:
            server.stop()
        assert port_is_free(port)


@pytest.mark.integration
@pytest.mark.parametrize("server_cls", SERVERS)
def test_stop_kills_a_server_that_ignores_its_shutdown_signal(server_cls: type) -> None:
    with database_state_dir("hung") as state:
        port = free_port()
        server = server_cls(state, port)
        server.start()
        pid = server.pid
        assert pid is not None and len(process_group(pid)) >= 1
        os.kill(pid, signal.SIGSTOP)  # a hung server: the shutdown signal stays pending
        try:
            server.stop(timeout=1.0)
        finally:
            if pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)
        assert not pid_alive(pid)
        assert process_group(pid) == []
        assert port_is_free(port)


@pytest.mark.integration
@pytest.mark.parametrize("server_cls", SERVERS)
def test_start_on_a_busy_port_fails_naming_the_port(server_cls: type) -> None:
    with database_state_dir("busy") as state, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = server_cls(state, port)
        with pytest.raises(DatabaseServerError, match=f"127.0.0.1:{port} is already in use"):
            server.start()
        assert not server.running


@pytest.mark.integration
@pytest.mark.parametrize("server_cls", SERVERS)
def test_server_dies_with_a_killed_parent(server_cls: type) -> None:
    """die_with_parent=True: a test run that is killed outright leaves no server behind."""
    script = textwrap.dedent(
        f"""
        import os, sys
        from ops.databases import {server_cls.__name__}, free_port
        server = {server_cls.__name__}(sys.argv[1], free_port(), die_with_parent=True)
        server.start()
        print(server.pid, flush=True)
        os._exit(0)  # no stop(): as if the test run were killed
        """
    )
    with database_state_dir("orphan") as state:
        proc = subprocess.run(
            [sys.executable, "-c", script, str(state)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert proc.returncode == 0, proc.stderr
        pid = int(proc.stdout.split()[0])
        try:
            assert wait_for(lambda: not pid_alive(pid) and not process_group(pid), 30, 0.05)
        finally:
            if pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)
