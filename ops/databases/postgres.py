"""A throwaway PostgreSQL 15 server set up for logical decoding (pgoutput)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import URL

from ..processes import LOOPBACK
from .server import DatabaseServer, DatabaseServerError, check_name

PG_BINDIR = Path("/usr/lib/postgresql/15/bin")


class PostgresServer(DatabaseServer):
    """PostgreSQL 15 with ``wal_level=logical``; the application user may replicate and create
    databases. ``admin_url`` is the superuser over the unix socket."""

    kind = "postgres"
    os_user = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: SIGTERM ("smart") would wait for every client,
    # including a leaked pool connection of a test, to disconnect on its own.
    stop_signal = signal.SIGINT
    connect_errors = (psycopg.Error,)
    install_hint = "apt-get install -y postgresql-15"
    superuser = "postgres"

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        port: int,
        *,
        bindir: Path = PG_BINDIR,
        **kw: Any,
    ) -> None:
        super().__init__(state_dir, port, **kw)
        self.bindir = Path(bindir)

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database as superuser, over the unix socket."""
        return URL.create(
            "postgresql+psycopg",
            username=self.superuser,
            database="postgres",
            query={"host": str(self.home), "port": str(self.port)},
        ).render_as_string(hide_password=False)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server, as the application user."""
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=LOOPBACK,
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    def create_database(self, name: str) -> str:
        """Create database ``name`` owned by the application user; return its URL."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(check_name(name, "database")), sql.Identifier(self.user)
                )
            )
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` with its replication slots, ending sessions still on it."""
        check_name(name, "database")
        deadline = time.monotonic() + 30.0
        with self._admin() as conn:
            # A logical slot pins its database (DROP DATABASE refuses), and an active slot can
            # only be dropped once its walsender has gone.
            while True:
                conn.execute(
                    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                    "WHERE database = %s AND active_pid IS NOT NULL",
                    (name,),
                )
                try:
                    conn.execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE database = %s",
                        (name,),
                    )
                    break
                except psycopg.errors.ObjectInUse:
                    if time.monotonic() > deadline:
                        raise DatabaseServerError(
                            f"postgres {LOOPBACK}:{self.port}: replication slots of database "
                            f"{name} stayed in use for 30 s"
                        ) from None
                    time.sleep(0.1)
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def _admin(self, dbname: str = "postgres", timeout: int = 5) -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.home),
            port=self.port,
            user=self.superuser,
            dbname=dbname,
            connect_timeout=timeout,
            autocommit=True,
        )

    def _binaries(self) -> list[Path]:
        return [self.bindir / "initdb", self.bindir / "postgres"]

    def _initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def _pid_file(self) -> Path:
        return self.datadir / "postmaster.pid"

    def _socket_path(self) -> Path:
        return self.home / f".s.PGSQL.{self.port}"

    def _init_command(self) -> list[str]:
        return [
            str(self.bindir / "initdb"),
            f"--pgdata={self.datadir}",
            f"--username={self.superuser}",
            "--encoding=UTF8",
            "--locale=C",  # always available; no dependency on the machine's locales
            # The superuser only comes in over the socket in our own 0700 directory; everything
            # over TCP (the application user, replication) needs its password.
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "--no-instructions",
        ]

    def _server_command(self) -> list[str]:
        settings = {
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": str(self.home),
            "wal_level": "logical",
            "max_replication_slots": "10",
            "max_wal_senders": "10",
        }
        if not self.durable:
            # Not synchronous_commit=off: logical decoding only reads flushed WAL, so async
            # commits would reach a slot up to a few wal_writer_delay later.
            settings.update(fsync="off", full_page_writes="off")
        cmd = [str(self.bindir / "postgres"), "-D", str(self.datadir)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def _try_admin_connect(self) -> None:
        self._admin(timeout=2).close()

    def _set_up_user_and_database(self) -> None:
        user = sql.Identifier(self.user)
        with self._admin() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,))
            verb = "ALTER" if exists.fetchone() else "CREATE"
            # Always (re)set the password: a re-used state dir may come with another one.
            conn.execute(
                sql.SQL("{} ROLE {} LOGIN REPLICATION CREATEDB PASSWORD {}").format(
                    sql.SQL(verb), user, sql.Literal(self.password)
                )
            )
            has_db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
            if not has_db.fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(self.database), user
                    )
                )
