"""The hash chain of audit entries: each entry's hash is an HMAC-SHA256, under the hub's secret,
of its own fields and the previous entry's hash (entry 1 follows GENESIS).

Why a keyed HMAC and not a bare SHA-256: whoever can write the audit database (a DBA, a stolen
database password) could edit a row and recompute every later SHA-256 in a second; without the
hub's secret they cannot make a valid HMAC. Why the published heads too: the secret sits on the
API's machine, so a holder of both could still rewrite the chain; what was already published to
Kafka (heads.py) they cannot take back. `seq` is inside the hash, so an entry moved, inserted or
dropped breaks the chain where it happened.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from domain.tokens import Tokens

GENESIS = "0" * 64
CHAIN_PURPOSE = "audit-chain"


def _at(at: dt.datetime) -> str:
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


def entry_hash(tokens: Tokens, entry, prev_hash: str) -> str:
    """The hash of an entry (an AuditEntry or anything with its fields) after `prev_hash`."""
    fields = [
        entry.seq,
        _at(entry.at),
        entry.who,
        entry.role,
        entry.purpose,
        entry.purpose_note,
        entry.action,
        entry.person_id,
        entry.person_token,
        entry.client,
        prev_hash,
    ]
    text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return tokens.digest(CHAIN_PURPOSE, text).hex()


@dataclass(frozen=True)
class ChainProblem:
    """The first entry where the chain breaks, and what is wrong there."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.reason}"


def verify_chain(tokens: Tokens, entries: Iterable) -> tuple[int, ChainProblem | None]:
    """Walk the entries in seq order: (entries checked, the first problem or None)."""
    expected, prev, checked = 1, GENESIS, 0
    for e in entries:
        if e.seq != expected:
            return checked, ChainProblem(
                expected, f"missing (deleted?): the chain goes on at entry {e.seq}"
            )
        if e.prev_hash != prev:
            return checked, ChainProblem(
                e.seq, f"does not follow entry {e.seq - 1} (inserted, deleted or reordered)"
            )
        if entry_hash(tokens, e, prev) != e.hash:
            return checked, ChainProblem(e.seq, "its content does not match its hash (edited)")
        prev, expected, checked = e.hash, expected + 1, checked + 1
    return checked, None
