"""A SIAK-like civil registry (Disdukcapil) sample database, and the changes its clerks make.

Table and column names are SIAK's own (BIODATA_WNI, DATA_KELUARGA, PINDAH_DATANG, and CAPIL_MATI
for death registrations; upper case, so PostgreSQL sees them quoted). A death is a CAPIL_MATI
row (the resident's BIODATA_WNI row is deleted too, but a deleted row alone is no death).
Codes (AGAMA, STAT_KWN, JENIS_PKRJN, STAT_HBKEL, SEBAB_MATI) are stored as SIAK stores them:
numbers, with the code tables in ops/samples/people.py. Timestamps are local wall-clock time
without zone, whole seconds, as the agency application writes them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from domain.nik import Sex, mask_nik
from domain.regions import MUNA_BARAT

from .people import (
    ANAK,
    CERAI_MATI,
    ISTRI,
    JENIS_PKRJN,
    KAWIN,
    KECAMATAN,
    KEPALA,
    SEBAB_MATI,
    Names,
    Population,
    SimChange,
    add_years,
    chunks,
    generate_population,
    home_address,
    nik_date,
)

AGENCY = "disdukcapil"
metadata = sa.MetaData()

BIODATA_WNI = sa.Table(
    "BIODATA_WNI",
    metadata,
    sa.Column("NIK", sa.CHAR(16), primary_key=True),
    sa.Column("NO_KK", sa.CHAR(16), nullable=False),
    sa.Column("NAMA_LGKP", sa.String(60), nullable=False),
    sa.Column("JENIS_KLMIN", sa.SmallInteger, nullable=False),  # 1 L, 2 P
    sa.Column("TMPT_LHR", sa.String(60)),
    sa.Column("TGL_LHR", sa.Date, nullable=False),
    sa.Column("AGAMA", sa.SmallInteger),
    sa.Column("STAT_KWN", sa.SmallInteger),
    sa.Column("STAT_HBKEL", sa.SmallInteger),
    sa.Column("JENIS_PKRJN", sa.SmallInteger),
    sa.Column("NO_KEC", sa.SmallInteger),
    sa.Column("NO_KEL", sa.SmallInteger),
    sa.Column("ALAMAT", sa.String(120)),
    sa.Column("TGL_UBAH", sa.DateTime, nullable=False),
    sa.Index("IX_BIODATA_WNI_NO_KK", "NO_KK"),
    sa.Index("IX_BIODATA_WNI_TGL_UBAH", "TGL_UBAH"),
)

DATA_KELUARGA = sa.Table(
    "DATA_KELUARGA",
    metadata,
    sa.Column("NO_KK", sa.CHAR(16), primary_key=True),
    sa.Column("NIK_KK", sa.CHAR(16), nullable=False),  # the head of the family
    sa.Column("ALAMAT", sa.String(120)),
    sa.Column("NO_RT", sa.String(3)),
    sa.Column("NO_RW", sa.String(3)),
    sa.Column("NO_KEC", sa.SmallInteger),
    sa.Column("NO_KEL", sa.SmallInteger),
    sa.Column("TGL_UBAH", sa.DateTime, nullable=False),
    sa.Index("IX_DATA_KELUARGA_TGL_UBAH", "TGL_UBAH"),
)

PINDAH_DATANG = sa.Table(
    "PINDAH_DATANG",
    metadata,
    sa.Column("NO_PINDAH", sa.String(20), primary_key=True),
    sa.Column("NIK", sa.CHAR(16), nullable=False),
    sa.Column("NO_KK", sa.CHAR(16)),  # the KK at the destination
    sa.Column("NO_PROP_ASAL", sa.SmallInteger),
    sa.Column("NO_KAB_ASAL", sa.SmallInteger),
    sa.Column("NO_KEC_ASAL", sa.SmallInteger),
    sa.Column("NO_KEL_ASAL", sa.SmallInteger),
    sa.Column("NO_PROP_TUJUAN", sa.SmallInteger),
    sa.Column("NO_KAB_TUJUAN", sa.SmallInteger),
    sa.Column("NO_KEC_TUJUAN", sa.SmallInteger),
    sa.Column("NO_KEL_TUJUAN", sa.SmallInteger),
    sa.Column("KLASIFIKASI_PINDAH", sa.SmallInteger),  # 3 antar kec, 4 antar kab, 5 antar prov
    sa.Column("TGL_PINDAH", sa.Date, nullable=False),
    sa.Column("TGL_UBAH", sa.DateTime, nullable=False),
    sa.Index("IX_PINDAH_DATANG_TGL_UBAH", "TGL_UBAH"),
)

# Death registrations, as SIAK's civil-registration (capil) side keeps them: one row per death
# certificate (MATI_NO), with the deceased's identity as registered and the report date.
CAPIL_MATI = sa.Table(
    "CAPIL_MATI",
    metadata,
    sa.Column("MATI_NO", sa.String(30), primary_key=True),  # akta: 7413-KM-DDMMYYYY-NNNN
    sa.Column("NIK", sa.CHAR(16), nullable=False),
    sa.Column("NO_KK", sa.CHAR(16)),
    sa.Column("NAMA_LGKP", sa.String(60)),
    sa.Column("JENIS_KLMIN", sa.SmallInteger),  # 1 L, 2 P
    sa.Column("TGL_LHR", sa.Date),
    sa.Column("TGL_MATI", sa.Date, nullable=False),
    sa.Column("TMPT_MATI", sa.String(60)),
    sa.Column("SEBAB_MATI", sa.SmallInteger),  # SEBAB_MATI codes in ops/samples/people.py
    sa.Column("PLPR_TGL_LAPOR", sa.Date),  # the day the family reported the death
    sa.Column("TGL_UBAH", sa.DateTime, nullable=False),
    sa.Index("IX_CAPIL_MATI_NIK", "NIK"),
    sa.Index("IX_CAPIL_MATI_TGL_UBAH", "TGL_UBAH"),
)

TABLES = (BIODATA_WNI, DATA_KELUARGA, PINDAH_DATANG, CAPIL_MATI)
_PROP, _KAB = int(MUNA_BARAT[:2]), int(MUNA_BARAT[2:])


def create_schema(engine: sa.Engine) -> None:
    """Create the SIAK tables that do not exist yet (safe to call again)."""
    metadata.create_all(engine, checkfirst=True)


def create_siak(
    engine: sa.Engine,
    n_people: int,
    seed: int,
    *,
    today: dt.date | None = None,
    replace: bool = False,
) -> Population:
    """Generate a population of n_people and load it into a SIAK-like database; return it."""
    population = generate_population(n_people, seed, today)
    load_siak(engine, population, replace=replace)
    return population


def load_siak(engine: sa.Engine, population: Population, *, replace: bool = False) -> None:
    """Create the schema and bulk-insert a population; refuses non-empty tables unless replace."""
    create_schema(engine)
    with engine.begin() as conn:
        prepare_tables(conn, TABLES, replace)
        bulk_insert(conn, BIODATA_WNI, [person_row(p) for p in population.people])
        bulk_insert(conn, DATA_KELUARGA, [_family_row(f) for f in population.families])
        bulk_insert(conn, PINDAH_DATANG, [_move_row(m) for m in population.moves])


def prepare_tables(conn: sa.Connection, tables: tuple[sa.Table, ...], replace: bool) -> None:
    """Empty the tables when replacing; otherwise fail if one already holds rows."""
    for table in tables:
        if replace:
            conn.execute(table.delete())
        elif conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            raise ValueError(f"{table.name} already holds rows; pass replace=True to regenerate")


def bulk_insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """executemany in chunks: one statement per 5,000 rows, all in the caller's transaction."""
    for chunk in chunks(rows):
        conn.execute(table.insert(), chunk)


def person_row(p: Any) -> dict[str, Any]:
    """A BIODATA_WNI row for a Person."""
    return {
        "NIK": p.nik, "NO_KK": p.no_kk, "NAMA_LGKP": p.name, "JENIS_KLMIN": p.sex.siak_code,
        "TMPT_LHR": p.birth_place, "TGL_LHR": p.birth_date, "AGAMA": p.religion,
        "STAT_KWN": p.marital, "STAT_HBKEL": p.relation, "JENIS_PKRJN": p.occupation,
        "NO_KEC": p.kec, "NO_KEL": p.kel, "ALAMAT": p.address, "TGL_UBAH": p.updated,
    }  # fmt: skip


def _family_row(f: Any) -> dict[str, Any]:
    return {
        "NO_KK": f.no_kk, "NIK_KK": f.head_nik, "ALAMAT": f.address, "NO_RT": f.rt,
        "NO_RW": f.rw, "NO_KEC": f.kec, "NO_KEL": f.kel, "TGL_UBAH": f.updated,
    }  # fmt: skip


def _move_row(m: Any) -> dict[str, Any]:
    region = m.from_region
    return {
        "NO_PINDAH": m.no_pindah, "NIK": m.nik, "NO_KK": m.no_kk,
        "NO_PROP_ASAL": int(region[:2]), "NO_KAB_ASAL": int(region[2:4]),
        "NO_KEC_ASAL": int(region[4:6]), "NO_KEL_ASAL": m.from_kel,
        "NO_PROP_TUJUAN": _PROP, "NO_KAB_TUJUAN": _KAB, "NO_KEC_TUJUAN": m.to_kec,
        "NO_KEL_TUJUAN": m.to_kel, "KLASIFIKASI_PINDAH": m.klasifikasi,
        "TGL_PINDAH": m.moved_on, "TGL_UBAH": m.updated,
    }  # fmt: skip


# --- the changes a Disdukcapil clerk makes (used by ops.samples.Simulator) -------------------


def pick_row(
    conn: sa.Connection, table: sa.Table, rng: random.Random, *where: Any
) -> Mapping[str, Any] | None:
    """A uniformly random row matching `where`, or None (count, then OFFSET in key order)."""
    n = conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
    if not n:
        return None
    key = list(table.primary_key.columns)
    query = sa.select(table).where(*where).order_by(*key).offset(rng.randrange(n)).limit(1)
    return conn.execute(query).mappings().first()


def next_number(conn: sa.Connection, prefix: str) -> str:
    """prefix (12 digits) + the next serial not used by any NIK or No. KK with that prefix."""
    taken: set[str] = set()
    for column in (BIODATA_WNI.c.NIK, BIODATA_WNI.c.NO_KK, DATA_KELUARGA.c.NO_KK):
        taken.update(conn.execute(sa.select(column).where(column.like(prefix + "%"))).scalars())
    serial = max((int(s.strip()[12:]) for s in taken), default=0) + 1
    return f"{prefix}{serial:04d}"


def birth(
    conn: sa.Connection, rng: random.Random, now: dt.datetime, names: Names
) -> SimChange | None:
    """A baby born today to a married woman aged 18-45 joins her family card."""
    today = now.date()
    mother = pick_row(
        conn, BIODATA_WNI, rng,
        BIODATA_WNI.c.JENIS_KLMIN == Sex.P.siak_code, BIODATA_WNI.c.STAT_KWN == KAWIN,
        BIODATA_WNI.c.TGL_LHR.between(add_years(today, -45), add_years(today, -18)),
    )  # fmt: skip
    if mother is None:
        return None
    sex = rng.choice((Sex.L, Sex.P))
    kec = mother["NO_KEC"]
    nik = next_number(conn, f"{MUNA_BARAT}{kec:02d}{nik_date(today, sex)}")
    no_kk = mother["NO_KK"].strip()
    conn.execute(BIODATA_WNI.insert(), {
        "NIK": nik, "NO_KK": no_kk, "NAMA_LGKP": names.person(rng, sex),
        "JENIS_KLMIN": sex.siak_code, "TMPT_LHR": KECAMATAN.get(kec, "RAHA"), "TGL_LHR": today,
        "AGAMA": mother["AGAMA"], "STAT_KWN": 1, "STAT_HBKEL": ANAK, "JENIS_PKRJN": 1,
        "NO_KEC": kec, "NO_KEL": mother["NO_KEL"], "ALAMAT": mother["ALAMAT"], "TGL_UBAH": now,
    })  # fmt: skip
    # The family card is reprinted with the new member: same number, new change time.
    conn.execute(DATA_KELUARGA.update().where(DATA_KELUARGA.c.NO_KK == no_kk).values(TGL_UBAH=now))
    return SimChange(
        "birth", AGENCY, {"BIODATA_WNI": (nik,), "DATA_KELUARGA": (no_kk,)},
        f"birth registered: {mask_nik(nik)} in {KECAMATAN.get(kec, '?')}", detail={"nik": nik},
    )  # fmt: skip


_ADULT_JOBS = (5, 8, 9, 11, 15, 18, 19, 20, 88)


def correction(
    conn: sa.Connection, rng: random.Random, now: dt.datetime, names: Names
) -> SimChange | None:
    """A clerk corrects one field of a resident's biodata (name, birth place or occupation)."""
    person = pick_row(conn, BIODATA_WNI, rng)
    if person is None:
        return None
    adult = person["TGL_LHR"] <= add_years(now.date(), -19)
    field = rng.choice(("NAMA_LGKP", "TMPT_LHR") + (("JENIS_PKRJN",) if adult else ()))
    old = person[field]
    if field == "NAMA_LGKP":
        words = old.split()
        sex = Sex.L if person["JENIS_KLMIN"] == 1 else Sex.P
        extra = rng.choice(names.male if sex is Sex.L else names.female)
        new: Any = " ".join(words[:-1]) if len(words) > 2 else f"{old} {extra}"[:60]
    elif field == "TMPT_LHR":
        new = rng.choice([p for p in (*KECAMATAN.values(), "RAHA", "KENDARI") if p != old])
    else:
        new = rng.choice([j for j in _ADULT_JOBS if j != old])
    nik = person["NIK"].strip()
    conn.execute(
        BIODATA_WNI.update().where(BIODATA_WNI.c.NIK == nik).values({field: new, "TGL_UBAH": now})
    )
    summary = f"biodata corrected: {field} of {mask_nik(nik)}"
    if field == "JENIS_PKRJN":
        summary += f" ({JENIS_PKRJN.get(old, old)} -> {JENIS_PKRJN[new]})"
    return SimChange(
        "correction", AGENCY, {"BIODATA_WNI": (nik,)}, summary,
        detail={"nik": nik, "field": field, "value": new},
    )  # fmt: skip


def move(
    conn: sa.Connection, rng: random.Random, now: dt.datetime, names: Names
) -> SimChange | None:
    """A whole family moves to another district: new KK, members re-addressed, one PINDAH_DATANG
    row per member, and the old KK deleted (as SIAK does when a card is replaced)."""
    family = pick_row(conn, DATA_KELUARGA, rng)
    if family is None:
        return None
    old_kk = family["NO_KK"].strip()
    members = [
        nik.strip()
        for nik in conn.execute(
            sa.select(BIODATA_WNI.c.NIK)
            .where(BIODATA_WNI.c.NO_KK == old_kk)
            .order_by(BIODATA_WNI.c.NIK)
        ).scalars()
    ]
    from_kec = family["NO_KEC"]
    to_kec = rng.choice([k for k in KECAMATAN if k != from_kec])
    kel, address, rt, rw = home_address(rng, names, to_kec)
    today = now.date()
    new_kk = next_number(conn, f"{MUNA_BARAT}{to_kec:02d}{today:%d%m%y}")
    conn.execute(DATA_KELUARGA.insert(), {
        "NO_KK": new_kk, "NIK_KK": family["NIK_KK"].strip(), "ALAMAT": address, "NO_RT": rt,
        "NO_RW": rw, "NO_KEC": to_kec, "NO_KEL": kel, "TGL_UBAH": now,
    })  # fmt: skip
    conn.execute(
        BIODATA_WNI.update()
        .where(BIODATA_WNI.c.NO_KK == old_kk)
        .values(NO_KK=new_kk, NO_KEC=to_kec, NO_KEL=kel, ALAMAT=address, TGL_UBAH=now)
    )
    seq = conn.execute(sa.select(sa.func.count()).select_from(PINDAH_DATANG)).scalar_one()
    numbers = tuple(
        f"{MUNA_BARAT}{to_kec:02d}{today:%Y%m%d}{seq + i + 1:06d}" for i in range(len(members))
    )
    rows = [
        {
            "NO_PINDAH": no, "NIK": nik, "NO_KK": new_kk, "NO_PROP_ASAL": _PROP,
            "NO_KAB_ASAL": _KAB, "NO_KEC_ASAL": from_kec, "NO_KEL_ASAL": family["NO_KEL"],
            "NO_PROP_TUJUAN": _PROP, "NO_KAB_TUJUAN": _KAB, "NO_KEC_TUJUAN": to_kec,
            "NO_KEL_TUJUAN": kel, "KLASIFIKASI_PINDAH": 3, "TGL_PINDAH": today, "TGL_UBAH": now,
        }
        for no, nik in zip(numbers, members, strict=True)
    ]  # fmt: skip
    if rows:
        conn.execute(PINDAH_DATANG.insert(), rows)
    conn.execute(DATA_KELUARGA.delete().where(DATA_KELUARGA.c.NO_KK == old_kk))
    return SimChange(
        "move", AGENCY,
        {"DATA_KELUARGA": (new_kk,), "BIODATA_WNI": tuple(members), "PINDAH_DATANG": numbers},
        f"family of {len(members)} moved {KECAMATAN.get(from_kec, '?')} -> {KECAMATAN[to_kec]}",
        deleted={"DATA_KELUARGA": (old_kk,)},
        detail={"old_kk": old_kk, "new_kk": new_kk, "from_kec": from_kec, "to_kec": to_kec},
    )  # fmt: skip


def death(
    conn: sa.Connection, rng: random.Random, now: dt.datetime, names: Names
) -> SimChange | None:
    """A resident's death is registered: a CAPIL_MATI row (the death certificate) and the
    resident removed from BIODATA_WNI; the spouse becomes CERAI MATI, a new head takes the family
    card, and a card left without members is deleted."""
    elderly = BIODATA_WNI.c.TGL_LHR <= add_years(now.date(), -60)
    person = pick_row(conn, BIODATA_WNI, rng, elderly) if rng.random() < 0.8 else None
    person = person or pick_row(conn, BIODATA_WNI, rng)
    if person is None:
        return None
    nik, no_kk = person["NIK"].strip(), person["NO_KK"].strip()
    mati_no, died_on = _register_death(conn, rng, now, person)
    conn.execute(BIODATA_WNI.delete().where(BIODATA_WNI.c.NIK == nik))
    keys: dict[str, tuple[Any, ...]] = {"CAPIL_MATI": (mati_no,)}
    deleted: dict[str, tuple[Any, ...]] = {"BIODATA_WNI": (nik,)}
    rest = conn.execute(
        sa.select(BIODATA_WNI).where(BIODATA_WNI.c.NO_KK == no_kk).order_by(BIODATA_WNI.c.TGL_LHR)
    ).mappings().all()  # fmt: skip
    touched: list[str] = []
    if person["STAT_KWN"] == KAWIN and person["STAT_HBKEL"] in (KEPALA, ISTRI):
        for r in rest:
            if r["STAT_KWN"] == KAWIN and r["STAT_HBKEL"] in (KEPALA, ISTRI):
                touched.append(r["NIK"].strip())
        if touched:
            conn.execute(
                BIODATA_WNI.update().where(BIODATA_WNI.c.NIK.in_(touched))
                .values(STAT_KWN=CERAI_MATI, TGL_UBAH=now)
            )  # fmt: skip
    if not rest:
        conn.execute(DATA_KELUARGA.delete().where(DATA_KELUARGA.c.NO_KK == no_kk))
        deleted["DATA_KELUARGA"] = (no_kk,)
    elif person["STAT_HBKEL"] == KEPALA:
        spouses = [r for r in rest if r["STAT_HBKEL"] == ISTRI]
        head = (spouses or list(rest))[0]["NIK"].strip()  # else the eldest member
        conn.execute(
            BIODATA_WNI.update().where(BIODATA_WNI.c.NIK == head)
            .values(STAT_HBKEL=KEPALA, TGL_UBAH=now)
        )  # fmt: skip
        conn.execute(
            DATA_KELUARGA.update().where(DATA_KELUARGA.c.NO_KK == no_kk)
            .values(NIK_KK=head, TGL_UBAH=now)
        )  # fmt: skip
        touched.append(head)
        keys["DATA_KELUARGA"] = (no_kk,)
    if touched:
        keys["BIODATA_WNI"] = tuple(dict.fromkeys(touched))
    return SimChange(
        "death", AGENCY, keys, f"death registered: {mask_nik(nik)}", deleted=deleted,
        detail={"nik": nik, "no_kk": no_kk, "mati_no": mati_no, "died_on": died_on},
    )  # fmt: skip


def _register_death(
    conn: sa.Connection, rng: random.Random, now: dt.datetime, person: Mapping[str, Any]
) -> tuple[str, dt.date]:
    """Insert the CAPIL_MATI row of a resident's death (reported today, died within the last
    month and not before birth); return its certificate number and the date of death."""
    today = now.date()
    died_on = max(today - dt.timedelta(days=rng.choice((0, 1, 2, 3, 7, 14, 30))), person["TGL_LHR"])
    prefix = f"{MUNA_BARAT}-KM-{today:%d%m%Y}-"
    same_day = CAPIL_MATI.c.MATI_NO.like(prefix + "%")
    n = conn.execute(sa.select(sa.func.count()).where(same_day)).scalar_one()
    mati_no = f"{prefix}{n + 1:04d}"
    place = rng.choice(("RUMAH", "RUMAH", "RSUD RAHA", KECAMATAN.get(person["NO_KEC"], "RAHA")))
    conn.execute(CAPIL_MATI.insert(), {
        "MATI_NO": mati_no, "NIK": person["NIK"].strip(), "NO_KK": person["NO_KK"].strip(),
        "NAMA_LGKP": person["NAMA_LGKP"], "JENIS_KLMIN": person["JENIS_KLMIN"],
        "TGL_LHR": person["TGL_LHR"], "TGL_MATI": died_on, "TMPT_MATI": place,
        "SEBAB_MATI": rng.choices(list(SEBAB_MATI), (80, 4, 8, 1, 1, 6))[0],
        "PLPR_TGL_LAPOR": today, "TGL_UBAH": now,
    })  # fmt: skip
    return mati_no, died_on
