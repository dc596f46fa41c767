"""The supervisor's pages over the API tests' projection: a page load is audited exactly like the
JSON read it shows; the review form needs the session's CSRF token, sends the API's command and
says in Bahasa Indonesia what went wrong; roles that may not open a page get a 403 page."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from projections.web.deps import PURPOSE_COOKIE
from tests.projections import factories as f
from tests.projections.api.conftest import OFFICER, RESIDENT_B, SUPERVISOR, audit_entries, project
from tests.projections.api.logins import Login, log_in
from tests.projections.api.test_sla_board import ADMIN_PUPR, add_board_permits

HTML = {"Accept": "text/html"}
P_C = f.pid(3)
PATIENT = f.person(
    f.NIK_B[:6] + f.NIK_B[7] + f.NIK_B[6] + f.NIK_B[8:],
    agency="bpjs",
    table="peserta_jkn",
    record_id="5",
    position="j5",
    name="L. SITI",
)
KEY_B, KEY_P = RESIDENT_B["record_key"], PATIENT["record_key"]
AUDITOR = Login("inspektorat-pages", "auditor", purpose="complaint")


@pytest.fixture
def pages(client):
    """The conftest's API with the SLA board's permits and one review pair waiting; the board
    on Thu 20 Aug 2026."""
    add_board_permits(client.app.state.store, client.log)
    review = f.decision(
        "REVIEW", P_C, KEY_P, other_record_id=KEY_B, evidence=f.evidence(), reason="score", at=3
    )
    log = client.log
    project(client.app.state.store, [*log.linked(PATIENT, P_C, kind="NEW"), log.identity(review)])
    client.app.state.clock = lambda: dt.date(2026, 8, 20)
    log_in(client.app, ADMIN_PUPR, AUDITOR)
    return client


def browser(client, login: Login) -> dict[str, str]:
    """A browser's headers for this login: its session cookie and its stated purpose (through
    the purpose form, as a browser states it)."""
    cookie = login["Cookie"]
    r = client.post(
        "/tujuan",
        data={"purpose": login.purpose, "csrf_token": login["X-CSRF-Token"], "next": "/"},
        headers={"Cookie": cookie, **HTML},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return {"Cookie": f"{cookie}; {PURPOSE_COOKIE}={r.cookies[PURPOSE_COOKIE]}", **HTML}


def _entries(client, action: str) -> list[tuple[str | None, str, str]]:
    return sorted(
        (e.person_id, e.who, e.purpose) for e in audit_entries(client) if e.action == action
    )


def test_page_loads_are_audited_like_the_api_reads(pages):
    as_browser = browser(pages, SUPERVISOR)
    assert pages.get("/papan-sla", headers=as_browser).status_code == 200
    page_board = _entries(pages, "permits.sla_board")
    assert pages.get("/permits/sla-board", headers=SUPERVISOR).status_code == 200
    assert _entries(pages, "permits.sla_board") == sorted(page_board * 2)
    assert {p for p, _, _ in page_board} == {f.P_A, f.pid(7)}

    assert pages.get("/tinjauan-identitas", headers=as_browser).status_code == 200
    page_queue = _entries(pages, "identity.reviews")
    assert page_queue == [(f.P_B, "kabid", "data_correction"), (P_C, "kabid", "data_correction")]
    assert pages.get("/identity/reviews", headers=SUPERVISOR).status_code == 200
    assert _entries(pages, "identity.reviews") == sorted(page_queue * 2)


def review_form(page_text: str) -> dict[str, str]:
    """The hidden fields of the review page's first pair form (its pair, the CSRF token)."""
    fields = dict(re.findall(r'name="(record_id|other_record_id)" value="([^"]+)"', page_text))
    fields["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)
    return fields


def test_the_review_form_sends_the_apis_command(pages, commands):
    as_browser = browser(pages, SUPERVISOR)
    form = review_form(pages.get("/tinjauan-identitas", headers=as_browser).text)
    r = pages.post(
        "/tinjauan-identitas",
        data={**form, "decision": "different", "note": "beda tanggal lahir di KTP"},
        headers=as_browser,
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/tinjauan-identitas?dikirim=different")
    (command,) = commands.sent
    assert (command["kind"], command["record_id"], command["other_record_id"]) == (
        "CANNOT_LINK",
        min(KEY_B, KEY_P),
        max(KEY_B, KEY_P),
    )
    assert command["person_id"] == (P_C if KEY_P < KEY_B else f.P_B)
    assert command["reason"] == "kabid"
    assert _entries(pages, "identity.decide")[0][1:] == ("kabid", "data_correction")
    page = pages.get("/tinjauan-identitas?dikirim=different", headers=as_browser).text
    assert "berbeda (bukan orang yang sama)</strong> telah dikirim" in page


def test_a_review_form_without_the_sessions_csrf_token_sends_nothing(pages, commands):
    as_browser = browser(pages, SUPERVISOR)
    form = review_form(pages.get("/tinjauan-identitas", headers=as_browser).text)
    for token in ("", "not-the-token"):
        r = pages.post(
            "/tinjauan-identitas",
            data={**form, "csrf_token": token, "decision": "same"},
            headers=as_browser,
        )
        assert r.status_code == 403
        assert "kedaluwarsa" in r.text and "Traceback" not in r.text
    assert commands.sent == []


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"decision": "perhaps"}, 422, "pilih &#39;sama&#39; atau &#39;berbeda&#39;"),
        ({"other_record_id": "R-NO-SUCH-RECORD"}, 404, "tidak ditemukan"),
    ],
    ids=["bad-decision", "unknown-record"],
)
def test_a_bad_decision_is_said_on_the_page(pages, commands, change, status, message):
    as_browser = browser(pages, SUPERVISOR)
    form = review_form(pages.get("/tinjauan-identitas", headers=as_browser).text)
    r = pages.post(
        "/tinjauan-identitas", data={**form, "decision": "same", **change}, headers=as_browser
    )
    assert r.status_code == status
    assert message in r.text and "Antrean tinjauan identitas" in r.text
    assert commands.sent == []


@pytest.mark.parametrize(
    ("login", "path"),
    [
        (OFFICER, "/papan-sla"),
        (OFFICER, "/tinjauan-identitas"),
        (AUDITOR, "/papan-sla"),
        (AUDITOR, "/tinjauan-identitas"),
        (ADMIN_PUPR, "/tinjauan-identitas"),
    ],
    ids=["officer-board", "officer-queue", "auditor-board", "auditor-queue", "admin-queue"],
)
def test_roles_without_the_page_get_a_403_page_and_nothing_is_read(pages, login, path):
    r = pages.get(path, headers=browser(pages, login))
    assert r.status_code == 403
    assert "Anda tidak berhak membuka halaman ini" in r.text
    assert "P0000" not in r.text and "Traceback" not in r.text
    assert audit_entries(pages) == []


def test_an_agency_administrators_board_page_holds_their_agency_only(pages):
    r = pages.get("/papan-sla", headers=browser(pages, ADMIN_PUPR))
    assert r.status_code == 200
    assert set(re.findall(r'data-permit="([^"]+)"', r.text)) == {"pupr:1", "pupr:2"}


def test_without_a_purpose_the_board_asks_for_one_first(pages):
    r = pages.get(
        "/papan-sla", headers={"Cookie": SUPERVISOR["Cookie"], **HTML}, follow_redirects=False
    )
    assert (r.status_code, r.headers["location"]) == (303, "/tujuan?next=/papan-sla")
