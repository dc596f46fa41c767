"""Two hubs on one Kafka cluster, told apart only by their topic prefix (MPPHUB_TOPIC_PREFIX):
the same connector name, the same worker app id, the same agency tables. Each projects exactly
its own civil registry, and every topic and consumer group they made carries their prefix."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from domain.tokens import load_secret
from ops.demo import SIAK_TABLES
from ops.processes import ChildProcess
from ops.samples import create_siak
from ops.stack import Stack
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent


def _niks(url: str) -> set[str]:
    with sa.create_engine(url).connect() as c:
        return set(c.scalars(sa.text("SELECT NIK FROM BIODATA_WNI")))


def _projected(db: Path) -> set[str]:
    if not db.exists():
        return set()
    with sa.create_engine(f"sqlite:///{db}").connect() as c:
        try:
            return set(c.scalars(sa.text("SELECT nik FROM citizen")))
        except sa.exc.OperationalError:
            return set()


async def _names(bootstrap: str) -> tuple[set[str], set[str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = {g[0] for g in await admin.list_consumer_groups()}
        return set(await admin.list_topics()), groups
    finally:
        await admin.close()


def _hub(stack: Stack, tmp: Path, prefix: str, seed: int) -> tuple[list[ChildProcess], Path, str]:
    """A civil registry, its connector and a worker with its projection database."""
    tmp.mkdir()
    siak = f"sqlite:///{tmp / 'siak.db'}"
    create_siak(sa.create_engine(siak), n_people=10, seed=seed)
    config = tmp / "siak.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "agency": "disdukcapil",
                "name": "siak",  # the same name in both hubs: their offsets are apart
                "source": {"mode": "polling", "url": siak, "poll_interval_s": 0.2},
                "tables": SIAK_TABLES,
            }
        )
    )
    secret = tmp / "secret"
    load_secret(secret, create=True)
    db = tmp / "projections.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPHUB_")} | {
        "MPPHUB_TOPIC_PREFIX": prefix,
        "MPPHUB_KAFKA_BOOTSTRAP": stack.bootstrap,
        "MPPHUB_REGISTRY_URL": stack.registry_url,
        "MPPHUB_APP_ID": "t-two-hubs",  # the same app id in both hubs: their groups are apart
        "MPPHUB_PROJECTION_DB_URL": f"sqlite:///{db}",
        "MPPHUB_WORKER_DATA_DIR": str(tmp / "worker"),
        "MPPHUB_SECRET_FILE": str(secret),
    }
    cli = [sys.executable, "-m", "ops.cli"]
    procs = [
        ChildProcess("connector", [*cli, "connect", str(config), "--no-progress"],
                     tmp / "connector.log", env, cwd=REPO),
        ChildProcess("worker", [*cli, "worker"], tmp / "worker.log", env, cwd=REPO),
    ]  # fmt: skip
    return procs, db, siak


def test_two_hubs_share_a_cluster_without_seeing_each_other(stack: Stack, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:6]
    prefixes = (f"kota-a-{run}.", f"kota-b-{run}.")
    topics_before, groups_before = asyncio.run(_names(stack.bootstrap))
    hubs = [
        _hub(stack, tmp_path / p.rstrip("."), p, seed)
        for p, seed in ((prefixes[0], 3), (prefixes[1], 4))
    ]
    (a_procs, a_db, a_siak), (b_procs, b_db, b_siak) = hubs
    a_niks, b_niks = _niks(a_siak), _niks(b_siak)
    assert a_niks and b_niks and not a_niks & b_niks  # two different registries
    procs = a_procs + b_procs

    def both_projected() -> bool:
        for p in procs:
            assert p.alive(), p.log.read_text(errors="replace")[-2000:]
        return _projected(a_db) == a_niks and _projected(b_db) == b_niks

    try:
        for p in procs:
            p.start()
        wait_until(both_projected, 180, "each hub projecting its own civil registry")
    finally:
        for p in reversed(procs):
            p.stop()
    # Nothing of the other hub came in, even after both ran to the end.
    assert _projected(a_db) == a_niks and _projected(b_db) == b_niks

    topics_after, groups_after = asyncio.run(_names(stack.bootstrap))
    # Kafka's own (__consumer_offsets, __transaction_state) appear on a fresh cluster's first use.
    made = {t for t in topics_after - topics_before if not t.startswith("__")}
    assert made and all(t.startswith(prefixes) for t in made), sorted(made)
    for p in prefixes:
        for name in ("mpp.canonical.person", "mpp.hub.deadletter", "mpp.hub.connect-offsets",
                     "mpp.disdukcapil.biodata_wni"):  # fmt: skip
            assert p + name in made
    new_groups = groups_after - groups_before
    assert {f"{p}t-two-hubs" for p in prefixes} <= new_groups
    assert all(g.startswith(prefixes) for g in new_groups), sorted(new_groups)
