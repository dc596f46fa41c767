"""Speed work on the resolver must not change a decision: the whole decision log of a generated
corpus (person ids, links, merges, reviews, their evidence, in order, then the open reviews and
every record's person) is the one the resolver gave before the work began (commit b532a38).

When a change to the model or the rules is meant to change decisions, this digest changes with
it: regenerate it with
    .venv/bin/python -m tests.domain.matching.decision_log 2500 2500 101 | sha256sum
and say in the commit which decisions changed and why (diff the two logs)."""

from __future__ import annotations

import hashlib
from collections import Counter

from .decision_log import decision_log

DIGEST = "c74a0d23393b6919744df8f14a200f11d3e1d84bcc897cfff9144312b3c038f1"


def test_the_decision_log_of_a_corpus_is_unchanged():
    lines = list(decision_log(2500, 2500, 101))
    kinds = Counter(line.split("\t", 1)[0] for line in lines)
    # The corpus exercises what the log is compared for: links, merges, reviews.
    assert kinds["LINK"] > 500 and kinds["MERGE"] > 0 and kinds["REVIEW"] > 0
    text = "".join(line + "\n" for line in lines)
    assert hashlib.sha256(text.encode()).hexdigest() == DIGEST
