"""Pytest fixtures for real PostgreSQL and MariaDB servers (ops/databases.py).

One server of each kind per test session, on a free loopback port, in a temporary state dir;
each test that asks for ``pg_url`` / ``mariadb_url`` gets a fresh database of its own, dropped
afterwards. Import the fixtures into a conftest.py with ``from tests.databases import *``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ops.databases import MariaDBServer, PostgresServer
from ops.processes import free_port

__all__ = [
    "database_state_dir",
    "mariadb_server",
    "mariadb_url",
    "pg_url",
    "postgres_server",
    "unique_database_name",
]


@contextmanager
def database_state_dir(prefix: str) -> Iterator[Path]:
    """A fresh state dir under the system temp dir, removed on exit.

    Not pytest's tmp_path: that lives under a 0700 directory of root's, which the `postgres` and
    `mysql` OS users (who run the servers when the tests run as root) cannot enter; and a short
    path keeps the unix sockets under the 107-byte limit.
    """
    path = Path(tempfile.mkdtemp(prefix=f"mpphub-{prefix}-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def unique_database_name(request: pytest.FixtureRequest) -> str:
    """A database name from the test's name plus a random suffix: unique, < 64 chars."""
    stem = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")[:40]
    return f"t_{stem}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL 15 with wal_level=logical, for the whole session."""
    with database_state_dir("pg") as state:
        server = PostgresServer(state, free_port(), die_with_parent=True)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """MariaDB with a ROW binlog, for the whole session."""
    with database_state_dir("mariadb") as state:
        server = MariaDBServer(state, free_port(), die_with_parent=True)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL database owned by the application user."""
    name = unique_database_name(request)
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def mariadb_url(mariadb_server: MariaDBServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL of a fresh MariaDB database the application user has all rights on."""
    name = unique_database_name(request)
    url = mariadb_server.create_database(name)
    try:
        yield url
    finally:
        mariadb_server.drop_database(name)
