"""The whole hub, end to end: the sample civil registry (SIAK) and permits office (SiCantik) in
SQLite -> polling connectors (subprocesses) -> Kafka -> `mpphub worker` (normalize, identity
resolution, projections; a subprocess) -> PostgreSQL; then `mpphub rebuild` into a second database.

After the snapshot, scripted changes (births, corrections, a move, a death registration, permits
driven through every state, one rejected, an applicant whose NIK lost a digit, a back-dated permit
whose working days span Independence Day) and poison messages on a raw topic. The expected read
models are computed here, straight from the source tables' final state (working days with
domain.workdays; persons as the records sharing a NIK, an applicant's mistyped NIK read as the
person's it was typed from), never through the projection code. Person ids are the resolver's:
the test maps each projected person to the expected one by its records.

The module runs its own stack: the canonical topics (mpp.canonical.*) have fixed names, and
other integration tests of the session write to them (tests/streams/test_worker.py produces
e.g. permit dpmptsp:7 and service dpmptsp:2), which would leak into this projection.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import holidays
import pytest
import sqlalchemy as sa
from kafka import KafkaProducer
from sqlalchemy.orm import Session

from domain.compliance import load_zones
from domain.compliance_report import Period
from domain.nik import Sex
from domain.tokens import load_secret
from domain.workdays import sla_state, working_days_between
from eventlog.topics import IDENTITY_TOPIC
from ops.demo import SIAK_TABLES, SICANTIK_TABLES
from ops.processes import ChildProcess
from ops.samples import Simulator, create_siak, create_sicantik
from ops.samples import siak as siak_db
from ops.samples import sicantik as sicantik_db
from ops.samples.people import Person
from ops.stack import Stack
from projections.compliance import FIGURES, read_report, report_json
from projections.models import (
    Checkpoint,
    Citizen,
    CitizenSourceRecord,
    Permit,
    PermitTimeline,
    Service,
)
from projections.store import make_engine
from schemas import catalog
from schemas.codec import header
from streams.mappings import AGENCIES
from tests.compliance_sources import expected_report, source_permits
from tests.conftest import test_stack_config
from tests.connectors.harness import SubprocessConnector, read_topic
from tests.faults import kill_9_after_first_commit
from tests.projections.harness import COMPARED, snapshot
from tests.scale import record_ends
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
PEOPLE, PERMITS, SEED = 60, 25, 11
WITA = dt.timezone(dt.timedelta(hours=8))
# The safety delay is above one second on purpose: the sample applications stamp whole seconds,
# and with a shorter delay a row changed twice within one second loses its second change (the
# cursor has passed that second and the key-set diff sees the same timestamp).
POLLING = {"poll_interval_s": 0.2, "safety_delay_s": 0.5, "diff_interval_s": 1.0}
BIODATA_TOPIC = "mpp.disdukcapil.biodata_wni"
FINAL = {"ISSUED", "REJECTED", "CANCELLED"}
# The permits office's codes, as its mapping file declares them.
OUTCOME = AGENCIES["dpmptsp"].decl.code_tables["OUTCOME"]
STATUS_CODES = AGENCIES["dpmptsp"].decl.code_tables["STATUS"]
# SiCantik status codes (trstspermohonan_log.c_status)
RECEIVED, FILE_COMPLETE, VERIFIED, STOPPED, RESUMED, APPROVED, ISSUED, REJECTED = (
    1, 3, 4, 5, 6, 7, 8, 9,
)  # fmt: skip


# --- the sources, read directly -------------------------------------------------------------


def wita_today() -> dt.date:
    return dt.datetime.now(WITA).date()


def _sex(code: int) -> Sex:
    return Sex.L if code == Sex.L.siak_code else Sex.P


def true_nik(typed: str | None, birth: dt.date | None, people: dict[str, Person]) -> str | None:
    """Whose NIK an applicant typed: the NIK itself when it is someone's, else the person born
    that day whose NIK it is with one digit left out or the day off (ops/samples' typing
    errors); None for no one."""
    nik = (typed or "").strip()
    if nik in people:
        return nik
    for real, p in people.items():
        if p.birth_date != birth:
            continue
        dropped = len(nik) == 15 and any(real[:i] + real[i + 1 :] == nik for i in range(16))
        day_off = len(nik) == 16 and nik[:6] == real[:6] and nik[8:] == real[8:]
        if dropped or day_off:
            return real
    return None


@dataclass
class Groups:
    """The persons the sources make: label (the person's NIK, or the record's ref for a record
    of no one) -> the refs of their live source records, and which label each ref has."""

    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    label: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, ref: str) -> None:
        self.members[label].add(ref)
        self.label[ref] = label


def applicant_rows(sicantik: sa.Engine) -> dict[int, dict]:
    """tmpemohon.id -> its row."""
    with sicantik.connect() as c:
        return {r["id"]: dict(r) for r in c.execute(sa.select(sicantik_db.tmpemohon)).mappings()}


def applicant_labels(sicantik: sa.Engine, people: dict[str, Person]) -> dict[int, str]:
    """tmpemohon.id -> the label of the person the applicant is (their true NIK)."""
    return {
        i: true_nik(r["no_identitas"], r["tgl_lahir"], people) or f"dpmptsp:tmpemohon:{i}"
        for i, r in applicant_rows(sicantik).items()
    }


def expected_citizens(
    siak: sa.Engine, sicantik: sa.Engine, people: dict[str, Person]
) -> tuple[Groups, dict[str, tuple]]:
    """The persons (records sharing a NIK, an applicant's typed NIK read as whose it is) and
    person label -> (name, sex, birth date, kecamatan, deceased) from the sources' rows: the
    civil registry's biodata wins; without it, a death registration states who died; the newest
    move states the district, the newest applicant record the name and birth date."""
    groups = Groups()
    bio: dict[str, dict] = {}
    deaths: dict[str, dict] = {}
    moves: dict[str, list[dict]] = defaultdict(list)
    applicants: dict[str, list[dict]] = defaultdict(list)
    with siak.connect() as c:
        for r in c.execute(sa.select(siak_db.BIODATA_WNI)).mappings():
            nik = r["NIK"].strip()
            bio[nik] = dict(r)
            groups.add(nik, f"disdukcapil:biodata_wni:{nik}")
        for r in c.execute(sa.select(siak_db.PINDAH_DATANG)).mappings():
            moves[r["NIK"].strip()].append(dict(r))
            groups.add(r["NIK"].strip(), f"disdukcapil:pindah_datang:{r['NO_PINDAH']}")
        for r in c.execute(sa.select(siak_db.CAPIL_MATI)).mappings():
            deaths[r["NIK"].strip()] = dict(r)
            groups.add(r["NIK"].strip(), f"disdukcapil:capil_mati:{r['MATI_NO']}")
    labels = applicant_labels(sicantik, people)
    for i, r in applicant_rows(sicantik).items():
        applicants[labels[i]].append(r)
        groups.add(labels[i], f"dpmptsp:tmpemohon:{i}")
    out: dict[str, tuple] = {}
    for key in groups.members:
        kec = None
        if moves[key]:
            m = max(moves[key], key=lambda m: m["TGL_UBAH"])
            kec = f"{m['NO_PROP_TUJUAN']:02d}{m['NO_KAB_TUJUAN']:02d}{m['NO_KEC_TUJUAN']:02d}"
        if key in bio:
            b = bio[key]
            out[key] = (
                b["NAMA_LGKP"].strip(),
                _sex(b["JENIS_KLMIN"]).value,
                b["TGL_LHR"],
                f"7413{b['NO_KEC']:02d}",
                False,
            )
        elif key in deaths:
            d = deaths[key]
            out[key] = (
                d["NAMA_LGKP"].strip(),
                _sex(d["JENIS_KLMIN"]).value,
                d["TGL_LHR"],
                kec,
                True,
            )
        else:
            name = birth = None
            if applicants[key]:
                a = min(applicants[key], key=lambda a: (-a["updated_at"].timestamp(), str(a["id"])))
                name, birth = a["n_pemohon"].strip(), a["tgl_lahir"]
            out[key] = (name, None, birth, kec, False)
    return groups, out


def expected_permits(
    sicantik: sa.Engine, today: dt.date, people: dict[str, Person]
) -> dict[str, dict[str, Any]]:
    """permit id -> what the permit row must say, from tmpermohonan, its log and trperizinan
    (the applicant as the label of their person)."""
    applicants = applicant_labels(sicantik, people)
    with sicantik.connect() as c:
        sla = {r.id: r.durasi for r in c.execute(sa.select(sicantik_db.trperizinan))}
        logs: dict[int, list] = defaultdict(list)
        for r in c.execute(sa.select(sicantik_db.trstspermohonan_log)):
            logs[r.permohonan_id].append(r)
        apps = list(c.execute(sa.select(sicantik_db.tmpermohonan)).mappings())
    out = {}
    for a in apps:
        log = sorted(logs[a["id"]], key=lambda r: (r.d_status, r.id))
        outcome = OUTCOME[a["c_izin_selesai"]]
        final = outcome in FINAL
        if final:
            status = outcome
        elif log:
            status = STATUS_CODES[log[-1].c_status]
        else:
            status = "FILE_COMPLETE" if a["d_berkas_lengkap"] else "RECEIVED"
        complete = a["d_berkas_lengkap"] or next(
            (r.d_status.date() for r in log if r.c_status == FILE_COMPLETE), None
        )
        finished = a["d_selesai_proses"] if final else None
        end = finished or today
        stops, stopped_on = [], None
        for r in log:
            if r.c_status == STOPPED and stopped_on is None:
                stopped_on = r.d_status.date()
            elif r.c_status == RESUMED and stopped_on is not None:
                stops.append((stopped_on, r.d_status.date()))
                stopped_on = None
        if stopped_on is not None:
            stops.append((stopped_on, max(stopped_on, end)))
        used = state = None
        if complete is not None and end >= complete:
            used = working_days_between(complete, end, stops)
            state = sla_state(complete, end, sla[a["perizinan_id"]], final, stops).value
        out[f"dpmptsp:{a['id']}"] = {
            "status": status,
            "outcome": outcome,
            "file_complete_date": complete,
            "finished_date": finished,
            "working_days_used": used,
            "sla_state": state,
            "sla_days": sla[a["perizinan_id"]],
            "applicant": applicants[a["pemohon_id"]],
        }
    return out


def expected_timeline(sicantik: sa.Engine) -> dict[tuple[str, int], tuple]:
    with sicantik.connect() as c:
        return {
            (f"dpmptsp:{r.permohonan_id}", r.id): (STATUS_CODES[r.c_status], r.d_status)
            for r in c.execute(sa.select(sicantik_db.trstspermohonan_log))
        }


def expected_services(sicantik: sa.Engine) -> dict[str, tuple]:
    with sicantik.connect() as c:
        return {
            f"dpmptsp:{r.id}": (r.c_kode, r.durasi)
            for r in c.execute(sa.select(sicantik_db.trperizinan))
        }


# --- the projection, read back --------------------------------------------------------------


def projected_persons(engine: sa.Engine) -> dict[str | None, set[str]]:
    """person id -> the refs of their live source records (None: records no decision placed)."""
    out: dict[str | None, set[str]] = defaultdict(set)
    with engine.connect() as c:
        rows = c.execute(
            sa.select(CitizenSourceRecord.person_id, CitizenSourceRecord.ref).where(
                CitizenSourceRecord.deleted.is_(False)
            )
        )
        for person, ref in rows:
            out[person].add(ref)
    return out


def person_labels(engine: sa.Engine, groups: Groups) -> dict[str, str]:
    """person id -> the label of the expected person its records make up; AssertionError when
    the projected persons are not exactly the expected groups of records."""
    persons = projected_persons(engine)
    assert None not in persons, f"records in no person: {sorted(persons[None])[:5]}"
    got = {
        "+".join(sorted({groups.label.get(r, f"?{r}") for r in refs})): refs
        for refs in persons.values()
    }
    assert_same("records per person", got, dict(groups.members))
    return {p: groups.label[next(iter(refs))] for p, refs in persons.items() if p is not None}


def projected_citizens(engine: sa.Engine, labels: dict[str, str]) -> dict[str, tuple]:
    """person label -> (name, sex, birth date, kecamatan, deceased) of the golden record."""
    with engine.connect() as c:
        return {
            labels.get(r.person_id, f"?{r.person_id}"): (
                r.name,
                r.sex,
                r.birth_date,
                r.kecamatan_code,
                r.deceased,
            )
            for r in c.execute(sa.select(Citizen))
        }


def projected_permits(
    engine: sa.Engine, labels: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """permit id -> its row's fields; with `labels`, the applicant as their person's label."""
    with engine.connect() as c:
        rows = c.execute(sa.select(Permit).where(Permit.deleted.is_(False))).mappings()
        out = {
            r["permit_id"]: {
                k: r[k]
                for k in (
                    "status",
                    "outcome",
                    "file_complete_date",
                    "finished_date",
                    "working_days_used",
                    "sla_state",
                    "sla_days",
                    "applicant_person_id",
                )
            }
            for r in rows
        }
    if labels is not None:
        for p in out.values():
            person = p.pop("applicant_person_id")
            p["applicant"] = labels.get(person, f"?{person}") if person else None
    return out


def projected_timeline(engine: sa.Engine) -> dict[tuple[str, int], tuple]:
    with engine.connect() as c:
        return {
            (r.permit_id, r.status_seq): (r.status, r.status_time)
            for r in c.execute(sa.select(PermitTimeline))
        }


def projected_services(engine: sa.Engine) -> dict[str, tuple]:
    with engine.connect() as c:
        return {r.service_ref: (r.code, r.sla_days) for r in c.execute(sa.select(Service))}


def checkpointed(engine: sa.Engine) -> int:
    """Messages the projection's checkpoints cover (0 before the worker created its tables)."""
    try:
        with engine.connect() as c:
            return int(c.scalar(sa.select(sa.func.sum(Checkpoint.offset + 1))) or 0)
    except sa.exc.DBAPIError:
        return 0


def assert_same(what: str, got: dict, want: dict) -> None:
    """Equal dicts, or an AssertionError naming the first few differing keys compactly."""
    if got == want:
        return
    missing = sorted(set(want) - set(got), key=str)[:5]
    extra = sorted(set(got) - set(want), key=str)[:5]
    differ = [k for k in sorted(set(got) & set(want), key=str) if got[k] != want[k]][:3]
    lines = [f"{what}: {len(got)} projected, {len(want)} expected"]
    if missing:
        lines.append(f"  missing {missing}")
    if extra:
        lines.append(f"  unexpected {extra}")
    lines += [f"  {k}: projected {got[k]} expected {want[k]}" for k in differ]
    raise AssertionError("\n".join(lines))


def assert_matches_sources(
    engine: sa.Engine, siak: sa.Engine, sicantik: sa.Engine, people: dict[str, Person]
) -> bool:
    assert_same("services", projected_services(engine), expected_services(sicantik))
    groups, citizens = expected_citizens(siak, sicantik, people)
    labels = person_labels(engine, groups)
    assert_same("citizens", projected_citizens(engine, labels), citizens)
    assert_same("timeline", projected_timeline(engine), expected_timeline(sicantik))
    assert_same(
        "permits",
        projected_permits(engine, labels),
        expected_permits(sicantik, wita_today(), people),
    )
    return True


def end_offsets(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """topic -> sum over its partitions of the offset after the last committed record, what a
    projection's checkpoints reach (0 for a topic that does not exist yet). The identity log is
    transactional: its end offset counts commit markers (tests/scale.py record_ends)."""
    ends = record_ends(bootstrap, topics)
    return {t: sum(n for (topic, _), n in ends.items() if topic == t) for t in topics}


# --- the scripted changes -------------------------------------------------------------------


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def step(sicantik: sa.Engine, app_id: int, status: int, at: dt.datetime | None = None) -> None:
    """An officer moves application `app_id` to `status`: a log row and the application row
    updated, as SiCantik does (sicantik.advance_application, for one chosen application)."""
    at = at or now()
    t, log = sicantik_db.tmpermohonan, sicantik_db.trstspermohonan_log
    with sicantik.begin() as c:
        row = dict(c.execute(sa.select(t).where(t.c.id == app_id)).mappings().one())
        sicantik_db.apply_status(row, status, at)
        if status == ISSUED:
            code = sicantik_db.PERMIT_TYPES[row["perizinan_id"] - 1].code
            row["no_surat"] = sicantik_db.surat_number(app_id, code, at)
        row["updated_at"] = now()  # a back-dated step is still a change made now
        c.execute(
            t.update()
            .where(t.c.id == app_id)
            .values(
                {
                    k: row[k]
                    for k in (
                        "d_berkas_lengkap",
                        "d_selesai_proses",
                        "no_surat",
                        "c_izin_selesai",
                        "updated_at",
                    )
                }
            )
        )
        c.execute(
            log.insert(),
            {
                "permohonan_id": app_id,
                "c_status": status,
                "n_status": sicantik_db.STATUS[status],
                "d_status": at,
                "keterangan": None,
            },
        )


def new_application(
    sicantik: sa.Engine, pemohon_id: int, perizinan_id: int, received: dt.datetime
) -> int:
    """An application received on `received` (status 1); its id."""
    t = sicantik_db.tmpermohonan
    with sicantik.begin() as c:
        app_id = int(
            c.execute(
                t.insert(),
                {
                    "pemohon_id": pemohon_id,
                    "perizinan_id": perizinan_id,
                    "no_pendaftaran": f"REG-{received:%Y%m%d}-9{pemohon_id:03d}",
                    "d_terima_berkas": received.date(),
                    "c_izin_selesai": 0,
                    "updated_at": now(),
                },
            ).inserted_primary_key[0]
        )
    step(sicantik, app_id, RECEIVED, received)
    return app_id


def malformed_applicant(sicantik: sa.Engine, person: Any) -> int:
    """A front-office clerk drops a digit of the NIK: 15 digits (MALFORMED)."""
    with sicantik.begin() as c:
        return int(
            c.execute(
                sicantik_db.tmpemohon.insert(),
                {
                    "n_pemohon": person.name.title(),
                    "no_identitas": person.nik[:7] + person.nik[8:],
                    "tempat_lahir": person.birth_place.title(),
                    "tgl_lahir": person.birth_date,
                    "alamat": person.address,
                    "telp": "081234567890",
                    "updated_at": now(),
                },
            ).inserted_primary_key[0]
        )


def open_count(sicantik: sa.Engine) -> int:
    t = sicantik_db.tmpermohonan
    with sicantik.connect() as c:
        return c.scalar(sa.select(sa.func.count()).where(t.c.c_izin_selesai == 0))


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    stack: Stack
    siak: sa.Engine
    sicantik: sa.Engine
    engine: sa.Engine  # the live projection (PostgreSQL)
    live_url: str
    rebuild_url: str
    env: dict[str, str]
    at_kill: int  # messages checkpointed when the worker was killed
    after_restart: int  # messages checkpointed when everything was projected
    poison: list[tuple[int, int, str]] = field(default_factory=list)  # partition, offset, kind
    after_poison_nik: str = ""
    people: dict[str, Person] = field(default_factory=dict)  # NIK -> who the samples made
    malformed_applicant_id: int = 0
    malformed_nik: str = ""  # the resident whose NIK the clerk mistyped
    malformed_permit: str = ""
    holiday_permit: str = ""
    rejected_permit: str = ""
    full_path_permit: str = ""
    moved: tuple[tuple[str, ...], str] = ((), "")  # the NIKs that moved, and where to
    dead_nik: str = ""
    died_on: dt.date | None = None


@pytest.fixture(scope="module")
def hub_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this module's own (see the module docstring); ports shifted off the session's
    when MPPHUB_TEST_KAFKA_PORT pins them."""
    s = Stack(test_stack_config(tmp_path_factory.mktemp("pipeline-stack"), base=40), log=print)
    try:
        s.up(timeout=180)
        yield s
    finally:
        s.down(purge=True)


@pytest.fixture(scope="module")
def databases(postgres_server) -> Iterator[tuple[str, str]]:
    """URLs of two fresh PostgreSQL databases: the live projection and the rebuild target."""
    tag = uuid.uuid4().hex[:8]
    names = (f"t_pipeline_live_{tag}", f"t_pipeline_rebuild_{tag}")
    urls = [postgres_server.create_database(names[0])]
    try:
        urls.append(postgres_server.create_database(names[1]))
        yield urls[0], urls[1]
    finally:
        for name in names[: len(urls)]:
            postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def run(hub_stack: Stack, databases: tuple[str, str], tmp_path_factory) -> Iterator[Run]:
    tmp: Path = tmp_path_factory.mktemp("pipeline")
    tag = uuid.uuid4().hex[:8]
    live_url, rebuild_url = databases
    siak = sa.create_engine(f"sqlite:///{tmp / 'siak.db'}")
    sicantik = sa.create_engine(f"sqlite:///{tmp / 'sicantik.db'}")
    population = create_siak(siak, n_people=PEOPLE, seed=SEED)
    create_sicantik(sicantik, population, n_permits=PERMITS, seed=SEED)
    sim = Simulator(siak, sicantik, population, seed=SEED, bad_nik_rate=0.0)
    people = {p.nik: p for p in (*population.people, *population.outsiders)}
    secret = tmp / "secret"
    load_secret(secret, create=True)

    def connector(agency: str, name: str, engine: sa.Engine, tables: list) -> SubprocessConnector:
        config = {
            "agency": agency,
            "name": name,
            "source": {"mode": "polling", "url": str(engine.url), **POLLING},
            "tables": tables,
            "kafka": {"bootstrap": hub_stack.bootstrap},
            "registry": {"url": hub_stack.registry_url},
        }
        return SubprocessConnector(config, tmp)

    connectors = [
        connector("disdukcapil", "siak", siak, SIAK_TABLES),
        connector("dpmptsp", "sicantik", sicantik, SICANTIK_TABLES),
    ]
    env = {
        "MPPHUB_APP_ID": f"t-pipeline-{tag}",
        "MPPHUB_KAFKA_BOOTSTRAP": hub_stack.bootstrap,
        "MPPHUB_REGISTRY_URL": hub_stack.registry_url,
        "MPPHUB_PROJECTION_DB_URL": live_url,
        "MPPHUB_WORKER_DATA_DIR": str(tmp / "worker"),
        "MPPHUB_BATCH_SIZE": "20",
        "MPPHUB_SECRET_FILE": str(secret),
    }
    worker = ChildProcess(
        "worker", [sys.executable, "-m", "ops.cli", "worker"], tmp / "worker.log", env, cwd=REPO
    )
    engine = make_engine(live_url)
    try:
        # 1. Snapshot: every source row in its raw topic before the worker starts, so that
        # the worker has a backlog to be killed in.
        for c in connectors:
            c.start()
        rows = {}
        for agency, engine_of, tables in (
            ("disdukcapil", siak, siak_db.TABLES),
            ("dpmptsp", sicantik, sicantik_db.TABLES),
        ):
            with engine_of.connect() as c:
                for table in tables:
                    n = c.scalar(sa.select(sa.func.count()).select_from(table))
                    rows[f"mpp.{agency}.{table.name.lower()}"] = n

        def snapshot_published() -> bool:
            for c in connectors:
                assert c.alive(), c.output()[-3000:]
            ends = end_offsets(hub_stack.bootstrap, list(rows))
            return all(ends[t] >= n for t, n in rows.items())

        wait_until(snapshot_published, 60, "the snapshot in the raw topics")

        # 2. The worker, killed -9 right after its first commit, with a backlog left.
        at_kill = kill_9_after_first_commit(worker, lambda: checkpointed(engine))
        worker.start()
        wait_until(
            lambda: worker.alive() and assert_matches_sources(engine, siak, sicantik, people),
            60,
            "the snapshot projected",
        )

        # 3. Scripted changes in the civil registry.
        births = [b for b in (sim.birth() for _ in range(8)) if b is not None][:2]
        assert births, "no mother in the sample population"
        for _ in range(3):
            assert sim.correction() is not None
        moved = sim.move()
        assert moved is not None
        died = sim.death()
        assert died is not None

        # ... and the permits office: a resident's application whose NIK lost a digit at the
        # counter, a permit through every state, one rejected, and a back-dated one spanning
        # 17 August 2026.
        typed_for = next(p for p in population.adults(21) if p.nik != died.detail["nik"])
        bad_id = malformed_applicant(sicantik, typed_for)
        bad_permit = new_application(sicantik, bad_id, 3, now())
        full = new_application(sicantik, 1, 1, now())
        for status in (FILE_COMPLETE, VERIFIED, STOPPED, RESUMED, APPROVED, ISSUED):
            step(sicantik, full, status)
        rejected = new_application(sicantik, 2, 5, now())
        for status in (FILE_COMPLETE, VERIFIED, REJECTED):
            step(sicantik, rejected, status)
        at = dt.datetime(2026, 8, 12, 9, 0)
        holiday = new_application(sicantik, 3, 6, at)  # ITR, 7 working days
        for status, day in (
            (FILE_COMPLETE, 13),
            (VERIFIED, 14),
            (STOPPED, 19),
            (RESUMED, 21),
            (APPROVED, 26),
            (ISSUED, 27),
        ):
            step(sicantik, holiday, status, at.replace(day=day))

        # 4. Poison on a raw topic (every partition, so that whatever comes next on that
        # topic comes after one), then more changes.
        producer = KafkaProducer(bootstrap_servers=hub_stack.bootstrap, acks="all")
        poison = []
        try:
            parts = sorted(producer.partitions_for(BIODATA_TOPIC))
            for p in parts:
                for kind, value in (
                    ("garbage", b"\xde\xad\xbe\xef not avro"),
                    ("unknown-id", header(987_654_321) + b"\x02\x00"),
                ):
                    meta = producer.send(BIODATA_TOPIC, value, key=b"poison", partition=p).get(30)
                    poison.append((meta.partition, meta.offset, kind))
        finally:
            producer.close()
        with siak.begin() as c:
            # Not the resident whose NIK the clerk mistyped: that applicant joins them by their
            # name, and a new name leaves it a person of its own, for a supervisor to review
            # (tests/domain/matching/test_resolver_order.py), which Groups does not model.
            b = siak_db.BIODATA_WNI
            nik = c.scalar(
                sa.select(b.c.NIK).where(b.c.NIK != typed_for.nik).order_by(b.c.NIK).limit(1)
            ).strip()
            c.execute(
                b.update().where(b.c.NIK == nik).values(NAMA_LGKP="SESUDAH RACUN", TGL_UBAH=now())
            )
        for _ in range(2):
            assert sim.correction() is not None
        steps = 0
        while open_count(sicantik):
            assert sim.advance_application() is not None
            steps += 1
            assert steps < 500, "applications do not finish"

        # 5. Everything projected, and the projection caught up with the canonical log.
        wait_until(
            lambda: worker.alive() and assert_matches_sources(engine, siak, sicantik, people),
            60,
            "the scripted changes projected",
        )
        canonical = [
            catalog.PERSON_TOPIC,
            catalog.PERMIT_TOPIC,
            catalog.SERVICE_TOPIC,
            IDENTITY_TOPIC,
        ]
        wait_until(
            lambda: (
                checkpointed(engine) == sum(end_offsets(hub_stack.bootstrap, canonical).values())
            ),
            30,
            "the projection at the end of the canonical topics",
        )
        after = checkpointed(engine)
    except BaseException:
        print("--- worker log ---\n" + worker.tail(80))
        for c in connectors:
            print(f"--- {c.path.name} ---\n" + c.output()[-2000:])
        raise
    finally:
        worker.stop(timeout=30)
        for c in connectors:
            c.stop()
    yield Run(
        hub_stack,
        siak,
        sicantik,
        engine,
        live_url,
        rebuild_url,
        env,
        at_kill,
        after,
        poison=poison,
        after_poison_nik=nik,
        people=people,
        malformed_applicant_id=bad_id,
        malformed_nik=typed_for.nik,
        malformed_permit=f"dpmptsp:{bad_permit}",
        holiday_permit=f"dpmptsp:{holiday}",
        rejected_permit=f"dpmptsp:{rejected}",
        full_path_permit=f"dpmptsp:{full}",
        moved=(moved.keys["BIODATA_WNI"], f"7413{moved.detail['to_kec']:02d}"),
        dead_nik=died.detail["nik"],
        died_on=died.detail["died_on"],
    )
    engine.dispose()
    siak.dispose()
    sicantik.dispose()


# --- what must hold --------------------------------------------------------------------------


def person_of_record(engine: sa.Engine, ref: str) -> str | None:
    """The person id a source record (agency:table:id) belongs to."""
    with engine.connect() as c:
        return c.scalar(
            sa.select(CitizenSourceRecord.person_id).where(CitizenSourceRecord.ref == ref)
        )


def test_projections_equal_a_direct_computation_from_the_sources(run: Run) -> None:
    assert_matches_sources(run.engine, run.siak, run.sicantik, run.people)
    permits = projected_permits(run.engine)
    # The scenario did what it says: every permit finished, one through every state, one
    # rejected, a mistyped applicant, and 17 August (Independence Day) inside a counted interval.
    assert {p["outcome"] for p in permits.values()} <= FINAL
    assert permits[run.rejected_permit]["status"] == "REJECTED"
    timeline = projected_timeline(run.engine)
    full = sorted(
        (t, seq, s) for (pid, seq), (s, t) in timeline.items() if pid == run.full_path_permit
    )
    assert [s for _, _, s in full] == [
        "RECEIVED", "FILE_COMPLETE", "VERIFIED", "CLOCK_STOPPED", "CLOCK_RESUMED", "APPROVED",
        "ISSUED",
    ]  # fmt: skip
    holiday = permits[run.holiday_permit]
    assert (holiday["file_complete_date"], holiday["finished_date"]) == (
        dt.date(2026, 8, 13),
        dt.date(2026, 8, 27),
    )
    assert dt.date(2026, 8, 17) in holidays.country_holidays("ID", years=2026)
    # Working days in (Thu 13 Aug, Thu 27 Aug]: 10 weekdays (14, 17-21, 24-27), minus Mon 17 Aug
    # (Independence Day) and Tue 25 Aug (Maulid Nabi), minus Thu 20 and Fri 21 Aug (clock stopped
    # on the 19th, resumed on the 21st) = 6.
    assert holiday["working_days_used"] == 6
    # The NIK typo in the permits system ends in the civil-registry person.
    resident = person_of_record(run.engine, f"disdukcapil:biodata_wni:{run.malformed_nik}")
    assert resident is not None and resident.startswith("P")
    assert permits[run.malformed_permit]["applicant_person_id"] == resident
    applicant = person_of_record(run.engine, f"dpmptsp:tmpemohon:{run.malformed_applicant_id}")
    assert applicant == resident
    groups, _ = expected_citizens(run.siak, run.sicantik, run.people)
    labels = person_labels(run.engine, groups)
    citizens = projected_citizens(run.engine, labels)
    members, to_kec = run.moved
    assert members and all(citizens[nik][3] == to_kec for nik in members)
    with run.engine.connect() as c:
        record = c.execute(
            sa.select(CitizenSourceRecord.deleted).where(
                CitizenSourceRecord.agency == "disdukcapil",
                CitizenSourceRecord.source_table == "BIODATA_WNI",
                CitizenSourceRecord.source_record_id == run.dead_nik,
            )
        ).scalar_one()
    assert record is True  # the registry deleted the row: no longer a resident
    (dead,) = [p for p, label in labels.items() if label == run.dead_nik]
    with run.engine.connect() as c:
        deceased, death_date, provenance = c.execute(
            sa.select(Citizen.deceased, Citizen.death_date, Citizen.provenance).where(
                Citizen.person_id == dead
            )
        ).one()
    # Kept by the death registration (and what other records say), never by the deleted row.
    assert all(src["table"] != "BIODATA_WNI" for src in (provenance or {}).values())
    assert (deceased, death_date) == (True, run.died_on)
    assert provenance["deceased"]["table"] == "CAPIL_MATI"
    findings = read_topic(run.stack, catalog.DQ_FINDINGS_TOPIC).events
    assert any(
        e.value["agency"] == "dpmptsp"
        and e.value["table"] == "tmpemohon"
        and e.value["record_key"] == str(run.malformed_applicant_id)
        and e.value["rule_code"] == "NIK_MALFORMED"
        for e in findings
    )


def test_kill_9_of_the_worker_neither_loses_nor_doubles(run: Run) -> None:
    assert 0 < run.at_kill < run.after_restart, (run.at_kill, run.after_restart)
    with run.engine.connect() as c:
        doubled = c.execute(
            sa.select(PermitTimeline.permit_id, PermitTimeline.status_seq, sa.func.count())
            .group_by(PermitTimeline.permit_id, PermitTimeline.status_seq)
            .having(sa.func.count() > 1)
        ).all()
        entries = c.scalar(sa.select(sa.func.count()).select_from(PermitTimeline))
    assert doubled == []
    with run.sicantik.connect() as c:
        log_rows = c.scalar(sa.select(sa.func.count()).select_from(sicantik_db.trstspermohonan_log))
    assert entries == log_rows


def test_rebuild_gives_the_live_projection_row_for_row(run: Run) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "rebuild", "--db", run.rebuild_url, "--no-progress"],
        cwd=REPO,
        env={**os.environ, **run.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rebuilt = make_engine(run.rebuild_url)
    try:
        live, replayed = snapshot(run.engine), snapshot(rebuilt)
        for model in COMPARED:
            table = model.__table__

            def by_key(rows: list[dict], table: sa.Table = table) -> dict[tuple, dict]:
                return {tuple(r[c.name] for c in table.primary_key.columns): r for r in rows}

            assert_same(table.name, by_key(replayed[table.name]), by_key(live[table.name]))
        assert replayed == live
        # The same person ids: the rebuild replayed the decisions, it did not decide again.
        ids = {r["person_id"] for r in live["citizen"]}
        assert ids and ids == {r["person_id"] for r in replayed["citizen"]}
    finally:
        rebuilt.dispose()


def test_poison_is_dead_lettered_and_what_follows_is_projected(run: Run) -> None:
    letters = {
        (e.value["partition"], e.value["offset"]): e.value
        for e in read_topic(run.stack, catalog.DEADLETTER_TOPIC, keys=False).events
        if e.value is not None and e.value["original_topic"] == BIODATA_TOPIC
    }
    assert set(letters) == {(p, o) for p, o, _ in run.poison}
    for p, o, kind in run.poison:
        letter = letters[(p, o)]
        assert letter["reason"] and letter["stage"] == "normalize"
        expected = "WireFormatError" if kind == "garbage" else "UnknownSchemaError"
        assert letter["error_type"] == expected, letter["reason"]
    with run.engine.connect() as c:
        name = c.scalar(sa.select(Citizen.name).where(Citizen.nik == run.after_poison_nik))
    assert name == "SESUDAH RACUN"


def test_compliance_report_equals_a_direct_computation_from_the_sources(run: Run) -> None:
    # Three periods: all of it; August 2026 (the back-dated permit, decided on 27 Aug with
    # Independence Day, Maulid and a clock stop inside its interval); and up to 20 Aug, when
    # that permit is open with its clock stopped since the 19th (its days as of then).
    today = wita_today()
    permits = source_permits(run.sicantik, today)
    first = min(p["received"] for p in permits)
    periods = [
        (first, today),
        (dt.date(2026, 8, 1), dt.date(2026, 8, 31)),
        (dt.date(2026, 8, 1), dt.date(2026, 8, 20)),
    ]
    zones = load_zones()
    for start, end in periods:
        want = expected_report(permits, start, end)
        with Session(run.engine) as s:
            got = report_json(read_report(s, Period(start, end), zones, today))
        lines = {(ln["unit"], ln["service_code"]): ln for ln in got["lines"]}
        assert_same(
            f"lines {start}..{end}",
            {k: {f: v[f] for f in FIGURES} for k, v in lines.items()},
            want["lines"],
        )
        assert got["total"] == want["total"], (start, end)
        assert {m["month"]: {f: m[f] for f in FIGURES} for m in got["trend"]} == want["trend"]
    # The scenario's permits are in the counts: the holiday permit decided within its 7 days.
    august = expected_report(permits, *periods[1])
    holiday = next(p for p in permits if f"dpmptsp:{p['id']}" == run.holiday_permit)
    assert (holiday["used"], holiday["sla"], holiday["stops"]) == (
        6, 7, [(dt.date(2026, 8, 19), dt.date(2026, 8, 21))],
    )  # fmt: skip
    assert august["lines"][(holiday["unit"], holiday["code"])]["within_standard"] >= 1
    until_20 = expected_report(permits, *periods[2])
    assert until_20["lines"][(holiday["unit"], holiday["code"])]["open_at_end"] >= 1
    assert sum(f["decided"] for f in expected_report(permits, first, today)["lines"].values()) > 5
