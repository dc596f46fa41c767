"""Data-quality findings through the real worker (normalize + identity + projections, one
process, real broker and registry, SQLite projection): a SIAK record whose NIK disagrees with
its birth date is a finding in the projection, under its record token and a masked reference;
the civil registry corrects the birth date, and the finding is resolved."""

from __future__ import annotations

import datetime as dt
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from domain.tokens import Tokens, load_secret
from eventlog import KafkaSettings
from ops.processes import ChildProcess
from ops.settings import HubSettings
from projections.models import Finding
from projections.settings import ProjectionSettings
from projections.store import make_engine
from schemas.registry import RegistryClient
from streams.settings import StreamSettings
from tests.streams.helpers import TABLES, TS_MS, RawSender
from tests.streams.rows import biodata
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RUN_WORKER = (
    "import sys; from ops.worker import run; from ops.settings import HubSettings;"
    " sys.exit(run(HubSettings.model_validate_json(sys.argv[1]), projections=True))"
)
WAIT_S = 120.0  # the worker's start (topics, group join) on a loaded 2-core machine included
BORN = dt.date(1990, 8, 5)


@dataclass
class Worker:
    proc: ChildProcess
    sender: RawSender
    tokens: Tokens
    engine: sa.Engine


@pytest.fixture(scope="module")
def worker(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    run = uuid.uuid4().hex[:10]
    tmp = tmp_path_factory.mktemp("findings-worker")
    topics = {t: f"it{run}.{agency}.{t.lower()}" for t, (agency, _) in TABLES.items()}
    secret = tmp / "secret"
    db = f"sqlite:///{tmp / 'projections.db'}"
    kafka = KafkaSettings(bootstrap=stack.bootstrap)
    settings = HubSettings(
        stream=StreamSettings(
            app_id=f"it-findings-{run}",
            kafka=kafka,
            registry_url=stack.registry_url,
            raw_topics=tuple(topics.values()),
            data_dir=str(tmp / "data"),
            batch_within_s=0.05,
            secret_file=secret,
        ),
        projection=ProjectionSettings(
            kafka=kafka, registry_url=stack.registry_url, db_url=db, batch_within_s=0.05
        ),
    )
    tokens = Tokens(load_secret(secret, create=True))
    proc = ChildProcess(
        "worker", [sys.executable, "-c", RUN_WORKER, settings.model_dump_json()], tmp / "w.log",
        cwd=REPO, die_with_parent=True,
    )  # fmt: skip
    proc.start()
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    engine = make_engine(db, writer=False)
    try:
        yield Worker(proc, RawSender(RegistryClient(stack.registry_url), producer, topics),
                     tokens, engine)  # fmt: skip
    finally:
        producer.close()
        engine.dispose()
        proc.stop(timeout=30)


def nik(born: dt.date, serial: int) -> str:
    """A woman's NIK of Sawerigadi (day + 40), a serial of this run's own."""
    return f"741301{born.day + 40:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def rows_of(w: Worker, token: str) -> list[dict[str, Any]]:
    assert w.proc.alive(), w.proc.tail()
    try:
        with w.engine.connect() as c:
            found = c.execute(sa.select(Finding).where(Finding.record_token == token))
            return [dict(r._mapping) for r in found]
    except sa.exc.OperationalError:
        return []  # the worker has not created the tables yet


def test_a_finding_is_projected_and_cleared_when_the_record_is_corrected(worker: Worker) -> None:
    value = nik(BORN, random.randrange(1000, 10000))
    token = worker.tokens.record("disdukcapil", "BIODATA_WNI", value)
    # The registry typed the birth date one day off: the NIK's date part disagrees.
    wrong = biodata(NIK=value, TGL_LHR=BORN + dt.timedelta(days=1))
    worker.sender.change("BIODATA_WNI", "c", wrong, position=f"{token}-1", source_ts_ms=TS_MS)

    def opened() -> dict[str, Any]:
        rows = rows_of(worker, token)
        assert len(rows) == 1 and rows[0]["resolved_at"] is None, rows
        return rows[0]

    row = wait_until(opened, WAIT_S, "the finding in the projection")
    assert row["rule_code"] == "NIK_DATE_MISMATCH" and row["source_table"] == "BIODATA_WNI"
    assert row["record_ref"] == value[:6] + "*" * 10  # the key is a NIK: masked
    assert value not in repr(row)

    # Corrected a minute later: the next version has no finding.
    right = biodata(NIK=value, TGL_LHR=BORN)
    worker.sender.change("BIODATA_WNI", "u", right, position=f"{token}-2",
                         source_ts_ms=TS_MS + 60_000)  # fmt: skip

    def resolved() -> dict[str, Any]:
        rows = rows_of(worker, token)
        assert len(rows) == 1 and rows[0]["resolved_at"] is not None, rows
        return rows[0]

    row = wait_until(resolved, WAIT_S, "the finding resolved")
    assert row["resolved_at"] - row["first_seen"] == dt.timedelta(minutes=1)
