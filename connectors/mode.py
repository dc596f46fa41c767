"""The capture-mode plug-in protocol: a new capture mode is a module (or package) implementing
`CaptureMode` plus one entry in `MODES`, under the name configs give as source.mode.

The runner (connectors/runner.py) owns Kafka, offsets, snapshot and metrics; a mode only turns
its source into `Batch`es of `Change`s, each batch carrying the offset to resume from after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import sqlalchemy as sa

from .changes import Batch
from .shapes import TableShape

if TYPE_CHECKING:  # config.py validates source.mode against MODES below
    from .config import ConnectorConfig


@dataclass
class ModeContext:
    """What a capture mode gets from the runner."""

    config: ConnectorConfig
    engine: sa.Engine | None
    tables: dict[str, sa.Table]
    shapes: dict[str, TableShape]
    # Call when a table's columns changed in the source; returns False when the table is paused
    # (its schema was refused). The mode then emits none of that table's changes and keeps its
    # position for it where it was: the runner publishes whatever it is given, so a change the
    # mode drops after moving its offset past it would be lost.
    schema_changed: Callable[[str, TableShape], Awaitable[bool]] = field(default=None)  # type: ignore[assignment]
    paused: set[str] = field(default_factory=set)


class CaptureMode(Protocol):
    """One way of capturing changes (log-based, query-based, file drop)."""

    name: ClassVar[str]
    #: True when the runner should run the generic chunked SQL snapshot before streaming.
    sql_snapshot: ClassVar[bool]

    def __init__(self, ctx: ModeContext) -> None: ...

    async def start(self) -> None:
        """Check privileges, create slots/publications; fail with a message naming the problem."""

    async def snapshot_marker(self) -> dict[str, Any]:
        """The stream offset to resume from once a snapshot taken *now* is published (taken
        before the snapshot reads, so nothing committed during it is missed)."""

    def stream(self, resume: dict[str, Any] | None) -> AsyncIterator[Batch]:
        """Batches of changes after `resume`, forever (until cancelled)."""

    async def stop(self) -> None:
        """Release connections (not the slot: it keeps our place)."""


#: source.mode -> "module:class", imported only when chosen (each mode has its own drivers).
MODES: dict[str, str] = {
    "polling": "connectors.polling:PollingMode",
    "postgres": "connectors.postgres.mode:PostgresMode",
    "mariadb": "connectors.mariadb.mode:MariaDBMode",
    "file": "connectors.files.mode:FileDropMode",
}


def load_mode(name: str) -> type[CaptureMode]:
    """The mode class for a config's source.mode (imported lazily: each has its own drivers)."""
    import importlib

    module, cls = MODES[name].split(":")
    return getattr(importlib.import_module(module), cls)
