"""The two agencies added as files only: public works building permits (SIMBG-like) and health
insurance membership (a BPJS-like CSV export without primary key). Every sample row maps; their
statuses fall on the hub's lifecycle, their SLA and unit come from the service standards."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.config import load_config
from domain.permits import derive_permit
from domain.services import SERVICES, service
from ops.agency.check import CheckReport, check_mapping
from ops.samples import bpjs, simbg
from ops.samples.people import generate_population
from streams.canonical import PermitEvent, PersonFact, ServiceEvent
from streams.mappings import AGENCIES

TODAY = dt.date(2025, 8, 18)


@pytest.fixture(scope="module")
def population():
    return generate_population(150, seed=5, today=TODAY)


@pytest.fixture(scope="module")
def pupr(population, tmp_path_factory: pytest.TempPathFactory) -> CheckReport:
    d = tmp_path_factory.mktemp("simbg")
    simbg.create_simbg(sa.create_engine(f"sqlite:///{d / 'simbg.db'}"), population, 80, seed=5)
    tables = "".join(f"  - {{name: {t.name}}}\n" for t in simbg.TABLES)
    cfg = d / "simbg.yaml"
    cfg.write_text(f"agency: pupr\nsource: {{mode: polling, url: 'sqlite:///{d}/simbg.db'}}\n"
                   f"tables:\n{tables}")  # fmt: skip
    return check_mapping(AGENCIES["pupr"].file, load_config(cfg), limit=10_000)


@pytest.fixture(scope="module")
def members(population) -> list[dict]:
    return bpjs.member_rows(population, seed=5, missing_rate=0.25, wrong_rate=0.1)


@pytest.fixture(scope="module")
def insurance(members, tmp_path_factory: pytest.TempPathFactory) -> CheckReport:
    d = tmp_path_factory.mktemp("bpjs")
    bpjs.write_export(d / "drop", members, dt.datetime(2025, 8, 18, 6))
    cfg = d / "bpjs.yaml"
    cfg.write_text(f"agency: bpjs\nsource: {{mode: file, directory: '{d / 'drop'}'}}\n"
                   "tables:\n  - {name: peserta_jkn, key: [NOKA]}\n")  # fmt: skip
    return check_mapping(AGENCIES["bpjs"].file, load_config(cfg), limit=10_000)


def test_every_building_permit_row_maps(pupr: CheckReport) -> None:
    assert pupr.ok, pupr.problems
    assert pupr.rows["permohonan"] == 80
    kinds = Counter(type(e).__name__ for evs in pupr.events.values() for e in evs)
    assert kinds["PermitEvent"] == pupr.rows["permohonan"] + pupr.rows["riwayat_status"]
    assert kinds["ServiceEvent"] == 2
    facts = [e for e in pupr.events["pemilik_bangunan"] if isinstance(e, PersonFact)]
    assert len(facts) == pupr.rows["pemilik_bangunan"]
    # Some owners' NIKs were mistyped: kept, with a finding each.
    assert any(f.nik_status != "VALID" for f in facts)
    assert {f.rule_code for f in pupr.findings()} <= {"NIK_MALFORMED", "NIK_UNKNOWN_REGION",
        "NIK_DATE_MISMATCH", "NIK_SEX_MISMATCH", "NIK_BAD_DATE", "NIK_MISSING"}  # fmt: skip


def test_building_permit_services_take_sla_and_unit_from_the_standard(pupr: CheckReport) -> None:
    services = {e.code: e for e in pupr.events["ref_jenis_layanan"] if isinstance(e, ServiceEvent)}
    assert set(services) == {"PBG", "SLF"}
    for code, event in services.items():
        assert (event.sla_days, event.unit) == (service(code).sla_days, service(code).unit)
        assert event.service_ref.startswith("pupr:")


def test_simbg_statuses_fall_on_the_lifecycle(pupr: CheckReport) -> None:
    status = [e for e in pupr.events["riwayat_status"] if isinstance(e, PermitEvent)]
    assert {e.status for e in status} >= {"RECEIVED", "FILE_COMPLETE", "VERIFIED", "ISSUED"}
    apps = {e.permit_id: e for e in pupr.events["permohonan"]}
    assert {e.permit_id for e in status} <= set(apps)
    assert all(
        a.outcome in ("IN_PROCESS", "ISSUED", "REJECTED", "CANCELLED") for a in apps.values()
    )
    assert all(a.applicant_ref.startswith("pupr:pemilik_bangunan:") for a in apps.values())


def test_a_building_permit_is_measured_as_any_permit(pupr: CheckReport) -> None:
    """The SIMBG rows and the lifecycle the hub derives agree: an issued permit's outcome, its
    finish day, and its file-complete day (where the SLA clock starts)."""
    logs: dict[str, list[dict]] = {}
    for e in pupr.events["riwayat_status"]:
        logs.setdefault(e.permit_id, []).append(e.record())
    derived = 0
    for app in pupr.events["permohonan"]:
        entries = logs.get(app.permit_id, [])
        view = derive_permit(app.record(), entries, 28, TODAY)
        assert view.outcome == app.outcome
        if app.outcome == "ISSUED":
            assert view.finished_date == app.finished_date
            assert view.file_complete_date == app.file_complete_date
            assert view.working_days_used is not None and view.sla_state is not None
            derived += 1
    assert derived > 0


def test_every_member_of_the_export_maps(insurance: CheckReport, members: list[dict]) -> None:
    assert insurance.ok, insurance.problems
    facts = [e for e in insurance.events["peserta_jkn"] if isinstance(e, PersonFact)]
    assert len(facts) == len(members)
    by_card = {f.source_record_id: f for f in facts}
    for row in members:
        fact = by_card[row["NOKA"]]
        assert fact.birth_date == dt.datetime.strptime(row["TGL_LAHIR"], "%d-%m-%Y").date()
        assert fact.sex == row["JK"] and fact.name == row["NAMA"]
        assert fact.deceased is None  # AKTIF/NONAKTIF say nothing of life or death
        assert (fact.nik or "") == row["NIK"]
        if not row["NIK"]:
            assert fact.nik_status == "MISSING"
    rules = Counter(f.rule_code for f in insurance.findings())
    assert rules["NIK_MISSING"] == sum(1 for r in members if not r["NIK"])
    assert len(insurance.findings()) > rules["NIK_MISSING"]  # wrong NIKs too


def test_services_all_have_a_unit() -> None:
    assert all(s.unit for s in SERVICES)


def test_the_agency_directory_holds_the_four_agencies() -> None:
    assert {"disdukcapil", "dpmptsp", "pupr", "bpjs"} == set(AGENCIES)
    assert all(Path(a.file).suffix == ".yaml" for a in AGENCIES.values())
