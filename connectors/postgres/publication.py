"""What the source publishes for the captured tables: their replica identity and the publication.

With PostgreSQL's default identity an update carries no old row and a delete only the key, and
an unchanged TOASTed value is not sent at all. When `create_slot` lets the connector change the
source it sets REPLICA IDENTITY FULL (Debezium's recommendation; more WAL per update, nothing
changes for the application); otherwise tables are captured with their key only. A table without
a primary key must have FULL: in a publication the application's own UPDATE/DELETE would fail.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from ..config import ConfigError
from .slot import ReplicationError

log = logging.getLogger(__name__)


def set_replica_identity(
    conn: psycopg.Connection, tables: dict[str, str], allowed: bool, where: str
) -> None:
    """REPLICA IDENTITY FULL on each table (config name -> name in the database) when allowed
    and possible; refuse a table that would break the application without it."""
    for table, real in tables.items():
        ident, has_pk = conn.execute(
            "SELECT c.relreplident, EXISTS (SELECT 1 FROM pg_index i "
            "WHERE i.indrelid = c.oid AND i.indisprimary) "
            "FROM pg_class c WHERE c.oid = %s::regclass",
            (sql.Identifier(real).as_string(conn),),
        ).fetchone()
        if ident == "f":
            continue
        why = "not allowed (source.create_slot is false)"
        if allowed:
            try:
                with conn.transaction():
                    conn.execute("SET LOCAL lock_timeout = '5s'")
                    conn.execute(
                        sql.SQL("ALTER TABLE {} REPLICA IDENTITY FULL").format(sql.Identifier(real))
                    )
                log.info("table %s: REPLICA IDENTITY FULL set", table)
                continue
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.LockNotAvailable) as e:
                why = e.diag.message_primary or type(e).__name__
        if ident == "n" or (ident == "d" and not has_pk):
            raise ReplicationError(
                f"tables.{table}: no primary key and no replica identity on {where}; "
                f"in a publication the application's UPDATE/DELETE would fail. Run ALTER "
                f"TABLE {real} REPLICA IDENTITY FULL as its owner ({why})"
            )
        log.warning(
            "table %s: REPLICA IDENTITY FULL not set (%s): updates carry no old row, "
            "deletes only the key",
            table,
            why,
        )


def ensure_publication(
    conn: psycopg.Connection,
    publication: str,
    names: list[str],
    schema: str,
    create: bool,
    where: str,
) -> None:
    """Create the publication for the tables (as named in the database), or add those it lacks,
    when allowed; otherwise name what the DBA should run."""
    pub = publication
    row = conn.execute(
        "SELECT puballtables, pubinsert AND pubupdate AND pubdelete "
        "FROM pg_publication WHERE pubname = %s",
        (pub,),
    ).fetchone()
    if row is None:
        if not create:
            raise ConfigError(
                f"source.publication: publication {pub!r} does not exist on {where} and "
                f"source.create_slot is false: CREATE PUBLICATION {pub} FOR TABLE "
                f"{', '.join(names)}"
            )
        _run_ddl(
            conn,
            sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                sql.Identifier(pub), sql.SQL(", ").join(map(sql.Identifier, names))
            ),
            f"create publication {pub}",
            where,
        )
        log.info("created publication %s for %s", pub, ", ".join(names))
        return
    all_tables, all_ops = row
    if not all_ops:
        log.warning("publication %s does not publish every insert/update/delete", pub)
    if all_tables:
        return
    have = {
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s",
            (pub, schema),
        )
    }
    missing = [n for n in names if n not in have]
    if missing and not create:
        raise ConfigError(
            f"source.publication: publication {pub!r} on {where} lacks table(s) "
            f"{', '.join(missing)} and source.create_slot is false: ALTER PUBLICATION {pub} "
            f"ADD TABLE {', '.join(missing)}"
        )
    if missing:
        _run_ddl(
            conn,
            sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(
                sql.Identifier(pub), sql.SQL(", ").join(map(sql.Identifier, missing))
            ),
            f"add {', '.join(missing)} to publication {pub}",
            where,
        )
        log.info("added %s to publication %s", ", ".join(missing), pub)


def _run_ddl(conn: psycopg.Connection, statement: sql.Composable, what: str, where: str) -> None:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege as e:
        raise ReplicationError(
            f"source: cannot {what} on {where}: {e.diag.message_primary}; have the "
            "tables' owner do it, and name it in source.publication"
        ) from None
