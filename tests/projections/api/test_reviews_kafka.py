"""POST /identity/reviews and the review page's form against the real broker and registry: the
supervisor's decision is on the review topic, Avro-framed with a string key, read back as the
resolver would read it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fastapi.testclient import TestClient

from eventlog import KafkaSettings, admin
from eventlog.topics import KEEP_FOREVER
from projections.api import create_api
from projections.commands import ReviewCommands
from projections.settings import ApiSettings
from tests.connectors.harness import read_topic
from tests.projections import factories as f
from tests.projections.api.conftest import RESIDENT_A, RESIDENT_B, SUPERVISOR, Heads, project
from tests.projections.api.logins import log_in
from tests.projections.api.test_supervisor_pages import browser, review_form

pytestmark = pytest.mark.integration


def test_a_supervisor_decision_reaches_the_review_topic(stack, store, audit, auth_settings):
    topic = f"test.{uuid.uuid4().hex[:8]}.identity-reviews"
    kafka = KafkaSettings(bootstrap=stack.bootstrap)
    asyncio.run(
        admin.ensure_topics(kafka, {topic: KEEP_FOREVER}, partitions=1, replication_factor=1)
    )
    log = f.Log()
    a, b = RESIDENT_A["record_key"], RESIDENT_B["record_key"]
    project(
        store,
        [
            *log.linked(RESIDENT_A, f.P_A, kind="NEW"),
            *log.linked(RESIDENT_B, f.P_B, kind="NEW"),
            log.identity(f.decision("REVIEW", f.P_B, b, other_record_id=a)),
        ],
    )
    settings = ApiSettings(
        db_url=str(store.engine.url),
        kafka=kafka,
        registry_url=stack.registry_url,
        audit_head_interval_s=0,
        auth=auth_settings,
    )
    commands = ReviewCommands(settings.kafka, settings.registry_url, topic=topic)
    # The test's own audit (and its secret): nothing read from the working directory.
    api = create_api(settings, store=store, commands=commands, audit=audit, heads=Heads())
    log_in(api, SUPERVISOR)
    with TestClient(api) as client:
        body = {"record_id": b, "other_record_id": a, "decision": "different", "note": "kembar"}
        r = client.post("/identity/reviews", json=body, headers=SUPERVISOR)
        assert r.status_code == 202, r.text
        body["decision"] = "same"
        assert client.post("/identity/reviews", json=body, headers=SUPERVISOR).status_code == 202
        # The review page's form goes the same way (its pair: the records in key order).
        as_browser = browser(client, SUPERVISOR)
        form = review_form(client.get("/tinjauan-identitas", headers=as_browser).text)
        r = client.post(
            "/tinjauan-identitas",
            data={**form, "decision": "different"},
            headers=as_browser,
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    events = read_topic(stack, topic).events
    assert [e.key for e in events] == [b, b, min(a, b)]
    first = events[0].value
    assert {k: first[k] for k in ("kind", "person_id", "record_id", "other_record_id")} == {
        "kind": "CANNOT_LINK",
        "person_id": f.P_B,
        "record_id": b,
        "other_record_id": a,
    }
    assert first["reason"] == "kabid"
    assert (first["record"], first["evidence"], first["other_person_ids"]) == (None, None, [])
    assert "kembar" not in str(first)  # the note stays in the hub's database
    assert events[1].value["kind"] == "MUST_LINK"
    from_page = events[2].value
    assert {k: from_page[k] for k in ("kind", "record_id", "other_record_id", "reason")} == {
        "kind": "CANNOT_LINK",
        "record_id": min(a, b),
        "other_record_id": max(a, b),
        "reason": "kabid",
    }
