"""The pipeline health page in Debian's chromium, over the real broker and registry: a hub of its
own (a topic prefix) with one source table whose worker group has taken one of three changes
(lag 2), and three dead letters under two reasons. A supervisor sees the lag, the last change
and the dead letters by reason, and GET /pipeline/health says the same; an officer is refused."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from eventlog import KafkaSettings
from projections.api import create_api
from projections.audit import open_audit
from projections.auth import AuthSettings
from projections.settings import ApiSettings
from projections.store import open_store
from schemas import catalog
from schemas.codec import Serializer
from schemas.registry import RegistryClient
from tests.browser.harness import add_user, live_server, log_in
from tests.projections.api.conftest import TOKENS, Commands, Heads

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
REASONS = ["NIK kolom tidak terbaca", "NIK kolom tidak terbaca", "skema tidak dikenal"]
METRICS = "http://127.0.0.1:9108/metrics"


def letter(reason: str) -> dict:
    return {
        "reason": reason, "error_type": "MappingError", "stage": "normalize",
        "original_topic": None, "partition": 0, "offset": 1, "key": None, "value": b"x",
        "agency": "disdukcapil", "source_table": "BIODATA_WNI", "source_position": "p",
        "ts": dt.datetime(2026, 7, 1, 8, tzinfo=dt.UTC),
    }  # fmt: skip


@pytest.fixture(scope="module")
def server(stack, tmp_path_factory) -> Iterator[str]:
    prefix = f"h4{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(bootstrap=stack.bootstrap, topic_prefix=prefix)
    raw = kafka.topics.raw("disdukcapil", "BIODATA_WNI")
    admin = KafkaAdminClient(bootstrap_servers=stack.bootstrap)
    admin.create_topics([NewTopic(t, 1, 1) for t in (raw, kafka.topics.deadletter)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    dead = Serializer(
        RegistryClient(stack.registry_url),
        f"{kafka.topics.deadletter}-value",
        catalog.get("dead_letter").schema,
    )
    for i in range(3):
        producer.send(raw, key=b"k%d" % i, value=b"v", partition=0).get(30)
    for reason in REASONS:
        producer.send(kafka.topics.deadletter, value=dead(letter(reason))).get(30)
    producer.close()
    # The worker's group has taken the first change only.
    group = KafkaConsumer(
        bootstrap_servers=stack.bootstrap,
        group_id=kafka.topics.group("mpphub-worker"),
        enable_auto_commit=False,
    )
    group.commit({TopicPartition(raw, 0): OffsetAndMetadata(1, None, -1)})
    group.close()

    d = tmp_path_factory.mktemp("pipeline")
    store = open_store(f"sqlite:///{d / 'projections.db'}")
    settings = ApiSettings(
        db_url=str(store.engine.url),
        kafka=kafka,
        registry_url=stack.registry_url,
        audit_head_interval_s=0,
        auth=AuthSettings(accounts_db_url=f"sqlite:///{d / 'accounts.db'}"),
        metrics_urls=(METRICS,),
    )
    audit = open_audit(f"sqlite:///{d / 'audit.db'}", TOKENS)
    app = create_api(settings, store=store, commands=Commands(), audit=audit, heads=Heads())
    add_user(app, "kabid", "supervisor")
    add_user(app, "petugas1", "officer")
    with live_server(app) as base:
        yield base


def test_the_supervisor_sees_lag_last_change_and_dead_letters(page, server):
    log_in(page, server, "kabid", PASSWORD, purpose="data_correction")
    page.goto(f"{server}/")
    page.get_by_role("navigation").get_by_role("link", name="Kesehatan pipeline").click()
    page.wait_for_url(f"{server}/kesehatan-pipeline")
    row = page.locator("#tabel-sumber tbody tr")
    assert row.count() == 1
    cells = row.locator("td, th").all_inner_texts()
    assert cells[:4] == ["DISDUKCAPIL", "biodata_wni", "3", "2"]  # captured 3, lag 2
    assert cells[4] != "-"  # the last change's time
    letters = page.locator("#dead-letter tbody tr")
    by_reason = {
        letters.nth(i).locator("td.reason").inner_text(): letters.nth(i)
        .locator("td.count")
        .inner_text()
        for i in range(letters.count())
    }
    assert by_reason == {"NIK kolom tidak terbaca": "2", "skema tidak dikenal": "1"}
    assert page.get_by_role("img", name="Dead letter menurut alasan").is_visible()
    assert page.locator("#metrik").get_by_role("link", name=METRICS).is_visible()
    # The JSON API, in the same session, says the same.
    body = page.request.get(f"{server}/pipeline/health").json()
    (table,) = body["tables"]
    assert (table["captured"], table["lag"], table["table"]) == (3, 2, "biodata_wni")
    assert table["age_s"] is not None and table["age_s"] >= 0
    assert sorted((d["reason"], d["count"]) for d in body["dead_letters"]) == [
        ("NIK kolom tidak terbaca", 2),
        ("skema tidak dikenal", 1),
    ]
    assert body["metrics"] == [METRICS]


def test_an_officer_is_refused_the_pipeline_page(page, server):
    log_in(page, server, "petugas1", PASSWORD)
    answer = page.goto(f"{server}/kesehatan-pipeline")
    assert answer is not None and answer.status == 403
    assert "hanya untuk supervisor" in page.get_by_role("alert").inner_text()
    assert page.request.get(f"{server}/pipeline/health").status == 403
