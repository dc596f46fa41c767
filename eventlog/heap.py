"""A state folded from the log in memory, and Python's cyclic garbage collector.

Both the resolver (streams/identity.py) and a rebuild's fold (projections/rebuild.py) build
millions of long-lived objects (a resolver's index: tens of millions at 1,000,000 people), and
every full collection walks all of them again: at 300,000 records the collector took 13.5% of the
resolver's CPU (9.0 s of 67 s, five full collections), and at 1,000,000 rows the identity
stage stalled for seconds at a time (Faust's timers woke up 4.5 s late), which is freshness
lost. Once the resolver has grown by a quarter since the last time, after a batch, one full
collection clears the cyclic garbage and `gc.freeze()` moves what survives out of the
collector's reach (5.1% of the CPU in the same run, freezing every 20,000 records). Frozen
objects are still freed by reference counting when dropped (a record's former form on update);
only a cycle among them would never be collected, and the index holds none. A rebuild's fold
gains the same way: replaying 605,087 events (300,000 people), its full collections took
8.1-8.9 s of 57-59 s of CPU before, 2.8-3.1 s after (timed by gc.callbacks, old and new
alternated), with one more settle once the fold is done so that the write's collections skip it.
"""

from __future__ import annotations

import gc

GROWTH = 0.25  # freeze again once the state is this much bigger than at the last freeze
AT_LEAST = 50_000  # records (events folded): below this the collector's full passes cost little


class HeapSettler:
    """Decides, from the state's size after each batch (records, events folded), when to
    collect and freeze."""

    def __init__(self, growth: float = GROWTH, at_least: int = AT_LEAST):
        self.growth = growth
        self.at_least = at_least
        self.next_at = at_least
        self.settled = 0  # freezes done

    def due(self, records: int) -> bool:
        """Whether a state of size `records` is due (and, if so, the next threshold)."""
        if records < self.next_at:
            return False
        self.next_at = max(int(records * (1 + self.growth)), self.next_at + 1)
        return True

    def after_batch(self, records: int) -> bool:
        """Collect and freeze when due; whether it did."""
        if not self.due(records):
            return False
        self.settle()
        return True

    def settle(self) -> None:
        """Collect and freeze now (a state that is done growing, of at least `at_least`)."""
        gc.collect()
        gc.freeze()
        self.settled += 1


SETTLER = HeapSettler()  # the worker's identity stage: one collector per process, one settler
