"""domain/matching/resolver.py: replaying a run's decisions rebuilds its state exactly, and a
resolver rebuilt that way decides exactly as the original does (the worker's crash recovery)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.matching.decisions import DecisionKind as K

from .resolver_support import as_tuple, models, person, resolver, scenario, scenario_digest, state

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("model", models())
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_replay_rebuilds_the_state_and_decides_the_same_afterwards(model, seed) -> None:
    ids: list[str] = []
    run = resolver(model)
    log = [d for step in scenario(seed, 300, ids) for d in step(run)]
    kinds = {d.kind for d in log}
    assert {K.NEW, K.LINK, K.UNLINK, K.MUST_LINK, K.CANNOT_LINK} <= kinds
    replayed = resolver(model)
    for decision in log:
        replayed.apply(decision)
    assert state(replayed, ids) == state(run, ids)
    more = scenario(seed + 100, 150, ids)
    assert [[as_tuple(d) for d in step(replayed)] for step in more] == [
        [as_tuple(d) for d in step(run)] for step in more
    ]


def test_the_scenario_exercises_merges_splits_and_reviews() -> None:
    run, ids = resolver(), []
    kinds = [d.kind for seed in (1, 2, 3) for step in scenario(seed, 300, ids) for d in step(run)]
    assert {K.MERGE, K.SPLIT, K.REVIEW} <= set(kinds)


def test_a_cannot_link_survives_a_replay_and_new_evidence() -> None:
    run = resolver()
    log = run.resolve(person("Ra", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I"), 1)
    log += run.resolve(person("Rb", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I"), 2)
    log += run.cannot_link("Ra", "Rb", 3)
    assert [d.kind for d in log] == [K.NEW, K.LINK, K.CANNOT_LINK, K.SPLIT]
    rebuilt = resolver()
    for decision in log:
        rebuilt.apply(decision)
    for r in (run, rebuilt):
        r.resolve(person("Rb", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I", nik="1" * 16), 4)
        r.resolve(person("Rc", "SITI AMINAH", "1991-04-04", kelurahan="RAHA I"), 5)
        assert r.person_of("Ra") != r.person_of("Rb")
    assert state(rebuilt, ["Ra", "Rb", "Rc"]) == state(run, ["Ra", "Rb", "Rc"])


def test_decisions_do_not_depend_on_the_process_hash_seed() -> None:
    code = "from tests.domain.matching.resolver_support import scenario_digest as d; print(d())"
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert digests == {scenario_digest()}
