"""Sample agency databases (SIAK-like, SiCantik-like) and the Simulator, on SQLite files."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest
import sqlalchemy as sa

from domain.nik import check_kk, check_nik
from domain.regions import MUNA_BARAT
from ops.samples import Simulator, create_siak, create_sicantik, generate_population, siak
from ops.samples import sicantik as sc

TODAY = dt.date(2026, 5, 4)
NOW = dt.datetime(2026, 5, 4, 10, 30, 15, 123456)  # the simulator drops the microseconds
N_PEOPLE, N_PERMITS = 1500, 600


def engine(path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}")


def rows(eng: sa.Engine, table: sa.Table, *where) -> list[dict]:
    with eng.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).where(*where)).mappings()]


def count(eng: sa.Engine, table: sa.Table, *where) -> int:
    with eng.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    """One SIAK and one SiCantik database, generated once and only read by these tests."""
    tmp = tmp_path_factory.mktemp("samples")
    siak_db, sicantik_db = engine(tmp / "siak.db"), engine(tmp / "sicantik.db")
    population = create_siak(siak_db, N_PEOPLE, seed=11, today=TODAY)
    create_sicantik(sicantik_db, population, N_PERMITS, seed=11)
    return siak_db, sicantik_db, population


@pytest.fixture
def sim(tmp_path):
    """Fresh small databases and a Simulator with a fixed clock, for tests that write."""
    siak_db, sicantik_db = engine(tmp_path / "siak.db"), engine(tmp_path / "sicantik.db")
    population = create_siak(siak_db, 600, seed=5, today=TODAY)
    create_sicantik(sicantik_db, population, 200, seed=5)
    return Simulator(siak_db, sicantik_db, population, seed=3, clock=lambda: NOW)


# --- SIAK ---------------------------------------------------------------------------------


def test_siak_row_counts(dbs):
    siak_db, _, population = dbs
    assert count(siak_db, siak.BIODATA_WNI) == N_PEOPLE == len(population.people)
    assert count(siak_db, siak.DATA_KELUARGA) == len(population.families)
    assert count(siak_db, siak.PINDAH_DATANG) == len(population.moves) > 0
    assert len(population.families) < N_PEOPLE / 2  # families, not single people


def test_every_nik_agrees_with_birth_date_and_sex(dbs):
    for r in rows(dbs[0], siak.BIODATA_WNI):
        check = check_nik(r["NIK"], r["TGL_LHR"], r["JENIS_KLMIN"], today=TODAY)
        assert check.ok, check.findings


def test_residents_live_in_muna_barat_districts(dbs):
    people = rows(dbs[0], siak.BIODATA_WNI)
    assert {r["NO_KEC"] for r in people} == set(range(1, 12))
    local = [r["NIK"] for r in people if r["NIK"].startswith(MUNA_BARAT)]
    assert len(local) > 0.7 * len(people)
    assert {n[4:6] for n in local} <= {f"{k:02d}" for k in range(1, 12)}


def test_families_share_a_kk(dbs):
    siak_db = dbs[0]
    families = {r["NO_KK"]: r for r in rows(siak_db, siak.DATA_KELUARGA)}
    members = defaultdict(set)
    for r in rows(siak_db, siak.BIODATA_WNI):
        members[r["NO_KK"]].add(r["NIK"])
        assert families[r["NO_KK"]]["NO_KEC"] == r["NO_KEC"]
    assert set(members) == set(families)
    for no_kk, family in families.items():
        assert family["NIK_KK"] in members[no_kk]
        assert check_kk(no_kk).ok
    assert max(len(m) for m in members.values()) >= 4


def test_moves_explain_niks_from_elsewhere(dbs):
    siak_db = dbs[0]
    moved = {r["NIK"]: r for r in rows(siak_db, siak.PINDAH_DATANG)}
    for r in rows(siak_db, siak.BIODATA_WNI):
        region = r["NIK"][:6]
        if region != f"{MUNA_BARAT}{r['NO_KEC']:02d}":
            move = moved[r["NIK"]]
            assert move["NO_KEC_TUJUAN"] == r["NO_KEC"]
            assert f"{move['NO_PROP_ASAL']:02d}{move['NO_KAB_ASAL']:02d}" == region[:4]
    assert {m["KLASIFIKASI_PINDAH"] for m in moved.values()} <= {3, 4, 5}


def test_history_ends_before_today(dbs):
    for table in siak.TABLES:
        assert all(
            r["TGL_UBAH"] < dt.datetime.combine(TODAY, dt.time()) for r in rows(dbs[0], table)
        )


def test_population_is_reproducible_for_a_seed():
    def dump(p):
        return [(x.nik, x.name, x.birth_date, x.address, x.updated) for x in p.people + p.outsiders]

    first = generate_population(500, seed=9, today=TODAY)
    assert dump(first) == dump(generate_population(500, seed=9, today=TODAY))
    assert dump(first) != dump(generate_population(500, seed=10, today=TODAY))


def test_databases_are_reproducible_for_a_seed(tmp_path):
    def load(name):
        a, b = engine(tmp_path / f"{name}-siak.db"), engine(tmp_path / f"{name}-sc.db")
        create_sicantik(b, create_siak(a, 300, seed=2, today=TODAY), 100, seed=2)
        return [
            sorted(map(str, rows(e, t))) for e, ts in ((a, siak.TABLES), (b, sc.TABLES)) for t in ts
        ]

    assert load("one") == load("two")


def test_loading_twice_needs_replace(tmp_path):
    db = engine(tmp_path / "siak.db")
    create_siak(db, 50, seed=1, today=TODAY)
    siak.create_schema(db)  # schema creation is idempotent
    with pytest.raises(ValueError, match="BIODATA_WNI already holds rows"):
        create_siak(db, 50, seed=1, today=TODAY)
    create_siak(db, 80, seed=1, today=TODAY, replace=True)
    assert count(db, siak.BIODATA_WNI) == 80


# --- SiCantik -----------------------------------------------------------------------------


def test_sicantik_row_counts(dbs):
    _, db, _ = dbs
    assert count(db, sc.trperizinan) == 7
    assert count(db, sc.tmpermohonan) == N_PERMITS
    assert 0 < count(db, sc.tmpemohon) < N_PERMITS  # some apply more than once
    assert count(db, sc.trstspermohonan_log) > 3 * N_PERMITS


def test_permit_types_carry_the_service_sla(dbs):
    durasi = {r["c_kode"]: r["durasi"] for r in rows(dbs[1], sc.trperizinan)}
    assert durasi == {"SIP_DOKTER": 9, "SIP_BIDAN": 12, "SIP_PERAWAT": 15, "SIA": 24,
                      "REKLAME": 5, "ITR": 7, "KKPR": 25}  # fmt: skip


def test_status_logs_agree_with_applications(dbs):
    db = dbs[1]
    logs = defaultdict(list)
    for r in sorted(rows(db, sc.trstspermohonan_log), key=lambda r: r["id"]):
        logs[r["permohonan_id"]].append(r)
    outcomes = set()
    for app in rows(db, sc.tmpermohonan):
        log = logs[app["id"]]
        codes = [r["c_status"] for r in log]
        assert codes[0] == 1 and log[0]["d_status"].date() == app["d_terima_berkas"]
        for a, b in zip(codes, codes[1:], strict=False):
            assert b in dict(sc.TRANSITIONS[a]), (a, b)
        assert [r["d_status"] for r in log] == sorted(r["d_status"] for r in log)
        assert app["c_izin_selesai"] == sc.OUTCOME.get(codes[-1], 0)
        assert app["updated_at"] == log[-1]["d_status"]
        lengkap = [r["d_status"].date() for r in log if r["c_status"] == sc.BERKAS_LENGKAP]
        assert app["d_berkas_lengkap"] == (lengkap[0] if lengkap else None)
        finished = codes[-1] in sc.OUTCOME
        assert app["d_selesai_proses"] == (log[-1]["d_status"].date() if finished else None)
        assert (app["no_surat"] is not None) == (app["c_izin_selesai"] == 1)
        outcomes.add(app["c_izin_selesai"])
    assert outcomes == {0, 1, 2, 3}


def test_log_ids_follow_time(dbs):
    log = sorted(rows(dbs[1], sc.trstspermohonan_log), key=lambda r: r["id"])
    assert [r["d_status"] for r in log] == sorted(r["d_status"] for r in log)


def test_letter_numbers_are_unique(dbs):
    numbers = [r["no_surat"] for r in rows(dbs[1], sc.tmpermohonan) if r["no_surat"]]
    assert len(numbers) == len(set(numbers))


def test_applicants_reference_people_some_from_outside_some_mistyped(dbs):
    siak_db, db, population = dbs
    residents = {r["NIK"] for r in rows(siak_db, siak.BIODATA_WNI)}
    outsiders = {p.nik for p in population.outsiders}
    applicants = rows(db, sc.tmpemohon)
    ids = {a["id"] for a in applicants}
    assert all(app["pemohon_id"] in ids for app in rows(db, sc.tmpermohonan))
    known = [a for a in applicants if a["no_identitas"] in residents | outsiders]
    from_outside = [a for a in applicants if a["no_identitas"] in outsiders]
    wrong = [a for a in applicants if not check_nik(a["no_identitas"], a["tgl_lahir"]).ok]
    assert len(known) + len(wrong) == len(applicants)
    assert 0.05 < len(from_outside) / len(applicants) < 0.3
    assert 0 < len(wrong) / len(applicants) < 0.1


def test_bad_nik_rate_zero_gives_only_valid_niks(tmp_path):
    a, b = engine(tmp_path / "a.db"), engine(tmp_path / "b.db")
    create_sicantik(b, create_siak(a, 300, seed=4, today=TODAY), 150, seed=4, bad_nik_rate=0)
    assert all(check_nik(r["no_identitas"], r["tgl_lahir"]).ok for r in rows(b, sc.tmpemohon))


# --- Simulator ----------------------------------------------------------------------------

STAMP = NOW.replace(microsecond=0)


def test_birth(sim):
    before = count(sim.siak_engine, siak.BIODATA_WNI)
    change = sim.birth()
    assert change.kind == "birth"
    assert count(sim.siak_engine, siak.BIODATA_WNI) == before + 1
    (baby,) = rows(
        sim.siak_engine, siak.BIODATA_WNI, siak.BIODATA_WNI.c.NIK == change.detail["nik"]
    )
    assert baby["TGL_LHR"] == TODAY and baby["TGL_UBAH"] == STAMP
    assert check_nik(baby["NIK"], baby["TGL_LHR"], baby["JENIS_KLMIN"], today=TODAY).ok
    (family,) = rows(
        sim.siak_engine, siak.DATA_KELUARGA, siak.DATA_KELUARGA.c.NO_KK == baby["NO_KK"]
    )
    assert family["TGL_UBAH"] == STAMP
    assert change.keys["BIODATA_WNI"] == (baby["NIK"],)
    assert baby["NIK"] not in change.summary  # masked


def test_correction(sim):
    change = sim.correction()
    field, value = change.detail["field"], change.detail["value"]
    (person,) = rows(
        sim.siak_engine, siak.BIODATA_WNI, siak.BIODATA_WNI.c.NIK == change.detail["nik"]
    )
    assert person[field] == value and person["TGL_UBAH"] == STAMP


def test_move(sim):
    change = sim.move()
    d = change.detail
    assert (
        count(sim.siak_engine, siak.DATA_KELUARGA, siak.DATA_KELUARGA.c.NO_KK == d["old_kk"]) == 0
    )
    (family,) = rows(sim.siak_engine, siak.DATA_KELUARGA, siak.DATA_KELUARGA.c.NO_KK == d["new_kk"])
    assert family["NO_KEC"] == d["to_kec"] != d["from_kec"]
    assert check_kk(d["new_kk"]).ok
    members = rows(sim.siak_engine, siak.BIODATA_WNI, siak.BIODATA_WNI.c.NO_KK == d["new_kk"])
    assert {m["NIK"] for m in members} == set(change.keys["BIODATA_WNI"])
    assert all(m["NO_KEC"] == d["to_kec"] and m["TGL_UBAH"] == STAMP for m in members)
    moves = rows(sim.siak_engine, siak.PINDAH_DATANG, siak.PINDAH_DATANG.c.NO_KK == d["new_kk"])
    assert {m["NO_PINDAH"] for m in moves} == set(change.keys["PINDAH_DATANG"])
    assert all(m["NO_KEC_TUJUAN"] == d["to_kec"] and m["TGL_PINDAH"] == TODAY for m in moves)
    assert change.deleted == {"DATA_KELUARGA": (d["old_kk"],)}


def test_death(sim):
    for _ in range(10):  # covers heads, spouses and last members of a card
        change = sim.death()
        nik, no_kk = change.detail["nik"], change.detail["no_kk"]
        assert count(sim.siak_engine, siak.BIODATA_WNI, siak.BIODATA_WNI.c.NIK == nik) == 0
        remaining = rows(sim.siak_engine, siak.BIODATA_WNI, siak.BIODATA_WNI.c.NO_KK == no_kk)
        family = rows(sim.siak_engine, siak.DATA_KELUARGA, siak.DATA_KELUARGA.c.NO_KK == no_kk)
        if remaining:
            assert family[0]["NIK_KK"] in {r["NIK"] for r in remaining}
        else:
            assert family == [] and change.deleted["DATA_KELUARGA"] == (no_kk,)


def test_a_death_is_registered_in_capil_mati(sim):
    changes = [sim.death() for _ in range(6)]
    registered = {r["NIK"]: r for r in rows(sim.siak_engine, siak.CAPIL_MATI)}
    assert len(registered) == len(changes)
    for change in changes:
        d = change.detail
        row = registered[d["nik"]]
        assert change.keys["CAPIL_MATI"] == (row["MATI_NO"],) == (d["mati_no"],)
        assert row["TGL_LHR"] <= row["TGL_MATI"] == d["died_on"] <= row["PLPR_TGL_LAPOR"] == TODAY
        assert row["NO_KK"] == d["no_kk"] and row["TGL_UBAH"] == STAMP
        assert row["NAMA_LGKP"] and row["JENIS_KLMIN"] in (1, 2)
        assert row["SEBAB_MATI"] in range(1, 7)
    # The dead are no longer residents, and each certificate number is its own.
    assert not rows(sim.siak_engine, siak.BIODATA_WNI, siak.BIODATA_WNI.c.NIK.in_(registered))
    assert len({r["MATI_NO"] for r in registered.values()}) == len(changes)


def test_new_application(sim):
    change = sim.new_application()
    app_id = change.detail["permohonan_id"]
    (app,) = rows(sim.sicantik_engine, sc.tmpermohonan, sc.tmpermohonan.c.id == app_id)
    assert app["c_izin_selesai"] == 0 and app["d_terima_berkas"] == TODAY
    assert app["updated_at"] == STAMP and app_id > 200  # after the generated ones
    (log,) = rows(sim.sicantik_engine, sc.trstspermohonan_log,
                  sc.trstspermohonan_log.c.permohonan_id == app_id)  # fmt: skip
    assert log["c_status"] == 1 and log["id"] == change.keys["trstspermohonan_log"][0]


def test_advance_application_moves_one_step(sim):
    for _ in range(10):
        sim.new_application()
    for _ in range(30):
        change = sim.advance_application()
        d = change.detail
        (app,) = rows(
            sim.sicantik_engine, sc.tmpermohonan, sc.tmpermohonan.c.id == d["permohonan_id"]
        )
        log = rows(sim.sicantik_engine, sc.trstspermohonan_log,
                   sc.trstspermohonan_log.c.permohonan_id == d["permohonan_id"])  # fmt: skip
        last = max(log, key=lambda r: r["id"])
        assert last["c_status"] == d["status"] and last["d_status"] == STAMP
        assert d["status"] in dict(sc.TRANSITIONS[d["from"]])
        assert app["c_izin_selesai"] == sc.OUTCOME.get(d["status"], 0) == d["c_izin_selesai"]
        assert app["updated_at"] == STAMP
        if d["status"] == 8:
            assert app["no_surat"] and app["d_selesai_proses"] == TODAY


def test_advance_without_open_applications_is_none(sim):
    with sim.sicantik_engine.begin() as conn:
        conn.execute(sc.tmpermohonan.update().values(c_izin_selesai=1))
    assert sim.advance_application() is None
    assert sim.step(random.Random(0)) is not None  # step falls back to another kind


def test_step_is_weighted_and_reproducible(tmp_path):
    def run(name):
        a, b = engine(tmp_path / f"{name}-a.db"), engine(tmp_path / f"{name}-b.db")
        population = create_siak(a, 400, seed=8, today=TODAY)
        create_sicantik(b, population, 100, seed=8)
        s = Simulator(a, b, population, seed=8, clock=lambda: NOW)
        return [s.step(random.Random(i)).summary for i in range(40)], s

    summaries, s = run("one")
    assert summaries == run("two")[0]
    kinds = {s.step().kind for _ in range(80)}
    assert kinds == set(Simulator.WEIGHTS)
    for r in rows(s.siak_engine, siak.BIODATA_WNI):
        assert check_nik(r["NIK"], r["TGL_LHR"], r["JENIS_KLMIN"], today=TODAY).ok


def test_simulator_with_one_engine(tmp_path):
    db = engine(tmp_path / "siak.db")
    s = Simulator(db, None, create_siak(db, 100, seed=1, today=TODAY), clock=lambda: NOW)
    assert s.kinds() == ["birth", "correction", "move", "death"]
    assert s.step().agency == "disdukcapil"
    with pytest.raises(RuntimeError, match="SiCantik"):
        s.new_application()
