"""A SIMBG-like building-permit system of Dinas PUPR (PBG, persetujuan bangunan gedung, and
SLF, sertifikat laik fungsi), as PostgreSQL holds it: owners (pemilik_bangunan), the service
types (ref_jenis_layanan, without SLA: the standard is the MPP's, domain/services.py), the
applications (permohonan) and their status history (riwayat_status) with SIMBG's own text status
codes. Its mapping file is streams/mappings/agencies/pupr.yaml.

Owners are typed by the PUPR counter staff: names with titles or in other spellings, and NIKs
with typing errors (a share `bad_nik_rate`).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import sqlalchemy as sa

from domain.services import services_of
from domain.workdays import is_working_day

from . import sicantik
from .people import Person, Population, office_time
from .siak import bulk_insert, prepare_tables
from .variants import nik_transposed, nik_typo, old_spelling, with_title

AGENCY = "pupr"
metadata = sa.MetaData()

ref_jenis_layanan = sa.Table(
    "ref_jenis_layanan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kode", sa.String(10), nullable=False),  # = the hub's service code
    sa.Column("nama", sa.String(120), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
pemilik_bangunan = sa.Table(
    "pemilik_bangunan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("nik", sa.String(20)),  # as typed
    sa.Column("nama_pemilik", sa.String(120), nullable=False),
    sa.Column("tanggal_lahir", sa.Date),
    sa.Column("alamat_pemilik", sa.String(200)),
    sa.Column("no_hp", sa.String(20)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
permohonan = sa.Table(
    "permohonan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("no_registrasi", sa.String(40), nullable=False),
    sa.Column("pemilik_id", sa.Integer, nullable=False),
    sa.Column("jenis_layanan_id", sa.Integer, nullable=False),
    sa.Column("tgl_pengajuan", sa.Date, nullable=False),
    sa.Column("tgl_dokumen_lengkap", sa.Date),
    sa.Column("tgl_selesai", sa.Date),
    sa.Column("no_dokumen", sa.String(60)),
    sa.Column("status_akhir", sa.String(12), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
riwayat_status = sa.Table(
    "riwayat_status",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("permohonan_id", sa.Integer, nullable=False),
    sa.Column("kode_status", sa.String(24), nullable=False),
    sa.Column("waktu", sa.DateTime, nullable=False),
    sa.Column("catatan", sa.String(200)),
)
TABLES = (ref_jenis_layanan, pemilik_bangunan, permohonan, riwayat_status)

# SIMBG's steps, by the lifecycle step of the permits office's generator they stand for.
STATUS = {
    1: "PENDAFTARAN", 2: "PERBAIKAN_DOKUMEN", 3: "DOKUMEN_LENGKAP", 4: "KONSULTASI_TPA",
    5: "MENUNGGU_PERBAIKAN", 6: "PERBAIKAN_DITERIMA", 7: "PENILAIAN_SELESAI", 8: "TERBIT",
    9: "DITOLAK", 10: "DIBATALKAN",
}  # fmt: skip
STATUS_AKHIR = {8: "TERBIT", 9: "DITOLAK", 10: "DIBATALKAN"}  # else PROSES
SERVICES = tuple(services_of(AGENCY))  # ref_jenis_layanan.id = position + 1
_WEIGHTS = {"PBG": 3, "SLF": 1}


def owner_row(p: Person, rng: random.Random, bad_nik_rate: float) -> dict[str, Any]:
    """A pemilik_bangunan row (without id and updated_at) as the counter typed it."""
    r = rng.random()
    nik = p.nik
    if r < bad_nik_rate:
        nik = nik_typo(nik, rng) if rng.random() < 0.6 else nik_transposed(nik, rng)
    name = p.name
    if rng.random() < 0.3:
        name = old_spelling(name, rng) or name
    if rng.random() < 0.2:
        name = with_title(name, p.sex, rng)
    return {"nik": nik, "nama_pemilik": name[:120], "tanggal_lahir": p.birth_date,
            "alamat_pemilik": p.address,
            "no_hp": "08" + "".join(rng.choice("0123456789") for _ in range(10))}  # fmt: skip


def create_simbg(
    engine: sa.Engine,
    population: Population,
    n_permits: int,
    seed: int,
    *,
    today: dt.date | None = None,
    bad_nik_rate: float = 0.1,
    replace: bool = False,
) -> None:
    """Generate n_permits PBG/SLF applications over the two years before `today` and load them,
    their owners and status histories into a SIMBG-like database."""
    today = today or population.today
    rng = random.Random(seed)
    until = dt.datetime.combine(today, dt.time(0)) - dt.timedelta(seconds=1)
    adults = population.adults(25)
    owners: list[dict[str, Any]] = []
    by_nik: dict[str, int] = {}
    apps: list[sicantik._Application] = []
    for _ in range(n_permits):
        type_id = rng.choices(range(1, len(SERVICES) + 1), [_WEIGHTS[s.code] for s in SERVICES])[0]
        person = rng.choice(adults)
        if person.nik not in by_nik:
            by_nik[person.nik] = len(owners)
            owners.append(owner_row(person, rng, bad_nik_rate))
        day = today - dt.timedelta(days=rng.randint(1, 730))
        while not is_working_day(day):
            day -= dt.timedelta(days=1)
        app = sicantik._Application(office_time(rng, day), by_nik[person.nik], type_id)
        sicantik._lifecycle(app, SERVICES[type_id - 1].sla_days, until, rng)
        apps.append(app)
    rows = _rows(apps, owners, today)
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        prepare_tables(conn, TABLES, replace)
        for table in TABLES:
            bulk_insert(conn, table, rows[table.name])
        sync_sequences(conn)


def _rows(
    apps: list[sicantik._Application], owners: list[dict[str, Any]], today: dt.date
) -> dict[str, list[dict[str, Any]]]:
    stamp = dt.datetime.combine(today - dt.timedelta(days=800), dt.time(8))
    types = [{"id": i, "kode": s.code, "nama": s.name, "updated_at": stamp}
             for i, s in enumerate(SERVICES, start=1)]  # fmt: skip
    apps.sort(key=lambda a: a.received)
    first: dict[int, int] = {}
    pemilik = []
    for a in apps:
        if a.pemohon not in first:
            first[a.pemohon] = len(first) + 1
            pemilik.append(owners[a.pemohon] | {"id": first[a.pemohon], "updated_at": a.received})
    rows, logs = [], []
    for app_id, a in enumerate(apps, start=1):
        code = SERVICES[a.type_id - 1].code
        row = {"id": app_id, "no_registrasi": f"{code}-7413-{a.received:%d%m%Y}-{app_id:05d}",
               "pemilik_id": first[a.pemohon], "jenis_layanan_id": a.type_id,
               "tgl_pengajuan": a.received.date(), "tgl_dokumen_lengkap": None,
               "tgl_selesai": None, "no_dokumen": None, "status_akhir": "PROSES",
               "updated_at": a.received}  # fmt: skip
        for status, at in a.events:
            apply_status(row, status, at, code)
            logs.append({"permohonan_id": app_id, "kode_status": STATUS[status], "waktu": at,
                         "catatan": None})  # fmt: skip
        rows.append(row)
    logs.sort(key=lambda r: (r["waktu"], r["permohonan_id"]))
    for log_id, r in enumerate(logs, start=1):
        r["id"] = log_id
    return {"ref_jenis_layanan": types, "pemilik_bangunan": pemilik, "permohonan": rows,
            "riwayat_status": logs}  # fmt: skip


def apply_status(row: dict[str, Any], status: int, at: dt.datetime, code: str) -> None:
    """Update an application row for a new step (dates, final status, document number)."""
    if status == 3:
        row["tgl_dokumen_lengkap"] = at.date()
    if status in STATUS_AKHIR:
        row["status_akhir"] = STATUS_AKHIR[status]
        row["tgl_selesai"] = at.date()
        if status == 8:
            row["no_dokumen"] = f"{code}-7413-{row['id']:05d}-{at.year}"
    row["updated_at"] = at


def sync_sequences(conn: sa.Connection) -> None:
    """Move PostgreSQL's serial sequences past the explicit ids (see sicantik.sync_sequences)."""
    if conn.dialect.name != "postgresql":
        return
    for table in TABLES:
        conn.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
        ))  # fmt: skip
