"""Where the demo's sample agencies keep their databases: SIAK in PostgreSQL and SiCantik in
MariaDB, throwaway servers under the demo's state dir, captured from their logs (pgoutput,
binlog) as agencies' own servers would be. A server that is not installed falls back to a
SQLite file captured by polling, said in one line that names the package to install.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from .databases import DatabaseServer, DatabaseServerError, MariaDBServer, PostgresServer
from .processes import free_port

POLLING = {"mode": "polling", "poll_interval_s": 0.5, "safety_delay_s": 1.0, "diff_interval_s": 30}
_SERVERS: dict[str, type[DatabaseServer]] = {"postgres": PostgresServer, "mariadb": MariaDBServer}
_NAMES = {"postgres": "PostgreSQL", "mariadb": "MariaDB"}


@dataclass
class AgencySource:
    """One sample agency database: its engine and the connector's `source` and `tables`."""

    engine: sa.Engine
    source: dict
    tables: list[dict]


_HOME_PREFIX = "mpphub-demo-"
_STATE_MARKER = "state-dir"  # in a server home: the state dir it serves


def server_home(state: Path) -> Path:
    """Where the servers of a demo state dir live: a short path under the system temp dir that
    the `postgres` and `mysql` OS users can reach (a state dir under a 0700 home is not, and a
    unix socket path has a 107-byte limit), the same for the same state dir (leftovers found).

    The home records its state dir, and the homes of state dirs that no longer exist are
    removed here (a test's temporary state dir, a deleted demo dir): about 180 MB each, which
    the temp dir would otherwise collect run after run."""
    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)  # what the record points to must exist
    digest = hashlib.sha256(str(state).encode()).hexdigest()[:12]
    root = Path(tempfile.gettempdir())
    remove_orphan_homes(root)
    home = root / f"{_HOME_PREFIX}{digest}"
    home.mkdir(exist_ok=True)
    home.chmod(0o755)
    (home / _STATE_MARKER).write_text(str(state))
    return home


def remove_orphan_homes(root: Path) -> list[Path]:
    """Remove the server homes under `root` whose recorded state dir is gone and whose servers
    are not running; the homes removed. A home without the record (older hubs) is kept."""
    removed = []
    for home in root.glob(f"{_HOME_PREFIX}*"):
        try:
            state = Path((home / _STATE_MARKER).read_text())
        except OSError:
            continue
        if state.exists() or any(kind(home, 0).running for kind in _SERVERS.values()):
            continue
        shutil.rmtree(home, ignore_errors=True)
        removed.append(home)
    return removed


@dataclass
class AgencyServers:
    """The demo's database servers, started on first use and stopped together."""

    state: Path  # the demo's state dir: SQLite files of the fallback go there
    say: Callable[[str], None]
    servers: list[DatabaseServer] = field(default_factory=list)

    def source(self, kind: str, database: str, tables: list[dict]) -> AgencySource:
        """A fresh database `database` on the `kind` server, or SQLite + polling without one."""
        server = _SERVERS[kind](server_home(self.state), free_port(), die_with_parent=True)
        try:
            server.stop()  # a server a killed demo left behind (found by its pid file)
            server.start()
        except DatabaseServerError as e:  # not installed, or cannot run here
            self.say(
                f"{_NAMES[kind]} cannot run ({e}): {database} is captured by polling a SQLite "
                "file instead of from its log"
            )
            self.state.mkdir(parents=True, exist_ok=True)
            (self.state / f"{database}.db").unlink(missing_ok=True)
            url = f"sqlite:///{(self.state / f'{database}.db').resolve()}"
            return AgencySource(sa.create_engine(url), {**POLLING, "url": url}, tables)
        self.servers.append(server)
        server.drop_database(database)
        url = server.create_database(database)
        log_tables = [{"name": t["name"]} for t in tables]  # timestamp columns: polling only
        source = {"mode": kind, "url": url, "poll_interval_s": 0.2}
        return AgencySource(sa.create_engine(url), source, log_tables)

    def stop(self) -> None:
        """Stop every server started here (the last one first)."""
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
