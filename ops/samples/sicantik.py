"""A SiCantik-like permit office (DPMPTSP) sample database, and the steps its officers take.

Tables as SiCantik names them: `trperizinan` (permit types with their SLA, `durasi`, in working
days), `tmpemohon` (applicants, identified by NIK in `no_identitas`), `tmpermohonan`
(applications: d_terima_berkas, d_berkas_lengkap, d_selesai_proses, no_surat, c_izin_selesai
0 in process / 1 issued / 2 rejected / 3 cancelled) and `trstspermohonan_log` (one row per
status change; insert-only, so `d_status` is its change timestamp). Applicants' NIKs are typed
in by front-office staff: a configurable share is wrong (15 digits, or a date part that is not
the applicant's birth date), as in real data.

Lifecycle (status codes in the log): 1 berkas diterima -> [2 tidak lengkap ->] 3 berkas lengkap
(the SLA clock starts) -> 4 verifikasi teknis -> [5 menunggu perbaikan (clock stopped) ->
6 perbaikan diterima (clock resumes) ->] 7 penandatanganan -> 8 izin terbit; 9 ditolak and
10 dibatalkan end it early.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from domain.nik import Sex
from domain.services import services_of
from domain.workdays import add_working_days, is_working_day

from .people import KECAMATAN, Person, Population, SimChange, office_time
from .siak import bulk_insert, pick_row, prepare_tables

AGENCY = "dpmptsp"
metadata = sa.MetaData()

trperizinan = sa.Table(
    "trperizinan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("n_perizinan", sa.String(120), nullable=False),
    sa.Column("c_kode", sa.String(20), nullable=False),  # = the hub's service code
    sa.Column("durasi", sa.SmallInteger, nullable=False),  # SLA, working days
    sa.Column("n_unit_teknis", sa.String(60)),
    sa.Column("aktif", sa.SmallInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
tmpemohon = sa.Table(
    "tmpemohon",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("n_pemohon", sa.String(100), nullable=False),
    sa.Column("no_identitas", sa.String(20)),  # NIK as typed: not always 16 valid digits
    sa.Column("tempat_lahir", sa.String(60)),
    sa.Column("tgl_lahir", sa.Date),
    sa.Column("alamat", sa.String(200)),
    sa.Column("telp", sa.String(20)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_tmpemohon_no_identitas", "no_identitas"),
    sa.Index("ix_tmpemohon_updated_at", "updated_at"),
)
tmpermohonan = sa.Table(
    "tmpermohonan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("pemohon_id", sa.Integer, nullable=False),
    sa.Column("perizinan_id", sa.Integer, nullable=False),
    sa.Column("no_pendaftaran", sa.String(30), nullable=False),
    sa.Column("d_terima_berkas", sa.Date, nullable=False),
    sa.Column("d_berkas_lengkap", sa.Date),
    sa.Column("d_selesai_proses", sa.Date),
    sa.Column("no_surat", sa.String(60)),
    sa.Column("c_izin_selesai", sa.SmallInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_tmpermohonan_c_izin_selesai", "c_izin_selesai"),
    sa.Index("ix_tmpermohonan_updated_at", "updated_at"),
)
trstspermohonan_log = sa.Table(
    "trstspermohonan_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("permohonan_id", sa.Integer, nullable=False),
    sa.Column("c_status", sa.SmallInteger, nullable=False),
    sa.Column("n_status", sa.String(60), nullable=False),
    sa.Column("d_status", sa.DateTime, nullable=False),
    sa.Column("keterangan", sa.String(200)),
    sa.Index("ix_trstspermohonan_log_permohonan_id", "permohonan_id"),
    sa.Index("ix_trstspermohonan_log_d_status", "d_status"),
)
TABLES = (trperizinan, tmpemohon, tmpermohonan, trstspermohonan_log)

STATUS = {
    1: "Berkas diterima", 2: "Berkas tidak lengkap", 3: "Berkas lengkap", 4: "Verifikasi teknis",
    5: "Menunggu perbaikan pemohon", 6: "Perbaikan diterima", 7: "Penandatanganan izin",
    8: "Izin terbit", 9: "Permohonan ditolak", 10: "Permohonan dibatalkan",
}  # fmt: skip
BERKAS_LENGKAP, CLOCK_STOPPED, CLOCK_RESUMED = 3, 5, 6
OUTCOME = {8: 1, 9: 2, 10: 3}  # terminal status -> c_izin_selesai
# status -> ((next status, relative odds), ...); statuses without an entry are final.
TRANSITIONS = {
    1: ((3, 73), (2, 25), (10, 2)), 2: ((3, 92), (10, 8)), 3: ((4, 100),),
    4: ((7, 75), (5, 20), (9, 5)), 5: ((6, 90), (10, 10)), 6: ((7, 95), (9, 5)), 7: ((8, 100),),
}  # fmt: skip
_NOTE = {
    2: "Persyaratan belum lengkap", 5: "Dokumen perlu diperbaiki pemohon",
    9: "Tidak memenuhi persyaratan teknis", 10: "Dibatalkan atas permintaan pemohon",
}  # fmt: skip
_UNIT = {"SIP": "Dinas Kesehatan", "SIA": "Dinas Kesehatan", "REKLAME": "Bapenda"}
_WEIGHT = {"SIP_DOKTER": 8, "SIP_BIDAN": 20, "SIP_PERAWAT": 25, "SIA": 4, "REKLAME": 15,
           "ITR": 13, "KKPR": 15}  # fmt: skip
_TITLE = {"SIP_DOKTER": "dr. ", "SIP_BIDAN": "Bd. ", "SIP_PERAWAT": "Ns. "}
PERMIT_TYPES = tuple(services_of(AGENCY))  # trperizinan.id = position + 1
_TYPE_WEIGHTS = [_WEIGHT[s.code] for s in PERMIT_TYPES]


def next_status(current: int, rng: random.Random) -> int | None:
    """The status an application moves to from `current`, drawn with realistic odds; None if
    `current` is terminal."""
    options = TRANSITIONS.get(current)
    if not options:
        return None
    return rng.choices([c for c, _ in options], [w for _, w in options])[0]


def _delay(current: int, nxt: int, sla: int, pace: float, rng: random.Random) -> int:
    """Working days between two statuses; `pace` scales the agency's own work (> 1: late)."""
    if current in (1, 3):
        return rng.choices((0, 1), (70, 30))[0]
    if current == 2 or current == CLOCK_STOPPED:  # waiting for the applicant
        return rng.randint(10, 25) if nxt == 10 else rng.randint(1, 10)
    share = {4: 0.6, 6: 0.2, 7: 0.2}[current]
    return max(0, round(pace * sla * share + rng.uniform(-0.5, 0.5)))


@dataclass
class _Application:
    received: dt.datetime
    pemohon: int  # index into the applicant list until ids are assigned
    type_id: int
    events: list[tuple[int, dt.datetime]] = field(default_factory=list)


def _lifecycle(app: _Application, sla: int, until: dt.datetime, rng: random.Random) -> None:
    pace = rng.uniform(0.4, 0.95) if rng.random() < 0.8 else rng.uniform(1.05, 1.7)
    status, at = 1, app.received
    app.events.append((status, at))
    while (nxt := next_status(status, rng)) is not None:
        day = add_working_days(at.date(), _delay(status, nxt, sla, pace, rng))
        if day == at.date():
            at = min(at + dt.timedelta(minutes=rng.randint(5, 90)), at.replace(hour=16, minute=59))
        else:
            at = office_time(rng, day)
        if at > until:
            return  # still open at the end of the generated history
        status = nxt
        app.events.append((status, at))


def _typed_name(p: Person, code: str, rng: random.Random) -> str:
    """The name as a front-office clerk typed it: often title case, with professional titles."""
    name = p.name.title() if rng.random() < 0.3 else p.name
    if code in _TITLE and rng.random() < 0.5:
        name = _TITLE[code] + name
    return name[:100]


def _choose_applicant(pool: Sequence[Person], code: str, rng: random.Random) -> Person:
    """Someone from the pool; midwives (SIP bidan) are women."""
    person = rng.choice(pool)
    for _ in range(20):
        if code != "SIP_BIDAN" or person.sex is Sex.P:
            break
        person = rng.choice(pool)
    return person


def corrupt_nik(nik: str, rng: random.Random) -> str:
    """A typing error: a digit left out (15 digits) or a day off by one (date mismatch)."""
    if rng.random() < 0.5:
        i = rng.randrange(len(nik))
        return nik[:i] + nik[i + 1 :]
    dd = int(nik[6:8])
    base, offset = (dd - 40, 40) if dd > 40 else (dd, 0)
    return f"{nik[:6]}{(base + 1 if base < 28 else base - 1) + offset:02d}{nik[8:]}"


def applicant_row(p: Person, rng: random.Random, code: str, bad_nik_rate: float) -> dict[str, Any]:
    """A tmpemohon row (without id and updated_at) for a person applying for permit `code`."""
    nik = corrupt_nik(p.nik, rng) if rng.random() < bad_nik_rate else p.nik
    where = KECAMATAN.get(p.kec or 0)
    return {
        "n_pemohon": _typed_name(p, code, rng), "no_identitas": nik,
        "tempat_lahir": p.birth_place.title(), "tgl_lahir": p.birth_date,
        "alamat": f"{p.address}, Kec. {where.title()}" if where else p.address,
        "telp": "08" + "".join(rng.choice("0123456789") for _ in range(10)),
    }  # fmt: skip


def create_sicantik(
    engine: sa.Engine,
    population: Population,
    n_permits: int,
    seed: int,
    *,
    today: dt.date | None = None,
    outsider_rate: float = 0.15,
    bad_nik_rate: float = 0.03,
    replace: bool = False,
) -> None:
    """Generate n_permits applications over the two years before `today` (default: the
    population's) and load them, their applicants and status logs into a SiCantik-like DB."""
    today = today or population.today
    rng = random.Random(seed)
    until = dt.datetime.combine(today, dt.time(0)) - dt.timedelta(seconds=1)
    residents, outsiders = population.adults(21), population.adults(21, residents=False)
    codes = [s.code for s in PERMIT_TYPES]
    applicants: list[dict[str, Any]] = []
    by_nik: dict[str, int] = {}
    apps: list[_Application] = []
    for _ in range(n_permits):
        type_id = rng.choices(range(1, len(codes) + 1), _TYPE_WEIGHTS)[0]
        if applicants and rng.random() < 0.2:
            who = rng.randrange(len(applicants))  # a returning applicant
        else:
            pool = outsiders if outsiders and rng.random() < outsider_rate else residents
            person = _choose_applicant(pool, codes[type_id - 1], rng)
            if person.nik not in by_nik:
                by_nik[person.nik] = len(applicants)
                applicants.append(applicant_row(person, rng, codes[type_id - 1], bad_nik_rate))
            who = by_nik[person.nik]
        day = today - dt.timedelta(days=rng.randint(1, 730))
        while not is_working_day(day):
            day -= dt.timedelta(days=1)
        app = _Application(office_time(rng, day), who, type_id)
        _lifecycle(app, PERMIT_TYPES[type_id - 1].sla_days, until, rng)
        apps.append(app)
    rows = _rows(apps, applicants, codes, today)
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        prepare_tables(conn, TABLES, replace)
        for table in TABLES:
            bulk_insert(conn, table, rows[table.name])
        sync_sequences(conn)


def _rows(
    apps: list[_Application], applicants: list[dict[str, Any]], codes: list[str], today: dt.date
) -> dict[str, list[dict[str, Any]]]:
    """Rows with ids in time order, as an auto-increment would have handed them out."""
    stamp = dt.datetime.combine(today - dt.timedelta(days=800), dt.time(8))
    types = [
        {"id": i, "n_perizinan": s.name, "c_kode": s.code, "durasi": s.sla_days,
         "n_unit_teknis": _UNIT.get(s.code.split("_")[0], "Dinas PUPR"), "aktif": 1,
         "updated_at": stamp}
        for i, s in enumerate(PERMIT_TYPES, start=1)
    ]  # fmt: skip
    apps.sort(key=lambda a: a.received)
    first_seen: dict[int, int] = {}
    pemohon = []
    for a in apps:  # applicants registered with their first application
        if a.pemohon not in first_seen:
            first_seen[a.pemohon] = len(first_seen) + 1
            pemohon.append(
                applicants[a.pemohon] | {"id": len(first_seen), "updated_at": a.received}
            )
    per_day: dict[dt.date, int] = {}
    issued: list[tuple[dt.datetime, dict[str, Any]]] = []
    permohonan, logs = [], []
    for app_id, a in enumerate(apps, start=1):
        day = a.received.date()
        per_day[day] = per_day.get(day, 0) + 1
        row = {"id": app_id, "pemohon_id": first_seen[a.pemohon], "perizinan_id": a.type_id,
               "no_pendaftaran": f"REG-{day:%Y%m%d}-{per_day[day]:04d}", "d_terima_berkas": day,
               "d_berkas_lengkap": None, "d_selesai_proses": None, "no_surat": None,
               "c_izin_selesai": 0, "updated_at": a.events[-1][1]}  # fmt: skip
        for status, at in a.events:
            apply_status(row, status, at)
            logs.append({"permohonan_id": app_id, "c_status": status, "n_status": STATUS[status],
                         "d_status": at, "keterangan": _NOTE.get(status)})  # fmt: skip
            if status == 8:
                issued.append((at, row))
        permohonan.append(row)
    per_year: dict[int, int] = {}
    for at, row in sorted(issued, key=lambda x: (x[0], x[1]["id"])):
        per_year[at.year] = per_year.get(at.year, 0) + 1
        row["no_surat"] = surat_number(per_year[at.year], codes[row["perizinan_id"] - 1], at)
    # Stable sort: a permit's steps logged in the same second keep their lifecycle order.
    logs.sort(key=lambda r: (r["d_status"], r["permohonan_id"]))
    for log_id, r in enumerate(logs, start=1):
        r["id"] = log_id
    return {"trperizinan": types, "tmpemohon": pemohon, "tmpermohonan": permohonan,
            "trstspermohonan_log": logs}  # fmt: skip


def surat_number(n: int, code: str, at: dt.datetime) -> str:
    """A permit's letter number: 503 is the archive classification for permits."""
    return f"503/{n:04d}/{code}/DPMPTSP/{at.year}"


def apply_status(row: dict[str, Any], status: int, at: dt.datetime) -> None:
    """Update an application row for a new status (dates, outcome, change time)."""
    if status == BERKAS_LENGKAP:
        row["d_berkas_lengkap"] = at.date()
    if status in OUTCOME:
        row["c_izin_selesai"] = OUTCOME[status]
        row["d_selesai_proses"] = at.date()
    row["updated_at"] = at


def sync_sequences(conn: sa.Connection) -> None:
    """After inserting explicit ids, move PostgreSQL's serial sequences past them (SQLite and
    MariaDB do this by themselves), so an application inserting without id does not collide."""
    if conn.dialect.name != "postgresql":
        return
    for table in TABLES:
        conn.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
        ))  # fmt: skip


# --- the steps a permit officer takes (used by ops.samples.Simulator) ----------------------


def _log(conn: sa.Connection, permohonan_id: int, status: int, now: dt.datetime) -> int:
    result = conn.execute(trstspermohonan_log.insert(), {
        "permohonan_id": permohonan_id, "c_status": status, "n_status": STATUS[status],
        "d_status": now, "keterangan": _NOTE.get(status),
    })  # fmt: skip
    return int(result.inserted_primary_key[0])


def new_application(
    conn: sa.Connection,
    rng: random.Random,
    now: dt.datetime,
    candidates: Sequence[Person] = (),
    bad_nik_rate: float = 0.03,
) -> SimChange | None:
    """Someone files a permit application at the MPP counter (status 1, berkas diterima): one of
    `candidates` (adults of the population) or, without them, a returning applicant."""
    type_id = rng.choices(range(1, len(PERMIT_TYPES) + 1), _TYPE_WEIGHTS)[0]
    code = PERMIT_TYPES[type_id - 1].code
    keys: dict[str, tuple[Any, ...]] = {}
    pemohon_id = None
    if candidates and rng.random() < 0.6:
        person = _choose_applicant(candidates, code, rng)
        found = conn.execute(
            sa.select(tmpemohon.c.id).where(tmpemohon.c.no_identitas == person.nik)
        ).scalar()
        if found is None:
            row = applicant_row(person, rng, code, bad_nik_rate) | {"updated_at": now}
            pemohon_id = int(conn.execute(tmpemohon.insert(), row).inserted_primary_key[0])
            keys["tmpemohon"] = (pemohon_id,)
        else:
            pemohon_id = int(found)
    if pemohon_id is None:
        existing = pick_row(conn, tmpemohon, rng)
        if existing is None:
            return None
        pemohon_id = existing["id"]
    today = now.date()
    count = conn.execute(
        sa.select(sa.func.count()).where(tmpermohonan.c.d_terima_berkas == today)
    ).scalar_one()
    app_id = int(conn.execute(tmpermohonan.insert(), {
        "pemohon_id": pemohon_id, "perizinan_id": type_id,
        "no_pendaftaran": f"REG-{today:%Y%m%d}-{count + 1:04d}", "d_terima_berkas": today,
        "c_izin_selesai": 0, "updated_at": now,
    }).inserted_primary_key[0])  # fmt: skip
    log_id = _log(conn, app_id, 1, now)
    keys |= {"tmpermohonan": (app_id,), "trstspermohonan_log": (log_id,)}
    return SimChange(
        "new_application", AGENCY, keys, f"application {app_id} received: {code}",
        detail={"permohonan_id": app_id, "status": 1, "code": code},
    )  # fmt: skip


def advance_application(
    conn: sa.Connection, rng: random.Random, now: dt.datetime
) -> SimChange | None:
    """An open application moves one step through its lifecycle: a status-log row, and the
    application row updated (dates, outcome, letter number, updated_at)."""
    app = pick_row(conn, tmpermohonan, rng, tmpermohonan.c.c_izin_selesai == 0)
    if app is None:
        return None
    last = conn.execute(
        sa.select(trstspermohonan_log.c.c_status)
        .where(trstspermohonan_log.c.permohonan_id == app["id"])
        .order_by(trstspermohonan_log.c.id.desc())
        .limit(1)
    ).scalar()
    status = next_status(last or 1, rng)
    if status is None:  # a log that ended without closing the application: close it now
        status = last or 8
    row = dict(app)
    apply_status(row, status, now)
    if status == 8:
        issued = conn.execute(
            sa.select(sa.func.count()).where(
                tmpermohonan.c.c_izin_selesai == 1,
                tmpermohonan.c.d_selesai_proses >= dt.date(now.year, 1, 1),
            )
        ).scalar_one()
        code = PERMIT_TYPES[app["perizinan_id"] - 1].code
        row["no_surat"] = surat_number(issued + 1, code, now)
    changed = {k: row[k] for k in ("d_berkas_lengkap", "d_selesai_proses", "no_surat",
                                    "c_izin_selesai", "updated_at")}  # fmt: skip
    conn.execute(tmpermohonan.update().where(tmpermohonan.c.id == app["id"]).values(changed))
    log_id = _log(conn, app["id"], status, now)
    return SimChange(
        "advance_application", AGENCY,
        {"tmpermohonan": (app["id"],), "trstspermohonan_log": (log_id,)},
        f"application {app['id']}: {STATUS[status]}",
        detail={"permohonan_id": app["id"], "status": status, "from": last,
                "c_izin_selesai": row["c_izin_selesai"]},
    )  # fmt: skip
