"""The supervisor's pages over the API tests' projection: a page load is audited exactly like the
JSON read it shows; the review form needs the session's CSRF token, sends the API's command and
says in Bahasa Indonesia what went wrong; roles that may not open a page get a 403 page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from projections.web.deps import PURPOSE_COOKIE
from tests.browser.harness import make_app
from tests.projections import factories as f
from tests.projections.api.conftest import RESIDENT_B, audit_entries, project, project_scenario
from tests.projections.api.logins import Login, log_in
from tests.projections.api.test_sla_board import ADMIN_PUPR, add_board_permits

HTML = {"Accept": "text/html"}
P_C = f.pid(3)
# A health-insurance record: resident B's NIK with two digits swapped, a name variant.
NIK_B_SWAPPED = f.NIK_B[:6] + f.NIK_B[7] + f.NIK_B[6] + f.NIK_B[8:]
PATIENT = f.person(
    NIK_B_SWAPPED, agency="bpjs", table="peserta_jkn", record_id="5", position="j5", name="L. SITI"
)
KEY_B, KEY_P = RESIDENT_B["record_key"], PATIENT["record_key"]
BOARD_DAY = dt.date(2026, 8, 20)  # a Thursday; Independence Day (Mon 17 Aug) just behind it
# This module's own logins (one app for the whole module: its setup is the slow part).
SUPERVISOR = Login("kabid", "supervisor", purpose="data_correction")
OFFICER = Login("petugas1", "officer", purpose="service_delivery")
AUDITOR = Login("inspektorat-pages", "auditor", purpose="complaint")
ADMIN_BPN = Login("admin-bpn", "agency_admin", purpose="data_quality", agency="bpn")


def seed(store) -> None:
    """The API tests' scenario, the SLA board's permits, and one review pair waiting."""
    log = project_scenario(store)
    add_board_permits(store, log)
    review = f.decision(
        "REVIEW", P_C, KEY_P, other_record_id=KEY_B, evidence=f.evidence(), reason="score", at=3
    )
    project(store, [*log.linked(PATIENT, P_C, kind="NEW"), log.identity(review)])


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """One API and its pages for the module over `seed`; the board on BOARD_DAY; review
    decisions recorded in `app.state.commands.sent`."""
    app = make_app(tmp_path_factory.mktemp("supervisor-pages"), seed)
    app.state.clock = lambda: BOARD_DAY
    log_in(app, SUPERVISOR, OFFICER, AUDITOR, ADMIN_PUPR, ADMIN_BPN)
    with TestClient(app) as client:
        yield client


def sent(client) -> list[dict]:
    return client.app.state.commands.sent


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


def _entries(client, action: str) -> list[tuple[str | None, tuple[str, str]]]:
    """(person id, (who, purpose)) of each audit entry of `action`, oldest first."""
    return [(e.person_id, (e.who, e.purpose)) for e in audit_entries(client) if e.action == action]


def test_page_loads_are_audited_like_the_api_reads(pages):
    as_browser = browser(pages, SUPERVISOR)
    for page, api, action, people in [
        ("/papan-sla", "/permits/sla-board", "permits.sla_board", {f.P_A, f.pid(7)}),
        ("/tinjauan-identitas", "/identity/reviews", "identity.reviews", {f.P_B, P_C}),
    ]:
        start = len(_entries(pages, action))
        assert pages.get(page, headers=as_browser).status_code == 200
        by_page = _entries(pages, action)[start:]
        assert pages.get(api, headers=SUPERVISOR).status_code == 200
        by_api = _entries(pages, action)[start + len(by_page) :]
        assert by_page == by_api, action
        assert {p for p, _ in by_page} == people
        assert {who for _, who in by_page} == {("kabid", "data_correction")}


def review_form(page_text: str) -> dict[str, str]:
    """The hidden fields of the review page's first pair form (its pair, the CSRF token)."""
    fields = dict(re.findall(r'name="(record_id|other_record_id)" value="([^"]+)"', page_text))
    fields["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)
    return fields


def test_the_review_form_sends_the_apis_command(pages):
    before, decided = len(sent(pages)), len(_entries(pages, "identity.decide"))
    as_browser = browser(pages, SUPERVISOR)
    form = review_form(pages.get("/tinjauan-identitas", headers=as_browser).text)
    r = pages.post(
        "/tinjauan-identitas",
        data={**form, "decision": "different", "note": "beda tanggal lahir di KTP"},
        headers=as_browser,
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/tinjauan-identitas?dikirim=different")
    (command,) = sent(pages)[before:]
    assert (command["kind"], command["record_id"], command["other_record_id"]) == (
        "CANNOT_LINK",
        min(KEY_B, KEY_P),
        max(KEY_B, KEY_P),
    )
    assert command["person_id"] == (P_C if KEY_P < KEY_B else f.P_B)
    assert command["reason"] == "kabid"
    assert _entries(pages, "identity.decide")[decided:] == [
        (command["person_id"], ("kabid", "data_correction"))
    ]
    page = pages.get("/tinjauan-identitas?dikirim=different", headers=as_browser).text
    assert "berbeda (bukan orang yang sama)</strong> telah dikirim" in page


def test_a_review_form_without_the_sessions_csrf_token_sends_nothing(pages):
    before = len(sent(pages))
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
    assert len(sent(pages)) == before


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"decision": "perhaps"}, 422, "pilih &#39;sama&#39; atau &#39;berbeda&#39;"),
        ({"other_record_id": "R-NO-SUCH-RECORD"}, 404, "tidak ditemukan"),
    ],
    ids=["bad-decision", "unknown-record"],
)
def test_a_bad_decision_is_said_on_the_page(pages, change, status, message):
    before = len(sent(pages))
    as_browser = browser(pages, SUPERVISOR)
    form = review_form(pages.get("/tinjauan-identitas", headers=as_browser).text)
    r = pages.post(
        "/tinjauan-identitas", data={**form, "decision": "same", **change}, headers=as_browser
    )
    assert r.status_code == status
    assert message in r.text and "Antrean tinjauan identitas" in r.text
    assert len(sent(pages)) == before


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
    as_browser = browser(pages, login)
    before = len(audit_entries(pages))
    r = pages.get(path, headers=as_browser)
    assert r.status_code == 403
    assert "Anda tidak berhak membuka halaman ini" in r.text
    assert "P0000" not in r.text and "Traceback" not in r.text
    assert len(audit_entries(pages)) == before


def test_an_agency_administrators_board_page_holds_their_agency_only(pages):
    r = pages.get("/papan-sla", headers=browser(pages, ADMIN_PUPR))
    assert r.status_code == 200
    assert set(re.findall(r'data-permit="([^"]+)"', r.text)) == {"pupr:1", "pupr:2"}
    # The applicant is a person id, not a link: the citizen page is the counter's.
    assert "/warga/" not in r.text and f.pid(7) in r.text
    empty = pages.get("/papan-sla", headers=browser(pages, ADMIN_BPN))
    assert empty.status_code == 200
    assert (
        "Tidak ada permohonan terbuka saat ini." in empty.text and "data-permit" not in empty.text
    )


def test_a_supervisor_goes_from_the_board_to_the_applicants_citizen_page(pages):
    r = pages.get("/papan-sla", headers=browser(pages, SUPERVISOR))
    links = set(re.findall(r'href="/warga/([^"]+)"', r.text))
    assert links == {f.P_A, f.pid(7)}


def test_without_a_purpose_the_board_asks_for_one_first(pages):
    r = pages.get(
        "/papan-sla", headers={"Cookie": SUPERVISOR["Cookie"], **HTML}, follow_redirects=False
    )
    assert (r.status_code, r.headers["location"]) == (303, "/tujuan?next=/papan-sla")
