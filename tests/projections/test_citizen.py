"""Citizen projection: source records and the golden record of each person (SQLite file). Every
fact here is placed in its person by a LINK decision, as the resolver would."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from projections.citizen import golden_record
from projections.models import Citizen, CitizenSourceRecord
from projections.writer import apply_batch
from tests.projections import factories as f

TODAY = dt.date(2026, 7, 20)


def project(store, log: f.Log, *facts: dict, person: str = f.P_A) -> None:
    """Facts and the decisions linking their records to `person`, in one batch."""
    with store.sessions() as s:
        apply_batch(s, [m for x in facts for m in log.linked(x, person)], today=TODAY)


def citizen(store, key: str = f.P_A) -> Citizen | None:
    with store.sessions() as s:
        return s.get(Citizen, key)


def records(store) -> list[CitizenSourceRecord]:
    with store.sessions() as s:
        return list(s.scalars(select(CitizenSourceRecord).order_by(CitizenSourceRecord.ref)))


def test_civil_registry_wins_for_identity_fields_even_when_older():
    registry = f.person(name="WA ODE SITI", address="Laworo", at=0)
    permits = f.person(
        agency="dpmptsp",
        table="tmpemohon",
        record_id="9",
        position="e9",
        at=60,
        name="Siti W.",
        address="Jl. Lain",
        occupation="Dokter",
    )
    g = golden_record(f.P_A, [_row(permits), _row(registry)])
    assert g["name"] == "WA ODE SITI"
    assert g["address"] == "Laworo"
    assert g["occupation"] == "Dokter"  # the registry leaves it empty: others fill it
    assert g["provenance"]["name"] == {
        "agency": "disdukcapil",
        "table": "BIODATA_WNI",
        "record_id": "1",
        "position": "p1",
    }
    assert g["provenance"]["occupation"]["agency"] == "dpmptsp"
    assert g["source_count"] == 2


def test_a_person_with_one_live_record_takes_every_stated_field_from_it():
    # The common case (one registry record per person) skips the ranking: the same row as
    # the ranked path gives, a deleted record beside it changing nothing.
    registry = f.person(name="WA ODE SITI", birth_date=dt.date(1990, 1, 2), deceased=True, at=5)
    registry["death_date"] = dt.date(2026, 7, 1)
    gone = _row(f.person(agency="dpmptsp", table="tmpemohon", record_id="9", name="X", at=60))
    gone["deleted"] = True
    alone = golden_record(f.P_A, [_row(registry)])
    assert alone == golden_record(f.P_A, [gone, _row(registry)])
    assert (alone["nik"], alone["name"], alone["nik_status"]) == (f.NIK_A, "WA ODE SITI", "VALID")
    assert alone["birth_date"] == dt.date(1990, 1, 2) and alone["address"] is None
    assert alone["deceased"] is True and alone["death_date"] == dt.date(2026, 7, 1)
    assert set(alone["provenance"]) == {"nik", "name", "birth_date", "deceased", "death_date"}
    assert alone["provenance"]["name"]["record_id"] == "1"
    assert alone["source_count"] == 1 and alone["source_position"] == "p1"
    assert golden_record(f.P_A, [gone]) is None


def _row(fact: dict) -> dict:
    from projections.citizen import merge_fact
    from projections.facts import source_ref

    ref = source_ref(fact["agency"], fact["source_table"], fact["source_record_id"])
    return merge_fact(None, fact, ref)


def test_golden_record_in_the_database(store):
    log = f.Log()
    project(
        store,
        log,
        f.person(
            agency="bapenda",
            table="wajib_pajak",
            record_id="77",
            position="b1",
            name="SITI",
            kk_number="7413010101010001",
        ),
        f.person(name="WA ODE SITI", sex="P", birth_date=dt.date(1990, 7, 5)),
    )
    c = citizen(store)
    assert (c.name, c.sex, c.birth_date, c.kk_number) == (
        "WA ODE SITI",
        "P",
        dt.date(1990, 7, 5),
        "7413010101010001",
    )
    assert c.nik == f.NIK_A and c.nik_status == "VALID"
    assert c.provenance["kk_number"]["agency"] == "bapenda"
    assert c.person_id == f.P_A


def test_a_move_fills_gaps_but_the_biodata_wins(store):
    log = f.Log()
    project(
        store,
        log,
        f.person(address="Laworo", kecamatan_code="741301", name="SITI"),
        # A move (PINDAH_DATANG): a partial fact, newer, with the destination only.
        f.person(
            table="PINDAH_DATANG",
            record_id="m1",
            position="m1",
            at=30,
            kecamatan_code="741305",
            kelurahan_code="7413052001",
            nik=None,
            nik_status="MISSING",
        ),
    )
    c = citizen(store)
    assert (c.kecamatan_code, c.kelurahan_code, c.name) == ("741301", "7413052001", "SITI")
    assert c.provenance["kelurahan_code"]["table"] == "PINDAH_DATANG"
    assert c.nik == f.NIK_A  # the move's missing NIK does not hide the registry's one
    # SIAK re-addresses the biodata with the move: the golden record follows it.
    project(store, log, f.person(position="p2", at=31, kecamatan_code="741305"))
    assert citizen(store).kecamatan_code == "741305"


def test_newer_record_wins_between_equally_full_records(store):
    log = f.Log()
    project(
        store,
        log,
        f.person(
            agency="bpjs", table="peserta_jkn", record_id="1", position="j1", at=5, address="A"
        ),
        f.person(
            agency="bapenda", table="wajib_pajak", record_id="1", position="b1", at=9, address="B"
        ),
    )
    assert citizen(store).address == "B"


def test_partial_fact_does_not_erase(store):
    log = f.Log()
    project(store, log, f.person(name="SITI", address="Laworo", religion="Islam"))
    project(store, log, f.person(position="p2", at=5, address="Jl. Baru", nik=None))
    c = citizen(store)
    assert (c.name, c.address, c.religion, c.nik) == ("SITI", "Jl. Baru", "Islam", f.NIK_A)
    (r,) = records(store)
    assert r.data["name"] == "SITI" and r.source_position == "p2"
    assert r.nik_status == "VALID"


def test_repeated_position_changes_nothing(store):
    log = f.Log()
    project(store, log, f.person(name="SITI", position="p1"))
    # Same position, other content: a duplicate by definition, ignored.
    project(store, log, f.person(name="SOMEONE ELSE", position="p1", at=9))
    assert citizen(store).name == "SITI"


def test_older_change_is_ignored(store):
    log = f.Log()
    project(store, log, f.person(name="NEW", position="p2", at=10))
    project(store, log, f.person(name="OLD", position="p1", at=5))
    assert citizen(store).name == "NEW"
    (r,) = records(store)
    assert r.source_position == "p2"


def test_a_snapshot_read_arriving_after_a_streamed_change_changes_nothing(store):
    """A snapshot read has no source time; a late copy of it (a worker stopped past its session
    timeout and continued, writing what it held) must not bring the old version back."""
    log = f.Log()
    snapshot = {**f.person(name="OLD", position="snapshot@1"), "source_ts": None}
    project(store, log, snapshot)
    assert citizen(store).name == "OLD"  # a snapshot read on an empty row is applied
    project(store, log, f.person(name="NEW", position="p2", at=10))
    assert citizen(store).name == "NEW"
    project(store, log, snapshot)
    assert citizen(store).name == "NEW"
    (r,) = records(store)
    assert r.source_position == "p2"


def test_death_is_recorded(store):
    log = f.Log()
    project(store, log, f.person(name="SITI", deceased=False))
    project(
        store, log, f.person(position="p2", at=5, deceased=True, death_date=dt.date(2026, 7, 3))
    )
    c = citizen(store)
    assert c.deceased and c.death_date == dt.date(2026, 7, 3)
    assert c.provenance["deceased"]["position"] == "p2"
    # A later partial fact (deceased null = not stated) does not bring the person back...
    project(store, log, f.person(position="p3", at=9, occupation="-"))
    assert citizen(store).deceased
    # ...a correction that states it does.
    project(store, log, f.person(position="p4", at=10, deceased=False))
    c = citizen(store)
    assert (c.deceased, c.death_date) == (False, None)


def test_registry_living_resident_outranks_another_agencys_death(store):
    log = f.Log()
    project(
        store,
        log,
        f.person(name="SITI", deceased=False),
        f.person(agency="bpjs", table="peserta_jkn", record_id="9", position="j9", deceased=True),
    )
    assert not citizen(store).deceased
    # The registry deletes the resident (SIAK removes the dead): the other record speaks.
    project(store, log, f.person(position="p2", at=5, op="DELETE"))
    assert citizen(store).deceased


def test_deleted_source_record_leaves_the_golden_record(store):
    log = f.Log()
    project(
        store,
        log,
        f.person(name="SITI"),
        f.person(agency="dpmptsp", table="tmpemohon", record_id="3", position="e3", name="S"),
    )
    project(store, log, f.person(position="p2", at=5, op="DELETE"))
    c = citizen(store)
    assert c.name == "S" and c.source_count == 1
    project(
        store,
        log,
        f.person(
            agency="dpmptsp", table="tmpemohon", record_id="3", position="e4", at=6, op="DELETE"
        ),
    )
    assert citizen(store) is None
    assert all(r.deleted for r in records(store))


def test_record_created_again_after_delete_starts_fresh(store):
    log = f.Log()
    project(store, log, f.person(name="SITI", religion="Islam"))
    project(store, log, f.person(position="p2", at=5, op="DELETE"))
    project(store, log, f.person(position="p3", at=6, name="SITI A"))
    c = citizen(store)
    assert (c.name, c.religion) == ("SITI A", None)


def test_record_moving_to_another_person(store):
    log = f.Log()
    # First its own person (a malformed NIK matched no one), then corrected: the resolver
    # unlinks it and links it to the person its valid NIK belongs to.
    project(store, log, f.person("74130145079", name="SITI", nik_status="MALFORMED"), person=f.P_B)
    assert citizen(store, f.P_B).nik_status == "MALFORMED"
    fixed = f.person(position="p2", at=5, name="SITI")
    key = fixed["record_key"]
    with store.sessions() as s:
        apply_batch(
            s,
            [
                log.person(fixed),
                log.identity(f.decision("UNLINK", f.P_B, key, reason="updated")),
                log.identity(f.decision("LINK", f.P_A, key, reason="nik")),
            ],
            today=TODAY,
        )
    assert citizen(store, f.P_B) is None
    c = citizen(store)
    assert (c.name, c.nik, c.nik_status) == ("SITI", f.NIK_A, "VALID")
    (r,) = records(store)
    assert r.person_id == f.P_A


def test_valid_nik_beats_malformed_one_of_the_same_rank(store):
    log = f.Log()
    project(
        store,
        log,
        f.person(
            agency="bapenda",
            table="wajib_pajak",
            record_id="1",
            position="b1",
            at=50,
            nik="7413X",
            nik_status="MALFORMED",
        ),
        f.person(agency="bpjs", table="peserta_jkn", record_id="1", position="j1", at=10),
    )
    c = citizen(store)
    assert (c.nik, c.nik_status) == (f.NIK_A, "VALID")
    assert c.provenance["nik"]["agency"] == "bpjs"
