"""Throwaway PostgreSQL and MariaDB servers for the integration tests and the demo.

Each server lives in its own directory under a state dir (data, socket, pid, log), listens on
127.0.0.1 only and is configured the way the hub's log-based connectors need it: PostgreSQL with
logical decoding, MariaDB with a full row-based binlog. A server is stopped by its pid together
with its whole process group, so no backend outlives it (ops/processes.py, shared with the stack).

    with PostgresServer(state_dir, port=free_port()) as pg:
        engine = sqlalchemy.create_engine(pg.url)
"""

from ..processes import LOOPBACK, free_port, port_is_free
from .mariadb import MariaDBServer
from .postgres import PG_BINDIR, PostgresServer
from .server import DatabaseServer, DatabaseServerError, ServerNotInstalled

__all__ = [
    "LOOPBACK",
    "PG_BINDIR",
    "DatabaseServer",
    "DatabaseServerError",
    "MariaDBServer",
    "PostgresServer",
    "ServerNotInstalled",
    "free_port",
    "port_is_free",
]
