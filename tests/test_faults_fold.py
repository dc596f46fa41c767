"""The comparison the fault runs report (ops/chaos_fold.py): lost, extra and doubled rows, the
hash of sorted rows, and identity inputs decided twice."""

from __future__ import annotations

from ops.chaos_fold import compare, decided_twice, digest


def test_equal_rows_in_any_order_are_equal() -> None:
    d = compare([("a", 1), ("b", 2)], [("b", 2), ("a", 1)])
    assert d.equal and (d.lost, d.extra, d.doubled) == (0, 0, 0)
    assert d.expected_hash == d.projected_hash == digest([("a", 1), ("b", 2)])


def test_a_missing_or_changed_row_is_lost() -> None:
    d = compare([("a", 1), ("b", 2)], [("a", 1), ("b", 3)])
    assert not d.equal
    assert (d.lost, d.extra, d.doubled) == (1, 1, 0)
    assert compare([("a", 1)], []).lost == 1


def test_a_row_projected_twice_is_doubled_not_extra() -> None:
    d = compare([("a", 1)], [("a", 1), ("a", 1)])
    assert not d.equal
    assert (d.lost, d.extra, d.doubled) == (0, 0, 1)


def test_an_input_logged_in_two_runs_is_decided_twice() -> None:
    assert decided_twice(["p/0/1", "p/0/1", "p/0/2"]) == 0  # one input, two decisions
    assert decided_twice(["p/0/1", "p/0/2", "p/0/1"]) == 1
