"""Four agencies end to end, each mapped by its file only: the civil registry (SIAK, SQLite,
polling), the permits office (SiCantik, SQLite, polling), public works building permits
(SIMBG-like, PostgreSQL, log-based capture) and health insurance membership (a BPJS-like CSV
export, file drop, no primary key) -> Kafka -> `mpphub worker` -> PostgreSQL.

The expected read models are computed here straight from the source tables (working days with
domain.workdays, SLA from the service standard for SIMBG), never through the projection code.
One resident appears in all four: as registered, as a permit applicant with a title and another
case, as a building owner in old spelling with one NIK digit mistyped, and as an insurance member
with another name form and no NIK; all four records must make one person. `mpphub agency check`
on the SIMBG and BPJS sources shows exactly the canonical events the worker then wrote.

Its own stack (see tests/test_pipeline.py: the canonical topics have fixed names).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.config import parse_config
from domain.services import service
from domain.tokens import load_secret
from domain.workdays import sla_state, working_days_between
from ops.agency.check import check_mapping
from ops.demo import SIAK_TABLES, SICANTIK_TABLES
from ops.processes import ChildProcess
from ops.samples import bpjs, create_siak, create_sicantik, simbg
from ops.samples import sicantik as sicantik_db
from ops.samples.variants import nik_typo, old_spelling, prefix_variant, with_title
from ops.stack import Stack
from projections.models import Citizen, CitizenSourceRecord, Permit, PermitTimeline, Service
from projections.store import make_engine
from schemas import catalog
from streams.mappings import AGENCIES
from streams.resolution import NOTHING_TO_COMPARE_RULE
from tests.compliance_sources import assert_report_matches, simbg_permits, source_permits
from tests.conftest import test_stack_config
from tests.connectors.harness import SubprocessConnector, read_topic
from tests.test_pipeline import (
    POLLING,
    REPO,
    assert_same,
    expected_citizens,
    expected_permits,
    expected_services,
    expected_timeline,
    wita_today,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

PEOPLE, PERMITS, BUILDINGS, SEED = 40, 10, 10, 23
PUPR_STATUS = AGENCIES["pupr"].decl.code_tables["STATUS"]
PUPR_OUTCOME = AGENCIES["pupr"].decl.code_tables["STATUS_AKHIR"]
FINAL = {"ISSUED", "REJECTED", "CANCELLED"}


@dataclasses.dataclass
class Four:
    engine: sa.Engine  # the projection
    siak: sa.Engine
    sicantik: sa.Engine
    simbg: sa.Engine
    people: dict[str, Any]
    members: dict[str, str]  # NOKA -> the NIK of whom the member is
    owners: dict[int, str]  # pemilik_bangunan.id -> the NIK of whom the owner is
    everywhere: str  # the NIK of the person in all four
    refs_of_everywhere: set[str]
    check_events: list[dict[str, Any]]  # what `agency check` showed for pupr and bpjs
    canonical: list[dict[str, Any]]  # what the worker wrote for pupr and bpjs
    stack: Stack | None = None
    app_id: str = ""


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory, postgres_server) -> Iterator[Four]:
    tmp: Path = tmp_path_factory.mktemp("four")
    tag = uuid.uuid4().hex[:8]
    stack = Stack(test_stack_config(tmp / "stack", base=900), log=print)
    pg_names = [f"t_four_live_{tag}", f"t_four_simbg_{tag}"]
    live_url = postgres_server.create_database(pg_names[0])
    simbg_url = postgres_server.create_database(pg_names[1])
    try:
        stack.up(timeout=180)
        yield _run(stack, tmp, tag, live_url, simbg_url)
    finally:
        stack.down(purge=True)
        for name in pg_names:
            postgres_server.drop_database(name)


def _run(stack: Stack, tmp: Path, tag: str, live_url: str, simbg_url: str) -> Four:
    rng = random.Random(SEED)
    siak = sa.create_engine(f"sqlite:///{tmp / 'siak.db'}")
    sicantik = sa.create_engine(f"sqlite:///{tmp / 'sicantik.db'}")
    simbg_engine = sa.create_engine(simbg_url)
    population = create_siak(siak, n_people=PEOPLE, seed=SEED)
    create_sicantik(sicantik, population, PERMITS, seed=SEED, outsider_rate=0.0, bad_nik_rate=0)
    simbg.create_simbg(simbg_engine, population, BUILDINGS, seed=SEED, bad_nik_rate=0.0)
    people = {p.nik: p for p in population.people}
    with simbg_engine.connect() as c:
        owners = {r.id: r.nik for r in c.execute(sa.select(simbg.pemilik_bangunan))}
    # Members: a third of the residents, a tenth without NIK (BPJS's own export errors).
    chosen = [p for p in population.people if rng.random() < 0.35]
    rows = [bpjs.member_row(p, i, rng, 0.1, 0.0) for i, p in enumerate(chosen, 1)]
    members = {r["NOKA"]: p.nik for r, p in zip(rows, chosen, strict=True)}
    # The person in all four, in four spellings; a NIK typo at the building counter.
    p = next(a for a in population.adults(30) if a.nik not in members.values())
    refs = {f"disdukcapil:biodata_wni:{p.nik}"}
    refs.add(f"dpmptsp:tmpemohon:{_applicant(sicantik, p, rng)}")
    owner_id = _owner(simbg_engine, p, rng)
    owners[owner_id] = p.nik
    refs.add(f"pupr:pemilik_bangunan:{owner_id}")
    row = bpjs.member_row(p, len(rows) + 1, rng, 1.0, 0.0)  # no NIK at all
    row["NAMA"] = prefix_variant(p.name, p.sex, rng) or p.name.title()
    rows.append(row)
    members[row["NOKA"]] = p.nik
    refs.add(f"bpjs:peserta_jkn:{row['NOKA']}")
    drop = tmp / "bpjs-drop"
    bpjs.write_export(drop, rows, dt.datetime.now())

    secret = tmp / "secret"
    load_secret(secret, create=True)
    common = {"kafka": {"bootstrap": stack.bootstrap}, "registry": {"url": stack.registry_url}}
    configs = [
        {"agency": "disdukcapil", "name": "siak", "tables": SIAK_TABLES,
         "source": {"mode": "polling", "url": str(siak.url), **POLLING}},
        {"agency": "dpmptsp", "name": "sicantik", "tables": SICANTIK_TABLES,
         "source": {"mode": "polling", "url": str(sicantik.url), **POLLING}},
        {"agency": "pupr", "name": "simbg", "tables": [{"name": str(t.name)} for t in simbg.TABLES],
         "source": {"mode": "postgres", "url": simbg_url}},
        {"agency": "bpjs", "name": "bpjs", "tables": [{"name": bpjs.TABLE, "key": bpjs.KEY}],
         "source": {"mode": "file", "directory": str(drop), "poll_interval_s": 0.2}},
    ]  # fmt: skip
    connectors = [SubprocessConnector({**cfg, **common}, tmp) for cfg in configs]
    env = {
        "MPPHUB_APP_ID": f"t-four-{tag}",
        "MPPHUB_KAFKA_BOOTSTRAP": stack.bootstrap,
        "MPPHUB_REGISTRY_URL": stack.registry_url,
        "MPPHUB_PROJECTION_DB_URL": live_url,
        "MPPHUB_WORKER_DATA_DIR": str(tmp / "worker"),
        "MPPHUB_SECRET_FILE": str(secret),
    }
    worker = ChildProcess(
        "worker", [sys.executable, "-m", "ops.cli", "worker"], tmp / "worker.log", env, cwd=REPO
    )
    engine = make_engine(live_url)
    four = Four(engine, siak, sicantik, simbg_engine, people, members, owners, p.nik, refs, [], [])
    four.stack, four.app_id = stack, env["MPPHUB_APP_ID"]
    try:
        for c in connectors:
            c.start()
        worker.start()
        wait_until(lambda: worker.alive() and _matches(four), 300, "the four agencies projected")
        # What `agency check` shows for the two file-only agencies, and what the worker wrote.
        for cfg in configs[2:]:
            config = parse_config({**cfg, **common})
            report = check_mapping(AGENCIES[cfg["agency"]].file, config, limit=10_000)
            assert report.ok, report.problems
            four.check_events += [_comparable(e.record()) for evs in report.events.values()
                                  for e in evs]  # fmt: skip
        for topic in (catalog.PERSON_TOPIC, catalog.PERMIT_TOPIC, catalog.SERVICE_TOPIC,
                      catalog.DQ_FINDINGS_TOPIC):  # fmt: skip
            four.canonical += [
                _comparable(e.value) for e in read_topic(stack, topic, keys=False).events
                if e.value is not None and e.value.get("agency") in ("pupr", "bpjs")
                # the identity stage's own finding: not the mapping's
                and e.value.get("rule_code") != NOTHING_TO_COMPARE_RULE
            ]  # fmt: skip
    except BaseException:
        print("--- worker log ---\n" + worker.tail(80))
        for c in connectors:
            print(f"--- {c.path.name} ---\n" + c.output()[-2000:])
        raise
    finally:
        worker.stop(timeout=30)
        for c in connectors:
            c.stop()
    return four


def _applicant(sicantik: sa.Engine, p: Any, rng: random.Random) -> int:
    """The person applies for a permit at the DPMPTSP counter, with a title, in title case."""
    t, apps = sicantik_db.tmpemohon, sicantik_db.tmpermohonan
    row = sicantik_db.applicant_row(p, rng, "REKLAME", 0.0)
    row["n_pemohon"] = with_title(p.name, p.sex, rng).title()
    now = dt.datetime.now().replace(microsecond=0)
    with sicantik.begin() as c:
        pid = int(c.execute(t.insert(), row | {"updated_at": now}).inserted_primary_key[0])
        c.execute(apps.insert(), {
            "pemohon_id": pid, "perizinan_id": 5, "no_pendaftaran": "REG-4-AGENCIES",
            "d_terima_berkas": now.date(), "c_izin_selesai": 0, "updated_at": now,
        })  # fmt: skip
    return pid


def _owner(simbg_engine: sa.Engine, p: Any, rng: random.Random) -> int:
    """The person registers a building at PUPR: old spelling, one NIK digit mistyped, and a PBG
    application received today."""
    t = simbg.pemilik_bangunan
    now = dt.datetime.now().replace(microsecond=0)
    typo = nik_typo(p.nik[:12], rng) + p.nik[12:]  # a digit of region or birth date, not serial
    with simbg_engine.begin() as c:
        oid = int(c.execute(t.insert(), {
            "nik": typo, "nama_pemilik": old_spelling(p.name, rng) or p.name.title(),
            "tanggal_lahir": p.birth_date, "alamat_pemilik": p.address, "no_hp": None,
            "updated_at": now,
        }).inserted_primary_key[0])  # fmt: skip
        app = int(c.execute(simbg.permohonan.insert(), {
            "no_registrasi": "PBG-4-AGENCIES", "pemilik_id": oid, "jenis_layanan_id": 1,
            "tgl_pengajuan": now.date(), "status_akhir": "PROSES", "updated_at": now,
        }).inserted_primary_key[0])  # fmt: skip
        c.execute(simbg.riwayat_status.insert(),
                  {"permohonan_id": app, "kode_status": "PENDAFTARAN", "waktu": now})  # fmt: skip
    return oid


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A canonical record without where and when it was read (the check reads rows directly)."""
    drop = {"source_position", "source_ts", "record_key", "ts"}
    out = {k: v for k, v in record.items() if k not in drop}
    if out.get("quality"):  # its checked_at is the change's time, as `ts`
        out["quality"] = {k: v for k, v in out["quality"].items() if k != "checked_at"}
    return out


# --- the sources, read directly ----------------------------------------------------------------


def expected_groups(four: Four) -> dict[str, set[str]]:
    """person label (true NIK) -> the refs of their records, in all four agencies."""
    groups, _ = expected_citizens(four.siak, four.sicantik, four.people)
    out = {k: set(v) for k, v in groups.members.items()}
    for oid, nik in four.owners.items():
        out.setdefault(nik, set()).add(f"pupr:pemilik_bangunan:{oid}")
    for noka, nik in four.members.items():
        out.setdefault(nik, set()).add(f"bpjs:peserta_jkn:{noka}")
    return out


def expected_pupr_permits(four: Four, today: dt.date) -> dict[str, dict[str, Any]]:
    with four.simbg.connect() as c:
        kinds = {r.id: r.kode for r in c.execute(sa.select(simbg.ref_jenis_layanan))}
        logs: dict[int, list] = defaultdict(list)
        for r in c.execute(sa.select(simbg.riwayat_status)):
            logs[r.permohonan_id].append(r)
        apps = list(c.execute(sa.select(simbg.permohonan)).mappings())
    out = {}
    for a in apps:
        log = sorted(logs[a["id"]], key=lambda r: (r.waktu, r.id))
        outcome = PUPR_OUTCOME[a["status_akhir"]]
        final = outcome in FINAL
        status = outcome if final else PUPR_STATUS[log[-1].kode_status]
        complete = a["tgl_dokumen_lengkap"]
        finished = a["tgl_selesai"] if final else None
        end = finished or today
        stops, stopped = [], None
        for r in log:
            if PUPR_STATUS[r.kode_status] == "CLOCK_STOPPED" and stopped is None:
                stopped = r.waktu.date()
            elif PUPR_STATUS[r.kode_status] == "CLOCK_RESUMED" and stopped is not None:
                stops.append((stopped, r.waktu.date()))
                stopped = None
        if stopped is not None:
            stops.append((stopped, max(stopped, end)))
        sla = service(kinds[a["jenis_layanan_id"]]).sla_days
        used = state = None
        if complete is not None and end >= complete:
            used = working_days_between(complete, end, stops)
            state = sla_state(complete, end, sla, final, stops).value
        out[f"pupr:{a['id']}"] = {
            "status": status, "outcome": outcome, "file_complete_date": complete,
            "finished_date": finished, "working_days_used": used, "sla_state": state,
            "sla_days": sla, "applicant": four.owners[a["pemilik_id"]],
        }  # fmt: skip
    return out


def _matches(four: Four) -> bool:
    today = wita_today()
    e = four.engine
    try:
        with e.connect() as c:
            refs = defaultdict(set)
            for person, ref in c.execute(sa.select(CitizenSourceRecord.person_id,
                                                   CitizenSourceRecord.ref)):  # fmt: skip
                refs[person].add(ref)
            citizens = {r.person_id: r for r in c.execute(sa.select(Citizen))}
            permits = list(c.execute(sa.select(Permit)).mappings())
            timeline = {(r.permit_id, r.status_seq): (r.status, r.status_time)
                        for r in c.execute(sa.select(PermitTimeline))}  # fmt: skip
            services = {r.service_ref: r for r in c.execute(sa.select(Service))}
    except sa.exc.DBAPIError:
        return False  # the worker has not made its tables yet
    want = expected_groups(four)
    label_of = {ref: label for label, rs in want.items() for ref in rs}
    got = {"+".join(sorted({label_of.get(r, "?" + r) for r in rs})): rs for rs in refs.values()}
    assert_same("records per person", got, want)
    labels = {p: label_of[next(iter(rs))] for p, rs in refs.items()}
    _, citizen_fields = expected_citizens(four.siak, four.sicantik, four.people)
    assert_same("citizens", {labels[p]: (r.name, r.sex, r.birth_date, r.kecamatan_code,
                                         r.deceased) for p, r in citizens.items()},
                citizen_fields)  # fmt: skip
    want_services = expected_services(four.sicantik)
    with four.simbg.connect() as c:
        for r in c.execute(sa.select(simbg.ref_jenis_layanan)):
            want_services[f"pupr:{r.id}"] = (r.kode, service(r.kode).sla_days)
    assert_same("services", {k: (r.code, r.sla_days) for k, r in services.items()}, want_services)
    assert all(services[k].unit == service(r[0]).unit for k, r in want_services.items()
               if k.startswith("pupr:"))  # fmt: skip
    want_timeline = expected_timeline(four.sicantik)
    with four.simbg.connect() as c:
        for r in c.execute(sa.select(simbg.riwayat_status)):
            want_timeline[(f"pupr:{r.permohonan_id}", r.id)] = (PUPR_STATUS[r.kode_status],
                                                                r.waktu)  # fmt: skip
    assert_same("timeline", timeline, want_timeline)
    fields = ("status", "outcome", "file_complete_date", "finished_date", "working_days_used",
              "sla_state", "sla_days")  # fmt: skip
    got_permits = {
        r["permit_id"]: {**{k: r[k] for k in fields},
                         "applicant": labels.get(r["applicant_person_id"])}
        for r in permits
    }  # fmt: skip
    want_permits = expected_permits(four.sicantik, today, four.people)
    want_permits |= expected_pupr_permits(four, today)
    assert_same("permits", got_permits, want_permits)
    return True


# --- what must hold ------------------------------------------------------------------------------


def test_projections_equal_a_direct_computation_from_the_four_sources(four: Four) -> None:
    assert _matches(four)


def test_one_person_in_all_four_agencies_despite_spelling_and_a_nik_typo(four: Four) -> None:
    with four.engine.connect() as c:
        persons = {
            c.scalar(sa.select(CitizenSourceRecord.person_id).where(CitizenSourceRecord.ref == r))
            for r in four.refs_of_everywhere
        }
    assert len(persons) == 1 and None not in persons
    assert {r.split(":")[0] for r in four.refs_of_everywhere} == {
        "disdukcapil", "dpmptsp", "pupr", "bpjs"}  # fmt: skip


def test_agency_check_shows_the_events_the_worker_wrote(four: Four) -> None:
    def key(record: dict[str, Any]) -> str:
        # Field order differs (Avro's vs the dataclass's), nested records' too (quality).
        return json.dumps(record, sort_keys=True, default=str)

    checked, written = Counter(map(key, four.check_events)), Counter(map(key, four.canonical))
    only_checked, only_written = checked - written, written - checked
    assert checked == written, (list(only_checked)[:2], list(only_written)[:2])
    assert any(e.get("agency") == "bpjs" for e in four.check_events)
    assert any(e.get("kind") == "STATUS" for e in four.check_events)


def test_agency_status_counts_what_each_table_caused(four: Four) -> None:
    from eventlog import KafkaSettings
    from ops.agency.status import agency_status
    from schemas.registry import RegistryAuth

    assert four.stack is not None
    kafka = KafkaSettings(bootstrap=four.stack.bootstrap)
    (row,) = agency_status(kafka, four.stack.registry_url, RegistryAuth(), "bpjs",
                           ["peserta_jkn"], four.app_id)  # fmt: skip
    assert (row.table, row.topic) == ("peserta_jkn", "mpp.bpjs.peserta_jkn")
    assert row.captured == len(four.members)  # one change per member of the first export
    assert row.lag == 0  # the worker took them all
    assert row.last_change is not None
    assert row.last_change <= dt.datetime.now(dt.UTC)
    findings = [e for e in four.check_events if e.get("agency") == "bpjs" and "rule_code" in e]
    assert row.findings == len(findings) > 0  # a member without NIK at least
    assert row.dead_letters == 0


def test_compliance_report_equals_a_direct_computation_from_both_permit_systems(
    four: Four,
) -> None:
    # SiCantik's units and SLAs are its own columns; SIMBG's come from the MPP's standard.
    assert _matches(four)
    today = wita_today()
    permits = source_permits(four.sicantik, today) + simbg_permits(four.simbg, today)
    first = min(p["received"] for p in permits)
    whole = assert_report_matches(four.engine, permits, first, today, today)
    assert any(unit == "Dinas Pekerjaan Umum dan Penataan Ruang" for unit, _ in whole["lines"])
    assert whole["total"]["decided"] > 5
    middle = first + (today - first) / 2
    assert_report_matches(four.engine, permits, first, middle, today)
    assert_report_matches(four.engine, permits, middle, today, today)
