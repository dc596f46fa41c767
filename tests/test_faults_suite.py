"""The fault suite, short (issue 12): a hub in production shape (ops/chaos.py: three brokers with
replication 3 and min ISR 2, SIAK in PostgreSQL, SiCantik in MariaDB, two workers, projections
in PostgreSQL) under a steady simulated load takes each fault once: kill -9 of the leader broker
of the busiest partition (and its restart), kill -9 of a worker and of a connector at a random
moment, a worker stopped past its session timeout and continued, the registry stopped for 30 s,
the projection database restarted, SIAK's source PostgreSQL restarted mid-stream. After each,
the projection equals the fold of the source tables (row counts and a hash of the sorted rows):
nothing lost, nothing doubled, and no identity input decided twice. `mpphub chaos` runs the
same, longer.

Everything the hub started is stopped at the end, also when a fault fails: the teardown checks
that no process of it runs and its ports are free."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ops.chaos import SUITE_KINDS, ChaosHub, ChaosOptions, ChaosReport, run_faults
from ops.processes import port_is_free, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Iterator[ChaosReport]:
    opts = ChaosOptions(
        tmp_path_factory.mktemp("chaos"),
        registry_down_s=30,
        stop_past_session_s=5,
        recover_timeout_s=150,
    )
    hub = ChaosHub(opts, log=print)
    out = ChaosReport(dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), 0)
    try:
        hub.start()
        hub.wait_recovered(240)  # the snapshot projected
        # The load runs 2 s before each fault (`mpphub chaos`: 5 s): changes are in flight when
        # it lands, and the short suite keeps 21 s of the 25-minute budget.
        run_faults(
            hub,
            list(SUITE_KINDS),
            out,
            warm_s=2.0,
            on_fault=lambda r: print(r.kind, r.detail, r.seconds),
        )
        print(out.as_json())
        yield out
    finally:
        ports = [*hub.stack.config.ports().values(), hub.projection_db.port]
        ports += [s.port for s in hub.sources.servers]
        procs = hub.connectors + hub.workers
        hub.close()
        assert not [p.name for p in procs if p.alive()], "a hub process outlived the suite"
        wait_for(lambda: all(port_is_free(p) for p in ports), 30)
        assert [p for p in ports if not port_is_free(p)] == [], "ports of the hub still taken"


@pytest.mark.parametrize("kind", SUITE_KINDS)
def test_the_projection_recovers_after(report: ChaosReport, kind: str) -> None:
    recovery = next(r for r in report.recoveries if r.kind == kind)
    bad = {t: d for t, d in recovery.diff.items() if not d.equal}
    assert recovery.seconds is not None, (
        f"{kind} ({recovery.detail}): late {recovery.late_s} s, {bad}",
        recovery.report[-3000:],
    )


def test_nothing_lost_nothing_doubled(report: ChaosReport) -> None:
    assert report.faults == {k: 1 for k in SUITE_KINDS}
    assert report.events > 0, "no load ran"
    assert (report.lost, report.doubled) == (0, 0), report.as_json()
