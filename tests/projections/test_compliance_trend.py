"""The compliance report's monthly trend over the projection: a permit open at the end of a
month is counted against its standard with the clock stops it had by then, even when it was
issued in a later month of the period."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from domain.compliance import load_zones
from domain.compliance_report import Period
from projections.compliance import read_report
from projections.models import Permit, PermitTimeline
from projections.store import open_store

FEB_20, FEB_23, MAR_2 = dt.date(2026, 2, 20), dt.date(2026, 2, 23), dt.date(2026, 3, 2)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10))


def test_a_stop_in_february_counts_for_february_when_the_permit_is_issued_in_march(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'projection.db'}")
    log = [("FILE_COMPLETE", FEB_20), ("CLOCK_STOPPED", FEB_23), ("CLOCK_RESUMED", MAR_2),
           ("ISSUED", MAR_2)]  # fmt: skip
    with store.sessions() as s:
        s.add(Permit(
            permit_id="pupr:5", agency="pupr", service_code="SLF", sla_days=3,
            received_date=dt.date(2026, 2, 13), file_complete_date=FEB_20, finished_date=MAR_2,
            status="ISSUED", outcome="ISSUED", source_position="1",
        ))  # fmt: skip
        for seq, (status, day) in enumerate(log, 1):
            s.add(PermitTimeline(permit_id="pupr:5", status_seq=seq, status=status,
                                 status_time=_at(day), source_position=str(seq)))  # fmt: skip
        s.commit()
        report = read_report(s, Period(dt.date(2026, 2, 1), dt.date(2026, 3, 31)), load_zones(),
                             today=dt.date(2026, 3, 31))  # fmt: skip
    store.close()
    february = dict(report.trend)["2026-02"]
    # Feb 20 to Feb 28 is 6 working days, 1 of them before the stop: within its 3 days.
    assert (february.open_at_end, february.open_over_standard) == (1, 0)
