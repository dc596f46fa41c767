"""What a capture mode hands the dispatcher: one `Change` per row change, in source order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["c", "u", "d", "r"]


@dataclass
class Change:
    """A row change as captured, before encoding. `position` is the source position of this
    change (mode-specific string, ordered within one connector); `source_ts_ms` is when the
    change happened in the source, when the source says."""

    table: str
    op: Op
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    position: str
    source_ts_ms: int | None = None
    snapshot: bool = False

    @property
    def row(self) -> dict[str, Any]:
        """The row that identifies the key: after, or before for a delete."""
        return self.after if self.after is not None else (self.before or {})


@dataclass
class Batch:
    """Changes plus the offset to store once all of them are acknowledged by Kafka.

    `offset` is the mode's resume point after this batch (a JSON-able dict); a capture mode
    must be able to restart from it without missing a change.
    """

    changes: list[Change]
    offset: dict[str, Any] | None
    # Called after the offset is durable (PostgreSQL advances its slot there).
    on_committed: list[Any] = field(default_factory=list)
