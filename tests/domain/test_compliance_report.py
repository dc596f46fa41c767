"""The compliance report's rules: which permits a period holds, the share within the standard,
median/p90, open permits over the standard, zones from the config file."""

import datetime as dt
from pathlib import Path

import pytest

from domain.compliance import ZONES_FILE, ZoneBounds, ZoneConfigError, load_zones
from domain.compliance_report import Period, PeriodError, PermitFacts, compliance_report

D = dt.date
ZONES = ZoneBounds(78, 54, "test")
AUG = Period(D(2026, 8, 1), D(2026, 8, 31))
AUG_20 = D(2026, 8, 20)


def permit(**kw) -> PermitFacts:
    base = dict(
        unit="Dinas Kesehatan",
        service_code="SIP_DOKTER",
        service_name="Surat Izin Praktik Dokter",
        sla_days=9,
        received_date=D(2026, 8, 3),
        file_complete_date=D(2026, 8, 3),
        finished_date=None,
        outcome="IN_PROCESS",
        working_days_used=None,
    )
    return PermitFacts(**{**base, **kw})


def decided(used: int, day: dt.date = AUG_20, **kw) -> PermitFacts:
    return permit(outcome="ISSUED", finished_date=day, working_days_used=used, **kw)


def test_share_median_p90_and_zone_of_a_service():
    permits = [decided(d) for d in (2, 4, 6, 8, 9, 10, 12, 3, 5, 7)]
    (line,) = compliance_report(permits, AUG, ZONES).lines
    f = line.figures
    assert (f.applications, f.decided, f.within_standard) == (10, 10, 8)
    assert f.within_pct == 80.0 and f.zone == "hijau"
    assert f.median_days == 6.5 and f.p90_days == 10.0


def test_decided_counts_by_decision_day_applications_by_received_day():
    july = permit(received_date=D(2026, 7, 20), file_complete_date=D(2026, 7, 20))
    permits = [
        decided(3, received_date=D(2026, 7, 20), file_complete_date=D(2026, 7, 20)),
        decided(3, day=D(2026, 9, 2)),  # received in August, decided in September
        permit(outcome="CANCELLED", finished_date=D(2026, 8, 10)),  # withdrawn: no decision
        july,  # still open from July
    ]
    f = compliance_report(permits, AUG, ZONES).total
    assert (f.applications, f.decided, f.open_at_end) == (2, 1, 2)


def test_rejection_before_berkas_lengkap_is_decided_but_not_in_the_share():
    permits = [
        permit(outcome="REJECTED", finished_date=D(2026, 8, 5), file_complete_date=None),
        decided(12),
    ]
    f = compliance_report(permits, AUG, ZONES).total
    assert (f.decided, f.measured, f.within_standard, f.within_pct, f.zone) == (
        2, 1, 0, 0.0, "merah",
    )  # fmt: skip


def test_open_permit_over_the_standard_at_the_end_of_the_period_with_a_clock_stop():
    # Berkas lengkap Mon 3 Aug, SLA 9: by Mon 31 Aug 19 working days minus 17 Aug (holiday)
    # = 18 (25 Aug is a holiday too: 17); a stop of 10 working days leaves 7 or so: on time.
    late = permit()
    waiting = permit(stopped=((D(2026, 8, 5), D(2026, 8, 26)),))
    f = compliance_report([late, waiting], AUG, ZONES).total
    assert (f.open_at_end, f.open_over_standard) == (2, 1)
    assert f.within_pct is None and f.zone is None  # nothing decided: no zone


def test_trend_is_per_calendar_month_clipped_to_the_period():
    period = Period(D(2026, 7, 15), D(2026, 9, 10))
    permits = [decided(3, day=D(2026, 7, 20)), decided(11, day=D(2026, 8, 20)), decided(1)]
    trend = compliance_report(permits, period, ZONES).trend
    assert [label for label, _ in trend] == ["2026-07", "2026-08", "2026-09"]
    assert [(f.decided, f.within_pct) for _, f in trend] == [(1, 100.0), (2, 50.0), (0, None)]


def test_lines_are_per_unit_and_service_and_skip_services_without_activity():
    permits = [
        decided(2),
        decided(2, unit="Dinas PUPR", service_code="PBG", sla_days=28),
        decided(
            2,
            unit="Dinas PUPR",
            service_code="SLF",
            day=D(2025, 1, 2),
            received_date=D(2024, 12, 30),
            file_complete_date=D(2024, 12, 30),
        ),
    ]
    lines = compliance_report(permits, AUG, ZONES).lines
    assert [(ln.unit, ln.service_code, ln.sla_days) for ln in lines] == [
        ("Dinas Kesehatan", "SIP_DOKTER", 9),
        ("Dinas PUPR", "PBG", 28),
    ]


def test_bad_periods_are_refused_in_bahasa_indonesia():
    with pytest.raises(PeriodError, match="Tanggal awal"):
        Period(D(2026, 8, 2), D(2026, 8, 1))
    with pytest.raises(PeriodError, match="tiga tahun"):
        Period(D(2020, 1, 1), D(2026, 1, 1))


def test_the_shipped_zones_file_loads():
    zones = load_zones()
    assert (zones.green_min_pct, zones.yellow_min_pct) == (78.0, 54.0)
    assert ZONES_FILE.name == "compliance_zones.yaml" and "Ombudsman" in zones.source
    assert [zones.zone(p) for p in (100, 78, 77.9, 54, 53.9, 0)] == [
        "hijau", "hijau", "kuning", "kuning", "merah", "merah",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("green_min_pct: 78\nsource: x\n", "'yellow_min_pct'"),
        ("green_min_pct: 120\nyellow_min_pct: 54\nsource: x\n", "'green_min_pct'"),
        ("green_min_pct: hijau\nyellow_min_pct: 54\nsource: x\n", "'green_min_pct'"),
        ("green_min_pct: 50\nyellow_min_pct: 54\nsource: x\n", "green_min_pct must be above"),
        ("green_min_pct: 78\nyellow_min_pct: 54\n", "'source'"),
        ("green_min_pct: 78\nyellow_min_pct: 54\nsource: x\nred: 1\n", "unknown key 'red'"),
        ("- 1\n", "expected a mapping"),
    ],
)
def test_a_wrong_zones_file_is_refused_naming_the_key(tmp_path: Path, text: str, key: str):
    path = tmp_path / "zones.yaml"
    path.write_text(text)
    with pytest.raises(ZoneConfigError, match=key) as e:
        load_zones(path)
    assert str(path) in str(e.value)
