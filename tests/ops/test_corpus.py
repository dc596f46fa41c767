"""The labelled identity corpus (ops/samples/corpus.py) and its variations, and the evaluation's
arithmetic (ops/evaluation.py): pairwise scores from cluster counts, errors by kind."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from itertools import combinations

import pytest

from domain.matching import PersonRecord
from domain.nik import Sex, check_nik
from ops.evaluation import errors_by_kind, pairs_by_source, pairwise
from ops.samples import variants as v
from ops.samples.corpus import AGENCIES, Labelled, make_corpus

TODAY = dt.date(2026, 5, 4)


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(1500, seed=4, index_people=200, today=TODAY)


def test_the_registry_holds_every_person_with_a_valid_nik(corpus) -> None:
    registry = [r for r in corpus.records if r.record.source == "disdukcapil"]
    assert len(registry) == corpus.summary["people"] == len({r.truth for r in registry})
    for r in registry + corpus.preload:
        rec = r.record
        assert check_nik(rec.nik, rec.birth_date, Sex(rec.sex), today=TODAY).ok
    niks = [r.record.nik for r in registry + corpus.preload]
    assert len(set(niks)) == len(niks)
    assert len(corpus.preload) == 200 and all(r.truth >= len(registry) for r in corpus.preload)


def test_other_agencies_hold_subsets_with_every_kind_of_error(corpus) -> None:
    others = [r for r in corpus.records if r.record.source != "disdukcapil"]
    assert {r.record.source for r in others} == {a.name for a in AGENCIES[:2]}
    kinds = Counter(k for r in others for k in r.kinds)
    for kind in (
        "nik_typo", "nik_transposed", "nik_truncated", "nik_is_kk", "nik_missing", "name_title",
        "name_haji", "name_prefix", "name_typo", "name_single", "name_order", "name_muhammad",
        "name_old_spelling", "date_swap", "date_typo", "moved", "address_variant", "phone",
        "duplicate", "outsider", "twin", "namesake",
    ):  # fmt: skip
        assert kinds[kind] > 0, kind
    without = sum(1 for r in others if "nik_valid" not in r.kinds)
    assert round(without / len(others), 4) == corpus.summary["non_registry_without_valid_nik"]
    assert without / len(others) >= 0.3
    truth = {r.truth: r.record for r in corpus.records if r.record.source == "disdukcapil"}
    for r in others:
        if "outsider" in r.kinds:  # not in this regency's registry
            assert r.truth not in truth
        elif "nik_valid" in r.kinds:
            assert r.record.nik == truth[r.truth].nik
        elif "nik_missing" in r.kinds:
            assert r.record.nik is None
        else:
            assert r.record.nik != truth[r.truth].nik


def test_hard_negatives_look_alike_but_are_other_people(corpus) -> None:
    registry = [r for r in corpus.records if r.record.source == "disdukcapil"]
    twins = [r.record for r in registry if "twin" in r.kinds]
    by_family = defaultdict(list)
    for t in twins:
        by_family[t.kk_number, t.birth_date].append(t)
    assert corpus.summary["twins"] > 0
    for pair in by_family.values():
        assert len(pair) >= 2 and len({t.name for t in pair}) == len(pair)
    namesakes = defaultdict(set)
    for r in registry:
        if "namesake" in r.kinds:
            rec = r.record
            namesakes[rec.name, rec.birth_date, rec.kelurahan].add(rec.nik)
    assert corpus.summary["namesakes"] > 0
    assert sum(len(n) >= 2 for n in namesakes.values()) >= corpus.summary["namesakes"] * 0.9


def test_the_corpus_is_reproducible_and_ordered(corpus) -> None:
    again = make_corpus(1500, seed=4, index_people=200, today=TODAY)
    assert [r.record for r in again.records] == [r.record for r in corpus.records]
    assert [r.ts_ms for r in corpus.records] == sorted(r.ts_ms for r in corpus.records)
    first = make_corpus(300, seed=4, order="registry-first", today=TODAY).records
    sources = [r.record.source == "disdukcapil" for r in first]
    assert sources == sorted(sources, reverse=True)


@pytest.mark.parametrize("name", ["LA ODE HAMIRU ASRUN", "WA SITI", "MUHAMMAD ACHMAD", "JUMRAN"])
def test_name_variants_change_the_name_or_say_they_do_not_apply(name: str) -> None:
    rng = random.Random(1)
    for _ in range(30):
        for varied in (
            v.prefix_variant(name, Sex.L, rng), v.old_spelling(name, rng),
            v.muhammad_variant(name, rng), v.word_order(name, rng), v.single_word(name, rng),
            v.typo(name, rng), v.with_title(name, Sex.P, rng),
        ):  # fmt: skip
            assert varied is None or (varied != name and varied.strip() == varied)
    assert v.old_spelling("JUMRAN", random.Random(0)) in ("DJUMRAN", "JOEMRAN")
    assert v.muhammad_variant("JUMRAN", rng) is None
    assert v.single_word("JUMRAN", rng) is None


@pytest.mark.parametrize("name", ["SITI WA ODE", "WD. SITI", "WAODE SITI", "LA ODE SITI"])
def test_a_single_word_is_never_the_prefix_alone(name: str) -> None:
    rng = random.Random(3)
    assert {v.single_word(name, rng) for _ in range(20)} == {"SITI"}


def test_nik_and_date_variants() -> None:
    rng, nik = random.Random(2), "7413014508900001"
    for _ in range(50):
        typo, swapped = v.nik_typo(nik, rng), v.nik_transposed(nik, rng)
        assert len(typo) == 16 and sum(a != b for a, b in zip(typo, nik, strict=True)) == 1
        assert sorted(swapped) == sorted(nik) and swapped != nik
        assert len(v.nik_truncated(nik, rng)) == 15
    assert v.day_month_swapped(dt.date(1990, 8, 5)) == dt.date(1990, 5, 8)
    assert v.day_month_swapped(dt.date(1990, 8, 15)) is None


# --- the evaluation's arithmetic ---------------------------------------------------------------


def brute_force(truth: list[int], predicted: list[str]) -> tuple[int, int, int]:
    pairs = list(combinations(range(len(truth)), 2))
    tp = sum(truth[i] == truth[j] and predicted[i] == predicted[j] for i, j in pairs)
    return (
        tp,
        sum(predicted[i] == predicted[j] for i, j in pairs),
        sum(truth[i] == truth[j] for i, j in pairs),
    )


def test_pairwise_scores_from_cluster_counts_equal_the_brute_force_count() -> None:
    rng = random.Random(5)
    for _ in range(20):
        truth = [rng.randrange(8) for _ in range(30)]
        predicted = [f"P{t if rng.random() < 0.8 else rng.randrange(8)}" for t in truth]
        s = pairwise(truth, predicted)
        tp, pred, true = brute_force(truth, predicted)
        assert (s["true_positive_pairs"], s["predicted_pairs"], s["true_pairs"]) == (tp, pred, true)
        assert s["precision"] == round(tp / pred, 5) and s["recall"] == round(tp / true, 5)
    assert pairwise([1, 2], ["a", "b"])["f1"] == 1.0  # nothing to pair, nothing wrong


def test_errors_by_kind_counts_missed_and_wrongly_joined_records() -> None:
    def rec(truth: int, *kinds: str) -> Labelled:
        return Labelled(None, truth, 0, kinds)  # type: ignore[arg-type]

    labelled = [rec(1, "registry"), rec(1, "nik_typo"), rec(2, "registry"), rec(2, "twin")]
    # The typo record missed its person; the twin was joined with person 1's registry record.
    errors = errors_by_kind(labelled, ["a", "b", "c", "a"])
    assert errors["nik_typo"] == {
        "records": 1, "missed": 1, "wrongly_joined": 0, "fn_pairs": 1, "fp_pairs": 0,
    }  # fmt: skip
    assert errors["twin"] == {
        "records": 1, "missed": 1, "wrongly_joined": 1, "fn_pairs": 1, "fp_pairs": 1,
    }  # fmt: skip
    assert errors["registry"]["records"] == 2 and errors["registry"]["fp_pairs"] == 1


def test_pairs_by_source_split_the_errors_by_the_records_sources() -> None:
    def rec(truth: int, source: str) -> Labelled:
        return Labelled(PersonRecord(f"r{truth}{source}", source=source), truth, 0)

    labelled = [rec(1, "disdukcapil"), rec(2, "disdukcapil"), rec(1, "puskesmas")]
    # Two registry people merged; the clinic record of person 1 left apart.
    by_source = pairs_by_source(labelled, ["a", "a", "b"])
    assert by_source["registry-registry"] == {"fp_pairs": 1, "fn_pairs": 0}
    assert by_source["registry-other"] == {"fp_pairs": 0, "fn_pairs": 1}
