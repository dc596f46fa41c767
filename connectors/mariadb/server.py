"""The MariaDB/MySQL server as binlog capture needs it: the settings and grants checked at start,
the binlog position of a consistent snapshot, and sessions in UTC.

MariaDB gives the position of a consistent snapshot (`binlog_snapshot_position`); MySQL has no
such status, and `SHOW MASTER STATUS` leaves a window of a transaction written to the binlog but
not yet committed in InnoDB (Debezium closes it with a global read lock).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa

from .binlog import binlog_offset

log = logging.getLogger(__name__)


class ReplicationError(RuntimeError):
    """The source cannot be captured as configured; the message says what and how to fix it."""


def check_server(engine: sa.Engine, where: str) -> None:
    """Refuse a server without a full row binlog, or a user without the replication grants."""
    with engine.connect() as conn:
        settings = dict(
            conn.exec_driver_sql(
                "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
                "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata')"
            ).all()
        )
        user = conn.exec_driver_sql("SELECT CURRENT_USER()").scalar_one()
        grants = [r[0] for r in conn.exec_driver_sql("SHOW GRANTS")]
    _check_settings({k.lower(): str(v).upper() for k, v in settings.items()}, where)
    _check_grants(user, grants, where)


def _check_settings(s: dict[str, str], where: str) -> None:
    if s.get("log_bin") != "ON":
        raise ReplicationError(
            f"source: binary logging is off on {where} (log_bin={s.get('log_bin')}); "
            "binlog capture needs it: set log_bin, server_id, binlog_format=ROW, "
            "binlog_row_image=FULL and binlog_row_metadata=FULL under [mysqld] in the "
            "server's config and restart it"
        )
    wanted = {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}
    for var, value in wanted.items():
        have = s.get(var)
        if have is None:
            raise ReplicationError(
                f"source: {where} has no {var} setting; binlog capture needs "
                "MariaDB 10.5+ or MySQL 8.0.14+ (column names in the row events)"
            )
        if have != value:
            raise ReplicationError(
                f"source: {where} has {var}={have}; binlog capture needs {var}={value}: "
                f"SET GLOBAL {var} = '{value}' and put {var}={value} under [mysqld] in the "
                "server's config (sessions already open keep the old value until they "
                "reconnect)"
            )


def _check_grants(user: str, grants: list[str], where: str) -> None:
    privileges: set[str] = set()
    for g in grants:
        granted = re.match(r"GRANT (.+?) ON \*\.\* TO ", g, re.I)
        if granted:
            privileges |= {p.strip().upper() for p in granted.group(1).split(",")}
    if "ALL PRIVILEGES" in privileges:
        return
    missing = []
    if "REPLICATION SLAVE" not in privileges:
        missing.append("REPLICATION SLAVE")
    if not privileges & {"REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"}:
        missing.append("REPLICATION CLIENT")
    if not missing:
        return
    name, _, host = user.rpartition("@")
    message = (
        f"source: user {user} on {where} lacks {' and '.join(missing)}, which binlog "
        f"capture needs: GRANT {', '.join(missing)} ON *.* TO '{name}'@'{host}' (as an "
        "administrator)"
    )
    if any(g.startswith("GRANT `") for g in grants):  # a role, whose grants we don't see
        log.warning("%s (it may come with a role: going on)", message)
        return
    raise ReplicationError(message)


def binlog_end(engine: sa.Engine, where: str) -> dict[str, Any]:
    """The binlog position that reads from now on are all past (a consistent snapshot's)."""
    # The binlog is written before the storage engine commits: a transaction before
    # SHOW MASTER STATUS's position may not be visible yet. MariaDB gives the position of
    # a consistent snapshot instead, and every later read sees at least what it sees.
    with engine.connect() as conn:
        conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        status = dict(conn.exec_driver_sql("SHOW STATUS LIKE 'binlog_snapshot_%%'").all())
        conn.rollback()
        if status.get("Binlog_snapshot_file"):
            return binlog_offset(
                status["Binlog_snapshot_file"], int(status["Binlog_snapshot_position"])
            )
        try:  # MySQL: no such status (see the module doc)
            row = conn.exec_driver_sql("SHOW MASTER STATUS").first()
        except sa.exc.ProgrammingError:  # MySQL 8.4 knows only the new name
            row = conn.exec_driver_sql("SHOW BINARY LOG STATUS").first()
    if row is None:
        raise ReplicationError(f"source: binary logging is off on {where}")
    return binlog_offset(row[0], int(row[1]))


def utc_sessions(engine: sa.Engine) -> None:
    """Snapshot reads in UTC: the binlog carries TIMESTAMP values in UTC."""

    @sa.event.listens_for(engine, "connect")
    def _utc(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")

    engine.dispose()  # connections opened before (reflection) come back with it
