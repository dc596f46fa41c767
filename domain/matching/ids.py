"""Person ids: 'P' + a ULID whose time is the founding record's source time and whose randomness
comes from a keyed digest of the record id, so a rerun of the same log mints the same ids and the
oldest person (smallest id) is the one whose founding record is oldest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ulid import ULID

from .record import PersonRecord

_MAX_MS = (1 << 48) - 1


class Digests(Protocol):
    """What person_ids needs of domain.tokens.Tokens."""

    def digest(self, purpose: str, value: str) -> bytes: ...


def person_id(ts_ms: int | None, entropy: bytes) -> str:
    """'P' + ULID: time ts_ms (0 when unknown, clamped to the ULID range), randomness
    entropy[:10] (at least 10 bytes)."""
    if len(entropy) < 10:
        raise ValueError("a person id needs 10 bytes of entropy")
    ms = min(max(int(ts_ms or 0), 0), _MAX_MS)
    return "P" + str(ULID.from_bytes(ms.to_bytes(6, "big") + entropy[:10]))


def person_ids(tokens: Digests) -> Callable[[PersonRecord, int | None], str]:
    """The new_person_id callable for a Resolver: deterministic under the hub's secret."""

    def new_person_id(record: PersonRecord, ts_ms: int | None) -> str:
        return person_id(ts_ms, tokens.digest("person", record.record_id))

    return new_person_id
