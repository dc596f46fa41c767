"""Scale-out: two and three `mpphub worker` processes in one consumer group over PostgreSQL
projections, the sample agencies' snapshot and scripted changes flowing through, and the worker
that resolves identities killed -9 mid-run (the survivors take its partitions over), or stopped
(SIGSTOP) past its session timeout while the others take over, then continued (SIGCONT): its
projection row locks must not stall the group (lock and idle-in-transaction timeouts) and it
must not write the decisions it held (its producer is fenced, streams/fencing.py).

The raw, permit and service topics have three partitions, so every worker normalizes and
projects; the person and identity topics have one by design, so one worker resolves. The result
must be what one worker gives: the projections equal the direct computation from the source
tables (tests/test_pipeline.py's), no timeline entry doubled, every live source record in exactly
one person, and each person id the one the identity log decided.

Each run has a stack of its own: the canonical topics have fixed names, and a second run (or
another module) writing to them would leak into this projection.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer

from domain.tokens import Tokens, load_secret
from eventlog.topics import IDENTITY_TOPIC
from ops.demo import SIAK_TABLES, SICANTIK_TABLES
from ops.processes import ChildProcess
from ops.samples import Simulator, create_siak, create_sicantik
from ops.samples import siak as siak_db
from ops.samples import sicantik as sicantik_db
from ops.samples.people import Person
from ops.stack import Stack
from ops.stage_process import signal_worker
from projections.models import Citizen, CitizenSourceRecord, PermitTimeline
from projections.store import make_engine
from schemas import catalog
from schemas.codec import Deserializer
from schemas.registry import RegistryClient
from streams.identity_records import decision_of
from streams.resolution import INPUT_HEADER
from tests.conftest import test_stack_config
from tests.connectors.harness import SubprocessConnector
from tests.faults import kill9_with_children
from tests.scale import Group, Worker, behind, read_committed
from tests.streams.test_identity_worker import new_resolver
from tests.test_pipeline import (
    FILE_COMPLETE,
    ISSUED,
    POLLING,
    REJECTED,
    VERIFIED,
    assert_matches_sources,
    checkpointed,
    end_offsets,
    new_application,
    now,
    open_count,
    step,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

PEOPLE, PERMITS, SEED = 60, 25, 23
KILL, STOP = "kill-9", "sigstop"
CANONICAL = [catalog.PERSON_TOPIC, catalog.PERMIT_TOPIC, catalog.SERVICE_TOPIC, IDENTITY_TOPIC]


@dataclass
class Run:
    """What a scale-out run left: the sources, the projection, and what the workers did."""

    siak: sa.Engine
    sicantik: sa.Engine
    engine: sa.Engine
    people: dict[str, Person]
    tokens: Tokens
    stack: Stack
    workers: int
    events_before_kill: dict[str, float]  # worker -> raw events it normalized
    fault: str
    killed: str
    at_kill: int  # canonical messages projected when the resolver was killed
    projected: int  # ... and at the end
    survivors_events: dict[str, float]  # worker -> raw events, before and at the end
    survivors_decisions: float  # identity decisions the survivors logged
    raw_partitions: dict[str, int]  # raw topic -> its partition count
    seconds: float


# The stopped-and-continued run keeps its projections in each worker's child process (`mpphub
# worker --projections process`, projections/sink.py): a member that comes back after the group
# moved on is where a late offset commit could move a partition's offset back, which only the
# child's plain consumer commits by itself. The killed runs keep them inline (a Faust agent).
@pytest.fixture(
    scope="module",
    params=[(2, KILL, "inline"), (3, KILL, "inline"), (2, STOP, "process")],
    ids=lambda p: f"{p[0]}-workers-{p[1]}",
)
def run(request, postgres_server, tmp_path_factory) -> Iterator[Run]:
    """One scale-out run: `n` workers, the resolving one killed -9 mid-run or stopped past its
    session timeout and continued; from a fresh stack to the converged projection."""
    n: int
    fault: str
    n, fault, projections = request.param
    projections = os.environ.get("MPPHUB_WORKER_PROJECTIONS") or projections
    started = time.monotonic()
    tmp: Path = tmp_path_factory.mktemp(f"scale{n}{fault}")
    stack = Stack(
        test_stack_config(tmp / "stack", base=50 + 4 * n + (fault == STOP) * 2), log=lambda m: None
    )
    db_name = f"t_scale_out_{n}_{fault[:4]}_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(db_name)
    engine = make_engine(url)
    siak = sa.create_engine(f"sqlite:///{tmp / 'siak.db'}")
    sicantik = sa.create_engine(f"sqlite:///{tmp / 'sicantik.db'}")
    group: Group | None = None
    connectors: list[SubprocessConnector] = []
    try:
        stack.up(timeout=180)
        population = create_siak(siak, n_people=PEOPLE, seed=SEED)
        create_sicantik(sicantik, population, n_permits=PERMITS, seed=SEED)
        sim = Simulator(siak, sicantik, population, seed=SEED, bad_nik_rate=0.0)
        people = {p.nik: p for p in (*population.people, *population.outsiders)}
        secret = tmp / "secret"
        tokens = Tokens(load_secret(secret, create=True))
        env = {
            "MPPHUB_APP_ID": f"t-scale-{n}-{uuid.uuid4().hex[:8]}",
            "MPPHUB_KAFKA_BOOTSTRAP": stack.bootstrap,
            "MPPHUB_REGISTRY_URL": stack.registry_url,
            "MPPHUB_PROJECTION_DB_URL": url,
            "MPPHUB_TOPIC_PARTITIONS": "3",
            "MPPHUB_BATCH_SIZE": "20",
            "MPPHUB_SECRET_FILE": str(secret),
            "MPPHUB_WORKER_PROJECTIONS": projections,
        }
        group = Group(n, env, tmp)
        # The group forms before any data: every worker holds partitions when the snapshot comes.
        group.start()
        connectors = [
            SubprocessConnector(
                {
                    "agency": agency,
                    "name": name,
                    "source": {"mode": "polling", "url": str(source.url), **POLLING},
                    "tables": tables,
                    "kafka": {"bootstrap": stack.bootstrap, "partitions": 3},
                    "registry": {"url": stack.registry_url},
                },
                tmp,
            )
            for agency, name, source, tables in (
                ("disdukcapil", "siak", siak, SIAK_TABLES),
                ("dpmptsp", "sicantik", sicantik, SICANTIK_TABLES),
            )
        ]
        for c in connectors:
            c.start()

        def all_working() -> dict[str, float]:
            running(connectors)
            events = {w.name: w.events() for w in group.workers}
            assert all(events.values()), f"a worker idle: {events}"
            assert sum(w.decisions() > 0 for w in group.workers) == 1, "no one resolving"
            assert checkpointed(engine) > 0, "nothing projected yet"
            return events

        def converged(workers: list[Worker]) -> bool:
            running([w.process for w in workers])
            assert_matches_sources(engine, siak, sicantik, people)
            total = sum(end_offsets(stack.bootstrap, CANONICAL).values())
            assert checkpointed(engine) == total, "the projection behind the canonical topics"
            return True

        # The resolver is killed (stopped) soon after its first decisions, most likely with a
        # batch in hand, and changes in flight.
        wait_until(all_working, 90, "every worker normalizing, one resolving", step=0.02)
        if fault == KILL:
            changes(sim, sicantik, 1)  # in flight when the resolver dies
        before = {w.name: w.events() for w in group.workers}
        victim: Worker = next(w for w in group.workers if w.decisions() > 0)
        survivors = [w for w in group.workers if w is not victim]
        assert victim.process.proc is not None
        if fault == KILL:
            kill9_with_children(victim.process)
        else:
            signal_worker(victim.process.proc.pid, signal.SIGSTOP)  # and its projection child
        at_kill = checkpointed(engine)
        if fault == STOP:
            # Past its session timeout (10 s) the group gives its partitions to the others;
            # its row locks go with its session (idle in a transaction, 30 s).
            changes(sim, sicantik, 1)
            wait_until(lambda: converged(survivors), 120, "the others' projection, one stopped")
            signal_worker(victim.process.proc.pid, signal.SIGCONT)
        changes(sim, sicantik, 2)
        finishers = group.workers if fault == STOP else survivors
        wait_until(lambda: converged(finishers), 120, "the projection equal to the sources", 0.5)
        taken = sum(w.decisions() for w in survivors)
        # The killed worker's partitions were taken over: the group's offsets reach the end of
        # every partition (Faust commits every few seconds, a projection child after each batch).
        raw = [
            f"mpp.{agency}.{table.name.lower()}"
            for agency, tables in (("disdukcapil", siak_db.TABLES), ("dpmptsp", sicantik_db.TABLES))
            for table in tables
        ]
        group_id = env["MPPHUB_APP_ID"]
        # With projections (the resolver) in child processes (MPPHUB_WORKER_PROJECTIONS,
        # MPPHUB_WORKER_IDENTITY=process), the children consume the canonical topics (the
        # person facts) in a group of their own.
        groups = {group_id: raw + CANONICAL}
        if projections == "process":
            groups = {group_id: raw, f"{group_id}-projections": CANONICAL}
        if os.environ.get("MPPHUB_WORKER_IDENTITY") == "process":
            groups[f"{group_id}-identity"] = [catalog.PERSON_TOPIC]

        def caught_up() -> bool:
            late = {g: left for g, t in groups.items() if (left := behind(stack.bootstrap, g, t))}
            assert not late, f"uncommitted messages by group: {late}"
            return True

        wait_until(caught_up, 30, "the group's offsets at the end of every partition")
        yield Run(
            siak, sicantik, engine, people, tokens, stack, n, before, fault, victim.name, at_kill,
            checkpointed(engine),
            {w.name: (before[w.name], w.events()) for w in survivors},
            taken,
            {t: len(p) for t, p in partitions(stack.bootstrap, raw).items()},
            time.monotonic() - started,
        )  # fmt: skip
    except BaseException:
        if group is not None:
            print(group.tails())
        for c in connectors:
            print(f"--- {c.path.name} ---\n" + c.output()[-2000:])
        raise
    finally:
        if group is not None:
            group.stop()
        for c in connectors:
            c.stop()
        engine.dispose()
        siak.dispose()
        sicantik.dispose()
        postgres_server.drop_database(db_name)
        stack.down(purge=True)


def running(processes: list[ChildProcess]) -> None:
    """RuntimeError (not AssertionError: a wait must end at once) when one of them exited."""
    for p in processes:
        if not p.alive():
            raise RuntimeError(f"{p.name} exited:\n{p.tail(60)}")


def partitions(bootstrap: str, topics: list[str]) -> dict[str, set[int]]:
    """topic -> its partitions."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return {t: consumer.partitions_for_topic(t) or set() for t in topics}
    finally:
        consumer.close()


def changes(sim: Simulator, sicantik: sa.Engine, round_: int) -> None:
    """One round of scripted changes: births, corrections, a move, a death; applications
    received, one rejected, one issued, and every open one driven to its end."""
    for _ in range(6):
        sim.birth()
    for _ in range(4):
        assert sim.correction() is not None
    assert sim.move() is not None
    assert sim.death() is not None
    rejected = new_application(sicantik, round_, 5, now())
    for status in (FILE_COMPLETE, VERIFIED, REJECTED):
        step(sicantik, rejected, status)
    issued = new_application(sicantik, round_ + 2, 1, now())
    for status in (FILE_COMPLETE, VERIFIED, ISSUED):
        step(sicantik, issued, status)
    steps = 0
    while open_count(sicantik):
        assert sim.advance_application() is not None
        steps += 1
        assert steps < 500, "applications do not finish"


def test_workers_in_one_group_project_what_one_worker_would(run: Run) -> None:
    print(
        f"{run.workers} workers: {run.seconds:.0f}s;"
        f" {run.fault} of {run.killed} at {run.at_kill}/{run.projected} projected;"
        f" events before the kill {run.events_before_kill}; survivors {run.survivors_events}"
    )
    # Spread over enough partitions, every worker worked before the kill (no pass with idle
    # members), the kill landed mid-run, and a survivor took identity resolution over.
    assert set(run.raw_partitions.values()) == {3}, run.raw_partitions
    assert all(v > 0 for v in run.events_before_kill.values()), run.events_before_kill
    assert 0 < run.at_kill < run.projected, (run.at_kill, run.projected)
    assert any(end > before for before, end in run.survivors_events.values())
    assert run.survivors_decisions > 0
    assert_matches_sources(run.engine, run.siak, run.sicantik, run.people)


def test_no_timeline_entry_doubled(run: Run) -> None:
    with run.engine.connect() as c:
        doubled = c.execute(
            sa.select(PermitTimeline.permit_id, PermitTimeline.status_seq, sa.func.count())
            .group_by(PermitTimeline.permit_id, PermitTimeline.status_seq)
            .having(sa.func.count() > 1)
        ).all()
        entries = c.scalar(sa.select(sa.func.count()).select_from(PermitTimeline))
    with run.sicantik.connect() as c:
        log_rows = c.scalar(sa.select(sa.func.count()).select_from(sicantik_db.trstspermohonan_log))
    assert doubled == []
    assert entries == log_rows


def test_person_ids_are_the_identity_logs(run: Run) -> None:
    """Every live source record in exactly one person, that person the one the identity log
    decided (replayed into a fresh resolver), and every citizen such a person."""
    decode = Deserializer(RegistryClient(run.stack.registry_url))
    resolver = new_resolver(run.tokens)
    for record in read_committed(run.stack.bootstrap, IDENTITY_TOPIC):
        resolver.apply(decision_of(decode(record.value)))
    with run.engine.connect() as c:
        records = c.execute(
            sa.select(CitizenSourceRecord.record_key, CitizenSourceRecord.person_id).where(
                CitizenSourceRecord.deleted.is_(False)
            )
        ).all()
        citizens = set(c.scalars(sa.select(Citizen.person_id)))
    assert records
    unplaced = [k for k, person in records if person is None]
    assert unplaced == [], f"{len(unplaced)} records in no person"
    keys = [k for k, _ in records]
    assert len(keys) == len(set(keys))
    differ = [(k, p, resolver.person_of(k)) for k, p in records if resolver.person_of(k) != p]
    assert differ == [], differ[:5]
    assert citizens == {p for _, p in records}


def test_no_identity_decision_doubled(run: Run) -> None:
    """Each input's decisions are in the log once, as one run of records: neither the killed
    resolver's successor nor a stopped one continued wrote an input's decisions again."""
    decode = Deserializer(RegistryClient(run.stack.registry_url))
    runs: list[tuple[str, int, list[tuple]]] = []  # input, log offset of its first, decisions
    for record in read_committed(run.stack.bootstrap, IDENTITY_TOPIC):
        d = decision_of(decode(record.value))
        source = dict(record.headers or []).get(INPUT_HEADER, b"").decode()
        if not runs or runs[-1][0] != source:
            runs.append((source, record.offset, []))
        runs[-1][2].append((d.kind.value, d.person_id, d.record_id, d.other_person_ids))
    by_input: dict[str, list[tuple[int, list[tuple]]]] = defaultdict(list)
    for source, offset, decisions in runs:
        by_input[source].append((offset, decisions))
    twice = {s: r for s, r in by_input.items() if len(r) > 1}
    report = [
        f"{s} at log offsets {[o for o, _ in r]}"
        + (" (the same decisions)" if all(ds == r[0][1] for _, ds in r) else f": {r}")
        for s, r in list(twice.items())[:3]
    ]
    assert not twice, f"{len(twice)} of {len(by_input)} inputs decided twice: {report}"
    doubled = [(s, ds) for s, _, ds in runs if len(ds) != len(set(ds))]
    assert doubled == [], doubled[:3]
    # In the log's order each input partition's inputs come in their own order: a stale writer
    # that wrote after its successor would show as an input older than one logged before it.
    last: dict[str, int] = {}
    for source, _, _ in runs:
        where, offset = source.rsplit("/", 1)
        assert int(offset) > last.get(where, -1), f"{source} logged after {where}/{last[where]}"
        last[where] = int(offset)
