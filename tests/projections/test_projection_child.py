"""`mpphub worker --projections process` (and `--identity process`) against the real broker and
registry: a SIAK change is projected (with its person) by the worker's projection child, its
person decided by the resolver inline or in a child of its own; the worker's own /metrics shows
the children's counters, each family once; a worker killed with SIGKILL takes its children."""

from __future__ import annotations

import random
import signal
import sys
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from domain.tokens import Tokens, load_secret
from eventlog import KafkaSettings
from ops.processes import ChildProcess, free_port
from ops.settings import HubSettings
from projections.models import CitizenSourceRecord
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
    " sys.exit(run(HubSettings.model_validate_json(sys.argv[1]), mode='process',"
    " identity_mode=sys.argv[2]))"
)
WAIT_S = 120.0  # the start of two Faust workers on a loaded 2-core machine included


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("identity_mode", ["inline", "process"])
def test_projections_in_a_child_process(stack, tmp_path: Path, identity_mode: str) -> None:
    run = uuid.uuid4().hex[:10]
    # A prefix of its own: canonical topics and groups of this hub only (read from the start).
    kafka = KafkaSettings(bootstrap=stack.bootstrap, topic_prefix=f"it{run}.")
    topics = {t: kafka.topics.raw(agency, t) for t, (agency, _) in TABLES.items()}
    db = f"sqlite:///{tmp_path / 'projections.db'}"
    port = free_port()
    settings = HubSettings(
        stream=StreamSettings(
            app_id=f"it-child-{run}", kafka=kafka, registry_url=stack.registry_url,
            raw_topics=tuple(t.removeprefix(kafka.topic_prefix) for t in topics.values()),
            data_dir=str(tmp_path / "data"), batch_within_s=0.05,
            secret_file=tmp_path / "secret",
        ),
        projection=ProjectionSettings(
            app_id=f"it-child-{run}", kafka=kafka, registry_url=stack.registry_url,
            db_url=db, batch_within_s=0.05, data_dir=str(tmp_path / "pdata"),
        ),
        metrics_port=port,
    )  # fmt: skip
    tokens = Tokens(load_secret(tmp_path / "secret", create=True))
    proc = ChildProcess(
        "worker",
        [sys.executable, "-c", RUN_WORKER, settings.model_dump_json(), identity_mode],
        tmp_path / "w.log", cwd=REPO, die_with_parent=True,
    )  # fmt: skip
    proc.start()
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    engine = make_engine(db, writer=False)
    try:
        sender = RawSender(RegistryClient(stack.registry_url), producer, topics)
        value = f"7413014508{random.randrange(10**5, 10**6)}"
        key = tokens.record("disdukcapil", "BIODATA_WNI", value)
        sender.change("BIODATA_WNI", "c", biodata(NIK=value), position=f"{run}-1",
                      source_ts_ms=TS_MS)  # fmt: skip

        def projected() -> bool:
            assert proc.alive(), proc.tail()
            try:
                with engine.connect() as c:
                    person = c.execute(
                        sa.select(CitizenSourceRecord.person_id).where(
                            CitizenSourceRecord.record_key == key
                        )
                    ).scalar_one_or_none()
            except sa.exc.OperationalError:
                person = None  # no tables yet
            assert person is not None, "not projected with its person yet"
            return True

        wait_until(projected, WAIT_S, "the record projected by the child")
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
        relayed = [
            line for line in text.splitlines() if line.startswith("mpphub_projection_events")
        ]
        assert relayed, "the worker's /metrics does not relay the child's projection counters"
        decided = [
            line
            for line in text.splitlines()
            if line.startswith('mpphub_identity_decisions_total{kind="NEW"}')
        ]
        assert decided and float(decided[0].split()[-1]) >= 1, decided
        types = Counter(line.split()[2] for line in text.splitlines() if line.startswith("# TYPE"))
        assert max(types.values()) == 1, f"families served twice: {types}"

        assert proc.proc is not None
        children = _children(proc.proc.pid)
        assert len(children) == (2 if identity_mode == "process" else 1), children
        proc.proc.send_signal(signal.SIGKILL)
        proc.proc.wait()
        for child in children:
            wait_until(lambda c=child: not _alive(c), 30, "the children gone with their worker")
    finally:
        producer.close()
        engine.dispose()
        proc.stop(timeout=30)
