"""The audit against the real stack: the API's audit in a PostgreSQL database of its own role
(the worker's credentials cannot write it), its head published to a real Kafka topic kept
forever. An officer never receives a full NIK or KK; a supervisor does only with a purpose, and
the entry is in the audit database before the answer leaves; editing one row makes
`mpphub audit verify` fail naming that entry."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from domain.tokens import Tokens
from eventlog import KafkaSettings
from ops.processes import wait_for
from projections.audit import open_audit
from projections.audit.heads import HeadPublisher, published_heads
from projections.audit.verify import verify
from tests.projections import factories as f
from tests.projections.api.conftest import OFFICER, SUPERVISOR, audit_entries

pytestmark = pytest.mark.integration

KK_A = "7413010101900003"  # RESIDENT_A's No. KK (tests/projections/api/conftest.py)
MPPHUB = Path(sys.executable).with_name("mpphub")
SECRET = secrets.token_bytes(32)
TOKENS = Tokens(SECRET)


@pytest.fixture
def audit_url(postgres_server, request):
    """A database owned by a role of its own (the audit's), not by the application user whose
    credentials the worker has."""
    name, role = f"audit_{uuid.uuid4().hex[:8]}", f"auditor_{uuid.uuid4().hex[:6]}"
    password = secrets.token_urlsafe(12)
    admin = make_url(postgres_server.admin_url)
    with psycopg.connect(
        host=admin.query["host"], port=int(admin.query["port"]), user="postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f"CREATE DATABASE {name} OWNER {role}")
    url = make_url(postgres_server.url_for(name)).set(username=role, password=password)
    yield url.render_as_string(hide_password=False)
    postgres_server.drop_database(name)


@pytest.fixture
def audit(audit_url):  # the API's audit for the `client` fixture: PostgreSQL, not SQLite
    log = open_audit(audit_url, TOKENS)
    yield log
    log.close()


async def topic_config(kafka: KafkaSettings, topic: str) -> dict[str, str]:
    """The topic's config values as the broker reports them."""
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
        (resource,) = response.resources
        return {entry[0]: entry[1] for entry in resource[4]}
    finally:
        await admin.close()


def lookup(client, nik: str, headers):
    return client.post("/citizens/lookup", json={"nik": nik}, headers=headers)


def test_an_officer_never_receives_a_full_nik_or_kk(client):
    answers = [
        lookup(client, f.NIK_A, OFFICER),
        client.get(f"/citizens/{f.P_A}", headers=OFFICER),
        client.post("/citizens/search", json={"name": "ode siti"}, headers=OFFICER),
        client.get("/permits/dpmptsp:1", headers=OFFICER),
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 200]
    for r in answers:
        for number in (f.NIK_A, f.NIK_B, KK_A):
            assert number not in r.text, r.request.url
    assert len(audit_entries(client)) == 1 + 1 + 2 + 1  # each person shown


def test_a_supervisor_gets_the_full_nik_only_with_a_purpose(client):
    without = {k: v for k, v in SUPERVISOR.items() if k != "X-MPP-Purpose"}
    refused = lookup(client, f.NIK_A, without)
    assert 400 <= refused.status_code < 500 and f.NIK_A not in refused.text
    assert audit_entries(client) == []
    r = lookup(client, f.NIK_A, SUPERVISOR)
    assert r.status_code == 200 and r.json()["nik"] == f.NIK_A and r.json()["kk_number"] == KK_A
    (entry,) = audit_entries(client)
    assert entry.role == "supervisor" and entry.purpose and entry.person_id == f.P_A


def test_the_entry_is_in_the_audit_database_before_the_answer_leaves(
    client, audit_url, monkeypatch
):
    audit = client.app.state.audit
    real = audit.append
    seen_before_answer: list[int] = []

    def then_look(reads, now=None):
        out = real(reads, now)
        # Another connection (as an auditor would) sees the committed row, while the route
        # has not answered yet.
        engine = create_engine(audit_url)
        with engine.connect() as conn:
            seen_before_answer.append(
                conn.execute(text("SELECT count(*) FROM audit_entry")).one()[0]
            )
        engine.dispose()
        return out

    monkeypatch.setattr(audit, "append", then_look)
    assert lookup(client, f.NIK_A, SUPERVISOR).status_code == 200
    assert seen_before_answer == [1]


def test_the_workers_credentials_cannot_write_the_audit(client, postgres_server, audit_url):
    lookup(client, f.NIK_A, OFFICER)
    database = make_url(audit_url).database
    worker = create_engine(postgres_server.url_for(database))  # the application user
    try:
        with pytest.raises(Exception, match="permission denied"), worker.begin() as conn:
            conn.execute(text("UPDATE audit_entry SET who = 'x'"))
    finally:
        worker.dispose()


def test_editing_one_audit_row_makes_verify_fail_naming_it(client, audit_url, tmp_path):
    for headers in (OFFICER, SUPERVISOR, OFFICER):
        assert lookup(client, f.NIK_A, headers).status_code == 200
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    env = {**os.environ, "MPPHUB_SECRET_FILE": str(secret), "MPPHUB_AUDIT_DB_URL": audit_url}
    argv = [str(MPPHUB), "audit", "verify", "--no-kafka"]
    ok = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "3 entries" in ok.stdout, ok.stderr
    engine = create_engine(audit_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET purpose = 'other' WHERE seq = 2"))
    engine.dispose()
    bad = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "entry 2:" in bad.stderr and "edited" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_heads_go_to_a_topic_kept_forever_and_a_rewritten_chain_disagrees(client, stack):
    kafka = KafkaSettings(bootstrap=stack.bootstrap)
    topic = f"test.audit-heads.{uuid.uuid4().hex[:8]}"
    audit = client.app.state.audit
    lookup(client, f.NIK_A, OFFICER)
    lookup(client, f.NIK_B, OFFICER)

    async def publish_twice():
        publisher = HeadPublisher(kafka, topic)
        try:
            first = await publisher.publish(audit)
            again = await publisher.publish(audit)  # the head did not move: nothing sent
            return first, again
        finally:
            await publisher.close()

    first, again = asyncio.run(publish_twice())
    assert (first.seq, again) == (2, None)
    configs = asyncio.run(topic_config(kafka, topic))
    assert configs["cleanup.policy"] == "delete" and configs["retention.ms"] == "-1"
    heads = asyncio.run(published_heads(kafka, topic))
    assert [(h.seq, h.hash) for h in heads] == [audit.head()]
    assert verify(audit, heads).ok
    # Entry 2 deleted and replaced by a valid entry made with the secret: the chain alone
    # holds, the published head does not.
    with audit.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq = 2"))
    lookup(client, f.NIK_B, SUPERVISOR)
    assert verify(audit).ok
    verdict = verify(audit, heads)
    assert verdict.problem.seq == 2 and "rewritten" in str(verdict.problem)


def test_the_running_api_publishes_its_head_periodically(
    store, commands, audit, auth_settings, stack
):
    from fastapi.testclient import TestClient

    from projections.api import create_api
    from projections.settings import ApiSettings
    from tests.projections.api.conftest import project_scenario
    from tests.projections.api.logins import Login, log_in

    kafka = KafkaSettings(bootstrap=stack.bootstrap)
    topic = f"test.audit-heads.{uuid.uuid4().hex[:8]}"
    project_scenario(store)
    settings = ApiSettings(
        db_url=str(store.engine.url), audit_head_interval_s=0.3, auth=auth_settings, kafka=kafka
    )
    api = create_api(
        settings, store=store, commands=commands, audit=audit, heads=HeadPublisher(kafka, topic)
    )
    officer = Login("petugas9", "officer")
    log_in(api, officer)
    with TestClient(api) as c:
        assert lookup(c, f.NIK_A, officer).status_code == 200

        def published() -> list:
            return asyncio.run(published_heads(kafka, topic))

        assert wait_for(lambda: published(), 60, 0.5)
        assert lookup(c, f.NIK_B, officer).status_code == 200
        assert wait_for(lambda: published()[-1].seq == 2, 60, 0.5)
    assert verify(audit, published()).ok
