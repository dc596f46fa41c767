"""`mpphub audit verify`: walk the chain, then check it against every head published to Kafka;
the first bad entry (lowest seq) is named."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .chain import ChainProblem, verify_chain
from .heads import Head
from .log import AuditLog


@dataclass(frozen=True)
class Verdict:
    """What verification found: entries walked, heads compared, the first problem (or None)."""

    entries: int
    heads: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        """True when the chain holds and agrees with every published head."""
        return self.problem is None


def verify(audit: AuditLog, heads: Iterable[Head] = ()) -> Verdict:
    """Check the chain, then each published head against the entry it names."""
    checked, problem = verify_chain(audit.tokens, audit.entries())
    heads = list(heads)
    for h in heads:
        if problem is not None and problem.seq <= h.seq:
            break
        found = audit.get(h.seq)
        if found is None:
            problem = ChainProblem(h.seq, f"published as the head at {h.at}, gone (deleted)")
        elif found.hash != h.hash:
            problem = ChainProblem(
                h.seq, f"differs from the head published at {h.at} (the chain was rewritten)"
            )
        else:
            continue
        break
    return Verdict(checked, len(heads), problem)
