"""The compliance report computed straight from the SiCantik- and SIMBG-like permits databases
(their own SQL and plain Python, never the hub's projection or report code): what
GET /reports/compliance must answer once the pipeline has projected them (assert_report_matches
compares). Working days come from domain.workdays, the calendar the service standards are
defined in; the zone bounds from the shipped YAML file.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from domain.compliance import ZONES_FILE, load_zones
from domain.compliance_report import Period
from domain.services import service
from domain.workdays import working_days_between
from projections.compliance import FIGURES, read_report, report_json

# SiCantik's codes: trstspermohonan_log.c_status and tmpermohonan.c_izin_selesai.
BERKAS_LENGKAP, STOPPED, RESUMED = 3, 5, 6
ISSUED, REJECTED, CANCELLED = 1, 2, 3

_PERMITS = sa.text(
    """
    SELECT a.id, a.d_terima_berkas, a.d_berkas_lengkap, a.d_selesai_proses, a.c_izin_selesai,
           t.c_kode, t.n_unit_teknis, t.durasi
    FROM tmpermohonan a JOIN trperizinan t ON t.id = a.perizinan_id
    """
)
_LOG = sa.text(
    "SELECT permohonan_id, c_status, d_status, id FROM trstspermohonan_log ORDER BY d_status, id"
)


def source_permits(sicantik: sa.Engine, today: dt.date) -> list[dict[str, Any]]:
    """Each application with its unit, service, SLA, dates, and clock stops from its log."""
    with sicantik.connect() as c:
        logs: dict[int, list] = defaultdict(list)
        for r in c.execute(_LOG):
            logs[r.permohonan_id].append(r)
        apps = list(c.execute(_PERMITS).mappings())
    out = []
    for a in apps:
        log = logs[a["id"]]
        final = a["c_izin_selesai"] in (ISSUED, REJECTED, CANCELLED)
        finished = _day(a["d_selesai_proses"]) if final else None
        complete = _day(a["d_berkas_lengkap"]) or next(
            (_day(r.d_status) for r in log if r.c_status == BERKAS_LENGKAP), None
        )
        stops, stopped_on = [], None
        for r in log:
            if r.c_status == STOPPED and stopped_on is None:
                stopped_on = _day(r.d_status)
            elif r.c_status == RESUMED and stopped_on is not None:
                stops.append((stopped_on, _day(r.d_status)))
                stopped_on = None
        if stopped_on is not None:
            stops.append((stopped_on, max(stopped_on, finished or today)))
        used = None
        if complete is not None and final and finished >= complete:
            used = working_days_between(complete, finished, stops)
        out.append(
            {
                "id": a["id"], "unit": a["n_unit_teknis"], "code": a["c_kode"], "sla": a["durasi"],
                "received": _day(a["d_terima_berkas"]), "complete": complete,
                "finished": finished, "decision": a["c_izin_selesai"] in (ISSUED, REJECTED),
                "used": used, "stops": stops,
            }
        )  # fmt: skip
    return out


_SIMBG = sa.text(
    """
    SELECT p.id, p.tgl_pengajuan, p.tgl_dokumen_lengkap, p.tgl_selesai, p.status_akhir, j.kode
    FROM permohonan p JOIN ref_jenis_layanan j ON j.id = p.jenis_layanan_id
    """
)
_SIMBG_LOG = sa.text(
    "SELECT permohonan_id, kode_status, waktu, id FROM riwayat_status ORDER BY waktu, id"
)


def simbg_permits(simbg: sa.Engine, today: dt.date) -> list[dict[str, Any]]:
    """The same facts from a SIMBG-like database; its services' SLA and unit are the MPP's
    published standard (domain/services.py), SIMBG has no column for them."""
    with simbg.connect() as c:
        logs: dict[int, list] = defaultdict(list)
        for r in c.execute(_SIMBG_LOG):
            logs[r.permohonan_id].append((r.kode_status, _day(r.waktu)))
        apps = list(c.execute(_SIMBG).mappings())
    out = []
    for a in apps:
        final = a["status_akhir"] in ("TERBIT", "DITOLAK", "DIBATALKAN")
        finished = _day(a["tgl_selesai"]) if final else None
        complete = _day(a["tgl_dokumen_lengkap"]) or next(
            (day for code, day in logs[a["id"]] if code == "DOKUMEN_LENGKAP"), None
        )
        stops = _stops(logs[a["id"]], "MENUNGGU_PERBAIKAN", "PERBAIKAN_DITERIMA", finished, today)
        standard = service(a["kode"])
        used = None
        if complete is not None and final and finished >= complete:
            used = working_days_between(complete, finished, stops)
        out.append(
            {
                "id": f"pupr:{a['id']}", "unit": standard.unit, "code": a["kode"],
                "sla": standard.sla_days, "received": _day(a["tgl_pengajuan"]),
                "complete": complete, "finished": finished,
                "decision": a["status_akhir"] in ("TERBIT", "DITOLAK"), "used": used,
                "stops": stops,
            }
        )  # fmt: skip
    return out


def _stops(log, stop: str, resume: str, finished: dt.date | None, today: dt.date) -> list:
    stops, stopped_on = [], None
    for code, day in log:
        if code == stop and stopped_on is None:
            stopped_on = day
        elif code == resume and stopped_on is not None:
            stops.append((stopped_on, day))
            stopped_on = None
    if stopped_on is not None:
        stops.append((stopped_on, max(stopped_on, finished or today)))
    return stops


def assert_report_matches(
    engine: sa.Engine, permits: list, start: dt.date, end: dt.date, today: dt.date
) -> dict:
    """The hub's report over the projection in `engine` equals expected_report (returned)."""
    want = expected_report(permits, start, end)
    with Session(engine) as s:
        got = report_json(read_report(s, Period(start, end), load_zones(), today))
    lines = {(ln["unit"], ln["service_code"]): {f: ln[f] for f in FIGURES} for ln in got["lines"]}
    assert lines == want["lines"], (start, end)
    assert got["total"] == want["total"], (start, end)
    assert {m["month"]: {f: m[f] for f in FIGURES} for m in got["trend"]} == want["trend"]
    return want


def expected_report(permits: list[dict[str, Any]], start: dt.date, end: dt.date) -> dict:
    """{"lines": {(unit, code): figures}, "total": figures, "trend": {"YYYY-MM": figures}}."""
    zones = yaml.safe_load(ZONES_FILE.read_text())
    lines = {}
    for key in sorted({(p["unit"], p["code"]) for p in permits}):
        mine = [p for p in permits if (p["unit"], p["code"]) == key]
        figures = _figures(mine, start, end, zones)
        if figures["applications"] or figures["decided"] or figures["open_at_end"]:
            lines[key] = figures
    trend, first = {}, start.replace(day=1)
    while first <= end:
        following = (first + dt.timedelta(days=32)).replace(day=1)
        last = min(following - dt.timedelta(days=1), end)
        trend[first.strftime("%Y-%m")] = _figures(permits, max(first, start), last, zones)
        first = following
    return {"lines": lines, "total": _figures(permits, start, end, zones), "trend": trend}


def _figures(permits: list[dict], start: dt.date, end: dt.date, zones: dict) -> dict[str, Any]:
    received = [p for p in permits if start <= p["received"] <= end]
    decided = [p for p in permits if p["decision"] and start <= p["finished"] <= end]
    days = [p["used"] for p in decided if p["used"] is not None]
    within = sum(1 for p in decided if p["used"] is not None and p["used"] <= p["sla"])
    still_open = [
        p
        for p in permits
        if p["received"] <= end and (p["finished"] is None or p["finished"] > end)
    ]
    over = sum(
        1
        for p in still_open
        if p["complete"] is not None
        and p["complete"] <= end
        and working_days_between(p["complete"], end, p["stops"]) > p["sla"]
    )
    pct = round(100 * within / len(days), 1) if days else None
    zone = None
    if pct is not None:
        zone = "hijau" if pct >= zones["green_min_pct"] else "merah"
        if zones["yellow_min_pct"] <= pct < zones["green_min_pct"]:
            zone = "kuning"
    return {
        "applications": len(received),
        "decided": len(decided),
        "measured": len(days),
        "within_standard": within,
        "within_pct": pct,
        "median_days": float(statistics.median(days)) if days else None,
        "p90_days": float(sorted(days)[math.ceil(0.9 * len(days)) - 1]) if days else None,
        "open_at_end": len(still_open),
        "open_over_standard": over,
        "zone": zone,
    }


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, dt.datetime) else value
