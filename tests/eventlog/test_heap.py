"""When a state folded in memory (the resolver, a rebuild's fold) is collected and frozen
(eventlog/heap.py)."""

from __future__ import annotations

import gc
import weakref

from eventlog.heap import HeapSettler


class _Node:
    self: object


def test_a_small_resolver_is_left_to_the_collector() -> None:
    settler = HeapSettler(growth=0.25, at_least=50_000)
    assert not any(settler.due(n) for n in (0, 1_000, 49_999))


def test_the_heap_is_settled_again_only_after_it_grew_by_a_quarter() -> None:
    settler = HeapSettler(growth=0.25, at_least=50_000)
    assert settler.due(60_000)
    assert not settler.due(60_000) and not settler.due(74_999)
    assert settler.due(75_000)
    assert not settler.due(93_749) and settler.due(93_750)


def test_settling_freezes_what_lives_and_leaves_garbage_to_the_collector() -> None:
    settler = HeapSettler(growth=0.25, at_least=10)
    held = [{"n": i} for i in range(1_000)]
    garbage = _Node()
    garbage.self = garbage  # a cycle: only the collector frees it
    gone = weakref.ref(garbage)
    del garbage
    try:
        assert settler.after_batch(10)
        assert gone() is None  # collected, not frozen for ever
        frozen = gc.get_freeze_count()
        assert frozen >= len(held)
        assert not settler.after_batch(11)  # not grown by a quarter: nothing more
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()  # this test process's objects go back to the collector
    assert settler.settled == 1
