"""The resolver's heap and Python's cyclic garbage collector.

A resolver's index is tens of millions of long-lived objects at 1,000,000 people, and every
full collection walks all of them again: at 300,000 records the collector took 13.5% of the
resolver's CPU (9.0 s of 67 s, five full collections), and at 1,000,000 rows the identity
stage stalled for seconds at a time (Faust's timers woke up 4.5 s late), which is freshness
lost. Once the resolver has grown by a quarter since the last time, after a batch, one full
collection clears the cyclic garbage and `gc.freeze()` moves what survives out of the
collector's reach (5.1% of the CPU in the same run, freezing every 20,000 records). Frozen
objects are still freed by reference counting when dropped (a record's former form on update);
only a cycle among them would never be collected, and the index holds none.
"""

from __future__ import annotations

import gc

GROWTH = 0.25  # freeze again once the resolver holds this much more than at the last freeze
AT_LEAST = 50_000  # records: below this the collector's full passes cost little


class HeapSettler:
    """Decides, from the resolver's size after each batch, when to collect and freeze."""

    def __init__(self, growth: float = GROWTH, at_least: int = AT_LEAST):
        self.growth = growth
        self.next_at = at_least
        self.settled = 0  # freezes done

    def due(self, records: int) -> bool:
        """Whether a resolver of `records` records is due (and, if so, the next threshold)."""
        if records < self.next_at:
            return False
        self.next_at = max(int(records * (1 + self.growth)), self.next_at + 1)
        return True

    def after_batch(self, records: int) -> bool:
        """Collect and freeze when due; whether it did."""
        if not self.due(records):
            return False
        gc.collect()
        gc.freeze()
        self.settled += 1
        return True


SETTLER = HeapSettler()  # one collector per process, one settler
