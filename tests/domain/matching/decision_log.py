"""Every decision the resolver makes on a generated corpus, one text line each: what the
equality test compares, so a speed change can be shown to change no decision (person ids,
links, reviews, merges, splits, their evidence, in order).

    .venv/bin/python -m tests.domain.matching.decision_log PEOPLE INDEX_PEOPLE SEED > log.txt
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from domain.matching.decisions import Decision
from domain.matching.resolver import Resolver

from .resolver_support import ids_by_time, real_model


def line(d: Decision) -> str:
    """One decision, with the evidence's levels and exact weights (repr of the floats)."""
    ev = d.evidence
    evidence = (
        ""
        if ev is None
        else f"{ev.weight!r} "
        + ",".join(f"{c.field}={c.level}:{c.weight!r}" for c in ev.comparisons)
    )
    return "\t".join((
        d.kind.value, d.person_id, d.record_id or "", d.other_record_id or "",
        ",".join(d.other_person_ids), ",".join(d.moved_record_ids), d.reason, evidence,
    ))  # fmt: skip


def decision_log(people: int, index_people: int, seed: int) -> Iterator[str]:
    """The decision lines of one corpus resolved record by record, then the open reviews."""
    from ops.samples.corpus import make_corpus

    corpus = make_corpus(people, agencies=3, seed=seed, index_people=index_people)
    r = Resolver(real_model(), ids_by_time)
    for lab in corpus.preload + corpus.records:
        for d in r.resolve(lab.record, lab.ts_ms):
            yield line(d)
    for d in r.open_reviews():
        yield "OPEN\t" + line(d)
    for lab in corpus.records:
        yield f"PERSON\t{lab.record.record_id}\t{r.person_of(lab.record.record_id)}"


if __name__ == "__main__":
    people, index_people, seed = (int(a) for a in sys.argv[1:4])
    for text in decision_log(people, index_people, seed):
        print(text)
