"""The API's tests share one SQLite projection: two people (P_A from two agencies' records, P_B),
two services, four permits from 1 Jul 2026 seen on 20 Jul, behind a TestClient whose review
decisions go to a recorder and whose audit is an SQLite file of its own; and a reader of the
audit."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from domain.tokens import Tokens
from projections.api import create_api
from projections.audit import AuditEntry, open_audit
from projections.auth import AuthSettings
from projections.settings import ApiSettings
from projections.writer import apply_batch

# The session's Keycloak (started early when a collected test needs it; stopped at the end).
from tests.keycloak import keycloak, pytest_collection_modifyitems, pytest_sessionfinish  # noqa: F401
from tests.projections import factories as f
from tests.projections.api.logins import Login, log_in

D = dt.date
TODAY = D(2026, 7, 20)
# Real logins (built-in accounts through the login form), filled in by the client fixture.
OFFICER = Login("petugas1", "officer", purpose="service_delivery")
SUPERVISOR = Login("kabid", "supervisor", purpose="data_correction")
MASKED_A = f.NIK_A[:6] + "*" * 10


# As SIAK's connector gives them: the record id and the position hold the NIK.
RESIDENT_A = f.person(
    record_id=f.NIK_A,
    position=f"2026-07-01T08:00:00|{f.NIK_A}",
    name="WA ODE SITI",
    sex="P",
    birth_date=D(1990, 7, 5),
    kk_number="7413010101900003",
    address="Laworo",
)
APPLICANT_A = f.person(
    agency="dpmptsp", table="tmpemohon", record_id="1", position="e1", occupation="Dokter"
)
RESIDENT_B = f.person(f.NIK_B, record_id="2", position="p2", name="LA ODE SITI")


class Commands:
    """Records the review commands the API sends (the real producer: test_reviews_kafka.py)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.closed = False

    async def send(self, command: dict) -> None:
        self.sent.append(command)

    async def close(self) -> None:
        self.closed = True


def project(store, messages) -> None:
    """Apply messages in one batch, as seen on TODAY."""
    with store.sessions() as s:
        apply_batch(s, messages, today=TODAY)


class Heads:
    """Stands in for the head publisher (the real one: tests/projections/audit/)."""

    async def run(self, audit, interval_s: float) -> None:
        return None

    async def close(self) -> None:
        return None


TOKENS = Tokens(b"api-tests-secret-0123456789abcdef")


@pytest.fixture
def commands() -> Commands:
    return Commands()


@pytest.fixture
def audit(tmp_path):
    log = open_audit(f"sqlite:///{tmp_path / 'audit.db'}", TOKENS)
    yield log
    log.close()


@pytest.fixture
def auth_settings(tmp_path) -> AuthSettings:
    """The API's authentication: built-in accounts in the test's own database (a module that
    tests OIDC overrides this with its provider)."""
    return AuthSettings(accounts_db_url=f"sqlite:///{tmp_path / 'accounts.db'}")


def project_scenario(store) -> f.Log:
    """Project the scenario (two people, two services, four permits) into `store`; its log."""
    log = f.Log()
    messages = [
        *log.linked(RESIDENT_A, f.P_A, kind="NEW"),
        *log.linked(APPLICANT_A, f.P_A),
        *log.linked(RESIDENT_B, f.P_B, kind="NEW"),
        log.service(f.service(sla_days=9)),
        log.service(
            f.service(
                "dpmptsp:2", code="ITR", name="Informasi Tata Ruang", sla_days=7, position="v2"
            )
        ),
    ]
    # From Wed 1 Jul: issued Tue 7 (4 working days), issued Fri 17 (12, breached), rejected
    # on Sat 4 (2); one still open (13 days on 20 Jul, breached).
    for n, (outcome, days_to_finish) in enumerate(
        [("ISSUED", 6), ("ISSUED", 16), ("REJECTED", 3), (None, None)]
    ):
        pid = f"dpmptsp:{n + 1}"
        start = D(2026, 7, 1)
        messages.append(log.permit(f.application(pid, position=f"a{n}", file_complete_date=start)))
        messages.append(log.permit(f.status(pid, 1, "FILE_COMPLETE", start, position=f"s{n}.1")))
        if outcome:
            end = start + dt.timedelta(days=days_to_finish)
            if outcome == "ISSUED":
                messages.append(log.permit(f.status(pid, 2, "APPROVED", end, position=f"s{n}.2")))
            messages.append(log.permit(f.status(pid, 3, outcome, end, hour=15, position=f"s{n}.3")))
    project(store, messages)
    return log


@pytest.fixture
def client(store, commands, audit, auth_settings):
    """The API over the scenario's projection (the store left open for the test to read)."""
    log = project_scenario(store)
    settings = ApiSettings(
        db_url=str(store.engine.url),
        audit_head_interval_s=0,
        auth=auth_settings,
    )
    api = create_api(settings, store=store, commands=commands, audit=audit, heads=Heads())
    log_in(api, OFFICER, SUPERVISOR)
    with TestClient(api) as c:
        c.log = log  # for tests that project more
        yield c


def audit_entries(client) -> list[AuditEntry]:
    """Every audit entry of the client's API, oldest first."""
    return list(client.app.state.audit.entries())
