"""ops/chaos.py run_faults: a fault not recovered from in time is waited for a while longer, so
the report tells a slow recovery (late_s, nothing lost) from rows that never come (lost)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ops.chaos import ChaosOptions, ChaosReport, NotRecovered, run_faults
from ops.chaos_fold import compare


class Hub:
    """What run_faults needs of a ChaosHub; the projection catches up after `ready_after`
    waits (None: never), the rows of the fold being `rows` and the projection `projected`."""

    def __init__(self, ready_after: int | None) -> None:
        self.opts = ChaosOptions(Path("."), recover_timeout_s=0.01, late_timeout_s=0.01)
        self.events = 7
        self.waits = 0
        self.ready_after = ready_after

    def load(self, on: bool) -> None:
        pass

    def inject(self, kind: str) -> str:
        return "connector sicantik"

    def diff(self) -> dict[str, Any]:
        rows = [(1,), (2,), (3,)]
        caught_up = self.ready_after is not None and self.waits > self.ready_after
        return {"permit": compare(rows, rows if caught_up else rows[:1])}

    def wait_recovered(self, timeout: float | None = None) -> tuple[float, dict[str, Any]]:
        self.waits += 1
        if self.ready_after is None or self.waits <= self.ready_after:
            raise NotRecovered("projection != sources: --- connector sicantik --- (its log)")
        return 0.5, self.diff()

    def identity_decided_twice(self) -> int:
        return 0


def run(hub: Hub) -> ChaosReport:
    report = ChaosReport(dt.datetime.now(dt.UTC).isoformat(), 0)
    run_faults(hub, ["connector-kill9"], report, warm_s=0)  # type: ignore[arg-type]
    return report


def test_a_slow_recovery_is_late_not_lost() -> None:
    report = run(Hub(ready_after=1))
    [r] = report.recoveries
    assert r.seconds is None and r.late_s is not None and r.late_s > 0
    assert "its log" in r.report
    out = report.as_json()
    assert (out["not_recovered"], out["lost"], len(out["late_s"])) == (1, 0, 1)


def test_rows_that_never_come_are_lost_with_the_logs_kept() -> None:
    report = run(Hub(ready_after=None))
    [r] = report.recoveries
    assert r.seconds is None and r.late_s is None
    assert "its log" in r.report
    out = report.as_json()
    assert (out["not_recovered"], out["lost"], out["late_s"]) == (1, 2, [])


def test_in_time_is_neither() -> None:
    out = run(Hub(ready_after=0)).as_json()
    assert (out["not_recovered"], out["lost"], out["late_s"]) == (0, 0, [])
