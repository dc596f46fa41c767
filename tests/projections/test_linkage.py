"""What the citizen page says about a person's agency records: disagreements per field (blanks
and case aside, masked for the role, a NIK differing in its serial included) and each record's
match confidence under the resolver's model."""

from __future__ import annotations

from projections.access import ROLES, Caller
from projections.linkage import confidences, disagreements
from projections.models import CitizenSourceRecord

OFFICER = Caller("petugas1", ROLES["officer"], "service_delivery")
SUPERVISOR = Caller("kabid", ROLES["supervisor"], "service_delivery")
NIK = "7413014507900001"


def record(agency: str, table: str, rid: str, deleted: bool = False, **data) -> CitizenSourceRecord:
    return CitizenSourceRecord(
        agency=agency,
        source_table=table,
        source_record_id=rid,
        ref=f"{agency}:{table}:{rid}",
        data=data,
        deleted=deleted,
    )


SIAK = record("disdukcapil", "BIODATA_WNI", "1", nik=NIK, name="WA ODE SITI", sex="P",
              birth_date="1990-07-05", address="LAWORO")  # fmt: skip
PERMITS = record("dpmptsp", "tmpemohon", "9", nik=NIK[:-1] + "2", name="wa ode  siti",
                 birth_date="1990-07-05", address=None, occupation="Dokter")  # fmt: skip


def test_a_field_with_two_values_is_a_disagreement_with_its_sources_masked_by_role():
    found = disagreements([SIAK, PERMITS], OFFICER)
    assert [d["field"] for d in found] == ["nik"]  # name differs in case and spaces only
    (siak, permits) = found[0]["values"]
    assert siak == {
        "value": "741301**********",
        "sources": [{"agency": "disdukcapil", "table": "BIODATA_WNI"}],
    }
    assert permits["sources"] == [{"agency": "dpmptsp", "table": "tmpemohon"}]
    assert NIK in repr(disagreements([SIAK, PERMITS], SUPERVISOR))


def test_a_deleted_record_states_nothing():
    gone = record("dinkes", "pasien", "3", deleted=True, nik=NIK, address="KENDARI")
    assert disagreements([SIAK, gone], OFFICER) == []
    assert confidences([SIAK, gone]) == {SIAK.ref: None}


def test_confidence_is_the_best_match_against_the_persons_other_records():
    stranger = record("dpmptsp", "tmpemohon", "10", nik="7413021203850002", name="LA ODE BAKRI",
                      sex="L", birth_date="1985-03-12")  # fmt: skip
    scores = confidences([SIAK, PERMITS, stranger])
    assert scores[SIAK.ref] > 0.9 and scores[PERMITS.ref] > 0.9
    assert scores[stranger.ref] < 0.5
    assert confidences([SIAK]) == {SIAK.ref: None}


def test_an_agency_administrator_sees_no_disagreement_with_another_agencys_records():
    from projections.api import scope

    view = {
        "sources": [{"agency": "dpmptsp"}],
        "permits": [],
        "provenance": {},
        "disagreements": disagreements([SIAK, PERMITS], OFFICER),
    }
    admin = Caller("admin", ROLES["agency_admin"], "data_quality", agency="dpmptsp")
    assert scope.citizen(admin, view, "no")["disagreements"] == []
    third = record("dpmptsp", "tmpemohon", "12", nik="7413014507900009")
    view["disagreements"] = disagreements([SIAK, PERMITS, third], OFFICER)
    (own,) = scope.citizen(admin, view, "no")["disagreements"]
    assert [s["agency"] for v in own["values"] for s in v["sources"]] == ["dpmptsp", "dpmptsp"]
