"""A throwaway MariaDB server with a row-based binlog, for binlog capture."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pymysql
from sqlalchemy import URL

from ..processes import LOOPBACK
from .server import DatabaseServer, check_name


class MariaDBServer(DatabaseServer):
    """MariaDB with a row-based binlog (ROW, FULL image, full metadata); the application user has
    what a binlog connector needs on every database and all privileges on the ones created here.
    ``admin_url`` is root over the unix socket."""

    kind = "mariadb"
    os_user = "mysql"
    stop_signal = signal.SIGTERM  # MariaDB's normal shutdown: ends client sessions itself
    connect_errors = (pymysql.err.Error,)
    install_hint = "apt-get install -y mariadb-server"
    # What Debezium's MySQL connector asks for: read, lock for a consistent snapshot, read binlog.
    connector_grants = "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT"

    def __init__(self, state_dir: str | os.PathLike[str], port: int, **kw: Any) -> None:
        super().__init__(state_dir, port, **kw)
        self.mariadbd = Path(
            shutil.which("mariadbd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))
            or "/usr/sbin/mariadbd"
        )
        self.install_db = Path(
            shutil.which("mariadb-install-db")
            or shutil.which("mysql_install_db")
            or "/usr/bin/mariadb-install-db"
        )

    @property
    def socket_path(self) -> Path:
        """The server's unix socket (root connects over it)."""
        return self.home / "mariadbd.sock"

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL as MariaDB root, over the unix socket."""
        return URL.create(
            "mysql+pymysql",
            username="root",
            host="localhost",
            query={"unix_socket": str(self.socket_path), "charset": "utf8mb4"},
        ).render_as_string(hide_password=False)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server, as the application user."""
        return URL.create(
            "mysql+pymysql",
            username=self.user,
            password=self.password,
            host=LOOPBACK,
            port=self.port,
            database=database,
            query={"charset": "utf8mb4"},
        ).render_as_string(hide_password=False)

    def create_database(self, name: str) -> str:
        """Create database ``name`` with all privileges on it for the application user."""
        check_name(name, "database")
        with self._admin() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO %s@'%%'", (self.user,))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, killing sessions that still use it (they would hold locks)."""
        check_name(name, "database")
        with self._admin() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> "
                "CONNECTION_ID()",
                (name,),
            )
            for (session_id,) in cur.fetchall():
                try:
                    cur.execute(f"KILL {int(session_id)}")
                except pymysql.err.OperationalError:
                    pass  # it ended on its own meanwhile
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")

    def _admin(self, timeout: int = 5) -> pymysql.Connection:
        return pymysql.connect(
            unix_socket=str(self.socket_path),
            user="root",
            password="",
            connect_timeout=timeout,
            autocommit=True,
        )

    def _binaries(self) -> list[Path]:
        return [self.mariadbd, self.install_db]

    def _initialised(self) -> bool:
        return (self.datadir / "mysql").is_dir()

    def _pid_file(self) -> Path:
        return self.home / "mariadbd.pid"

    def _socket_path(self) -> Path:
        return self.socket_path

    def _init_command(self) -> list[str]:
        # Run as the service user already (see _spawn_kwargs), so no --user: the files it
        # creates are owned right.
        return [
            str(self.install_db),
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]

    def _server_command(self) -> list[str]:
        # Started directly as the service user instead of `--user=mysql` from root: mariadbd's
        # own setuid would clear the parent-death signal that die_with_parent arms.
        cmd = [
            str(self.mariadbd),
            "--no-defaults",  # no /etc/mysql/*.cnf of the machine's own server
            f"--datadir={self.datadir}",
            f"--socket={self.socket_path}",
            f"--pid-file={self._pid_file()}",
            f"--port={self.port}",
            f"--bind-address={LOOPBACK}",
            "--skip-name-resolve",
            f"--log-bin={self.datadir / 'mariadb-bin'}",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            # Column names in the row events, so a binlog reader needs no schema look-up.
            "--binlog-row-metadata=FULL",
            "--server-id=1",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
        if not self.durable:
            cmd += [
                "--innodb-flush-log-at-trx-commit=2",
                "--innodb-doublewrite=0",
                "--sync-binlog=0",
            ]
        return cmd

    def _try_admin_connect(self) -> None:
        self._admin(timeout=2).close()

    def _set_up_user_and_database(self) -> None:
        db = self.database
        with self._admin() as conn, conn.cursor() as cur:
            # Anonymous accounts would shadow ours for local logins.
            cur.execute("SELECT user, host FROM mysql.user WHERE user = ''")
            for user, host in cur.fetchall():
                cur.execute("DROP USER %s@%s", (user, host))
            cur.execute(
                "CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (self.user, self.password)
            )
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (self.user, self.password))
            cur.execute(f"GRANT {self.connector_grants} ON *.* TO %s@'%%'", (self.user,))
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{db}`")
            cur.execute(f"GRANT ALL PRIVILEGES ON `{db}`.* TO %s@'%%'", (self.user,))
