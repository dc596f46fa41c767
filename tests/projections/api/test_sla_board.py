"""GET /permits/sla-board: open permits per service and per unit as on track / at risk /
breached, and oldest first, equal to states computed here from the permits' dates, clock stops,
standards and the holiday calendar; an agency administrator sees their own agency's only;
officers and auditors are refused; the read is audited per applicant shown."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import holidays
import pytest
from fastapi.testclient import TestClient

from tests.browser.harness import make_app
from tests.projections import factories as f
from tests.projections.api.conftest import audit_entries, project, project_scenario
from tests.projections.api.logins import Login, log_in

D = dt.date
# This module's own logins (one app for the whole module: its setup is the slow part).
SUPERVISOR = Login("kabid", "supervisor", purpose="data_correction")
OFFICER = Login("petugas1", "officer", purpose="service_delivery")
AUDITOR = Login("inspektorat-sla", "auditor", purpose="complaint")
ADMIN_PUPR = Login("admin-pupr", "agency_admin", purpose="data_quality", agency="pupr")
ADMIN_DPMPTSP = Login("admin-dpm", "agency_admin", purpose="data_quality", agency="dpmptsp")
HEALTH = "Dinas Kesehatan"
PUPR_UNIT = "Dinas Pekerjaan Umum dan Penataan Ruang"
BAPENDA = "Bapenda Kabupaten Muna Barat"  # stated by the agency's service row
APPLICANT_PUPR = f.person(agency="pupr", table="pemohon", record_id="7", position="u7")
P_PUPR = f.pid(7)


@dataclass(frozen=True)
class Open:
    """An open permit of the scenario and what decides its state."""

    permit_id: str
    service: str
    unit: str
    sla: int | None  # None: the service states no standard
    start: D | None  # berkas lengkap (None: not complete yet)
    received: D | None = None
    stops: tuple[tuple[D, D], ...] = ()
    person: str | None = f.P_A


# The conftest's open permit (SIP_DOKTER, complete Wed 1 Jul) and those this module adds; a
# holiday (Mon 17 Aug, Independence Day) falls inside several intervals.
OPEN = [
    Open("dpmptsp:4", "SIP_DOKTER", HEALTH, 9, D(2026, 7, 1)),
    Open("dpmptsp:10", "SIP_DOKTER", HEALTH, 9, D(2026, 8, 14), received=D(2026, 8, 13)),
    Open("dpmptsp:11", "SIP_DOKTER", HEALTH, 9, D(2026, 8, 6), received=D(2026, 8, 5)),
    # stopped on Thu 30 Jul, resumed on the holiday: on track; without the stop: breached
    Open(
        "dpmptsp:12",
        "SIP_DOKTER",
        HEALTH,
        9,
        D(2026, 7, 29),
        received=D(2026, 7, 28),
        stops=((D(2026, 7, 30), D(2026, 8, 17)),),
    ),
    Open("dpmptsp:13", "ITR", PUPR_UNIT, 7, D(2026, 8, 10), received=D(2026, 8, 10)),
    Open("dpmptsp:14", "REKLAME", BAPENDA, 5, D(2026, 8, 12), received=D(2026, 8, 12)),
    Open("dpmptsp:15", "SIP_DOKTER", HEALTH, 9, None, received=D(2026, 8, 18)),  # waiting
    # The agency's service row states no standard: measured against none.
    Open("dpmptsp:16", "SLF", PUPR_UNIT, None, D(2026, 8, 11), received=D(2026, 8, 11)),
    Open("pupr:1", "PBG", PUPR_UNIT, 28, D(2026, 7, 1), received=D(2026, 6, 30), person=P_PUPR),
    Open("pupr:2", "PBG", PUPR_UNIT, 28, D(2026, 8, 3), received=D(2026, 8, 3), person=P_PUPR),
]


def working_days(start: D, end: D, stops) -> int:
    """Days d with start < d <= end that are Monday-Friday, no public holiday nor cuti bersama,
    and not inside a stop (stopped_on < d <= resumed_on): counted one by one."""
    off = holidays.country_holidays(
        "ID",
        years=range(start.year, end.year + 1),
        categories=(holidays.PUBLIC, holidays.GOVERNMENT),
    )
    n, d = 0, start
    while d < end:
        d += dt.timedelta(days=1)
        if d.weekday() < 5 and d not in off and not any(a < d <= b for a, b in stops):
            n += 1
    return n


def expected_state(p: Open, today: D) -> str:
    """Breached past the standard; at risk from 80% of it or on its last day; else on track."""
    if p.start is None:
        return "waiting"
    if p.sla is None:
        return "no_standard"
    used = working_days(p.start, today, p.stops)
    if used > p.sla:
        return "breached"
    if used == p.sla or used >= 0.8 * p.sla:
        return "at_risk"
    return "on_track"


def _open_permit(log, p: Open, n: int, agency_service: str) -> list:
    extra = {"received_date": p.received} if p.received else {}
    app = f.application(
        p.permit_id,
        position=f"b{n}",
        service_ref=agency_service,
        applicant_ref="pupr:pemohon:7" if p.person == P_PUPR else "dpmptsp:tmpemohon:1",
        file_complete_date=p.start,
        **extra,
    )
    out = [log.permit(app)]
    seq = 1
    if p.received:
        out.append(
            log.permit(f.status(p.permit_id, seq, "RECEIVED", p.received, position=f"b{n}.r"))
        )
    if p.start:
        seq += 1
        out.append(
            log.permit(f.status(p.permit_id, seq, "FILE_COMPLETE", p.start, position=f"b{n}.c"))
        )
    for stopped, resumed in p.stops:
        seq += 1
        out.append(
            log.permit(f.status(p.permit_id, seq, "CLOCK_STOPPED", stopped, position=f"b{n}.s"))
        )
        seq += 1
        out.append(
            log.permit(f.status(p.permit_id, seq, "CLOCK_RESUMED", resumed, position=f"b{n}.u"))
        )
    return out


REFS = {
    "SIP_DOKTER": "dpmptsp:1",
    "ITR": "dpmptsp:2",
    "REKLAME": "dpmptsp:3",
    "SLF": "dpmptsp:4",
    "PBG": "pupr:1",
}
STATES = ("on_track", "at_risk", "breached", "waiting", "no_standard")


def add_board_permits(store, log) -> None:
    """Project this module's open permits (OPEN[1:]), their services, a closed and a deleted
    permit into `store`, after the conftest's scenario (`log` its message log)."""
    reklame = f.service("dpmptsp:3", code="REKLAME", name="Izin Reklame", sla_days=5, position="v3")
    reklame["unit"] = BAPENDA
    messages = [
        *log.linked(APPLICANT_PUPR, P_PUPR, kind="NEW"),
        log.service(reklame),
        log.service(
            f.service(
                "dpmptsp:4", code="SLF", name="Sertifikat Laik Fungsi", sla_days=None, position="v5"
            )
        ),
        log.service(
            f.service(
                "pupr:1", code="PBG", name="Persetujuan Bangunan Gedung", sla_days=28, position="v4"
            )
        ),
    ]
    for n, p in enumerate(OPEN[1:]):
        messages += _open_permit(log, p, n, REFS[p.service])
    # Closed (issued on Tue 18 Aug) and deleted: on no board.
    messages += [
        log.permit(f.application("dpmptsp:20", position="c1", file_complete_date=D(2026, 8, 3))),
        log.permit(f.status("dpmptsp:20", 1, "FILE_COMPLETE", D(2026, 8, 3), position="c1.1")),
        log.permit(f.status("dpmptsp:20", 2, "APPROVED", D(2026, 8, 18), position="c1.2")),
        log.permit(f.status("dpmptsp:20", 3, "ISSUED", D(2026, 8, 18), position="c1.3")),
        log.permit(f.application("dpmptsp:21", position="d1", file_complete_date=D(2026, 7, 2))),
        log.permit(f.deleted("dpmptsp:21", position="d1.x")),
    ]
    project(store, messages)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """One API for the module over the API tests' scenario and this module's permits; the
    board's clock on `app.state.clock` (set per request by _get)."""

    def seed(store):
        add_board_permits(store, project_scenario(store))

    app = make_app(tmp_path_factory.mktemp("sla-board"), seed)
    log_in(app, SUPERVISOR, OFFICER, AUDITOR, ADMIN_PUPR, ADMIN_DPMPTSP)
    with TestClient(app) as client:
        yield client


def _board_reads(client) -> list:
    return [e for e in audit_entries(client) if e.action == "permits.sla_board"]


def _get(client, who, today: D, **params):
    client.app.state.clock = lambda: today
    return client.get("/permits/sla-board", headers=who, params=params)


@pytest.mark.parametrize("today", [D(2026, 8, 20), D(2026, 8, 26), D(2026, 8, 31)])
def test_the_board_counts_the_states_computed_from_dates_and_standards(board, today):
    r = _get(board, SUPERVISOR, today)
    assert r.status_code == 200, r.text
    body = r.json()
    want = {p.permit_id: expected_state(p, today) for p in OPEN}
    got = {p["permit_id"]: p["state"] for p in body["permits"]}
    assert got == want
    assert body["as_of"] == today.isoformat()
    totals = Counter(want.values())
    assert body["totals"] == {
        **{s: totals[s] for s in STATES},
        "open": len(OPEN),
    }
    by_service = {s["service_code"]: s for s in body["services"]}
    assert set(by_service) == {p.service for p in OPEN}
    for code, row in by_service.items():
        mine = Counter(want[p.permit_id] for p in OPEN if p.service == code)
        assert {s: row[s] for s in mine} == dict(mine)
        assert row["open"] == sum(mine.values())
    by_unit = {u["unit"]: u for u in body["units"]}
    assert set(by_unit) == {HEALTH, PUPR_UNIT, BAPENDA}
    for unit, row in by_unit.items():
        mine = Counter(want[p.permit_id] for p in OPEN if p.unit == unit)
        assert {s: row[s] for s in STATES} == {s: mine[s] for s in STATES}
    # ITR and SLF (dpmptsp's desk) and PBG (pupr's own system) are one unit: Dinas PUPR.
    assert by_unit[PUPR_UNIT]["services"] == ["ITR", "PBG", "SLF"]
    assert (by_service["SLF"]["sla_days"], by_service["SLF"]["no_standard"]) == (None, 1)


def test_days_used_and_the_clock_stop_on_the_list(board):
    today = D(2026, 8, 20)
    permits = {p["permit_id"]: p for p in _get(board, SUPERVISOR, today).json()["permits"]}
    for p in OPEN:
        row = permits[p.permit_id]
        used = working_days(p.start, today, p.stops) if p.start else None
        assert (row["working_days_used"], row["sla_days"]) == (used, p.sla), p.permit_id
    # The stop (Thu 30 Jul to the holiday Mon 17 Aug) keeps dpmptsp:12 on track at 4 of 9 days;
    # counted without it, it would be breached.
    assert (permits["dpmptsp:12"]["working_days_used"], permits["dpmptsp:12"]["state"]) == (
        4,
        "on_track",
    )
    assert working_days(D(2026, 7, 29), today, ()) > 9


def test_open_permits_oldest_first_without_closed_or_deleted_ones(board):
    body = _get(board, SUPERVISOR, D(2026, 8, 20)).json()
    ids = [p["permit_id"] for p in body["permits"]]
    want = sorted(OPEN, key=lambda p: (p.received or p.start, p.permit_id))
    assert ids == [p.permit_id for p in want]
    assert ids[:2] == ["pupr:1", "dpmptsp:4"]
    assert "dpmptsp:20" not in ids and "dpmptsp:21" not in ids
    short = _get(board, SUPERVISOR, D(2026, 8, 20), limit=2).json()
    assert [p["permit_id"] for p in short["permits"]] == ids[:2]
    assert (short["shown"], short["open"], short["totals"]["open"]) == (2, len(OPEN), len(OPEN))


def test_no_nik_and_no_name_on_the_board_and_each_applicant_shown_is_audited(board):
    before = len(_board_reads(board))
    r = _get(board, SUPERVISOR, D(2026, 8, 20))
    assert f.NIK_A not in r.text and "WA ODE SITI" not in r.text
    assert {p["applicant_person_id"] for p in r.json()["permits"]} == {f.P_A, P_PUPR}
    entries = _board_reads(board)[before:]
    assert sorted(e.person_id for e in entries) == sorted([f.P_A, P_PUPR])
    assert {(e.who, e.purpose) for e in entries} == {("kabid", "data_correction")}


@pytest.mark.parametrize(
    ("admin", "agency"), [(ADMIN_PUPR, "pupr"), (ADMIN_DPMPTSP, "dpmptsp")], ids=["pupr", "dpm"]
)
def test_an_agency_administrator_sees_their_own_agencys_permits_only(board, admin, agency):
    today = D(2026, 8, 20)
    mine = [p for p in OPEN if p.permit_id.startswith(agency + ":")]
    body = _get(board, admin, today).json()
    assert body["agency"] == agency
    assert {p["permit_id"] for p in body["permits"]} == {p.permit_id for p in mine}
    assert {p["agency"] for p in body["permits"]} == {agency}
    totals = Counter(expected_state(p, today) for p in mine)
    assert body["totals"]["open"] == len(mine)
    assert body["totals"]["breached"] == totals["breached"]
    assert {s["service_code"] for s in body["services"]} == {p.service for p in mine}


@pytest.mark.parametrize("who", [OFFICER, AUDITOR], ids=["officer", "auditor"])
def test_officers_and_auditors_are_refused(board, who):
    before = len(_board_reads(board))
    r = _get(board, who, D(2026, 8, 20))
    assert r.status_code == 403
    assert "supervisors and agency administrators" in r.json()["detail"]
    assert len(_board_reads(board)) == before


def test_the_board_needs_a_login_and_a_purpose(board):
    assert _get(board, {}, D(2026, 8, 20)).status_code == 401
    assert _get(board, SUPERVISOR.without_purpose(), D(2026, 8, 20)).status_code == 422


def test_a_permit_id_route_is_not_shadowed(board):
    r = board.get("/permits/dpmptsp:4", headers=SUPERVISOR)
    assert r.status_code == 200 and r.json()["permit_id"] == "dpmptsp:4"
