"""The OpenAPI document tells the truth: schemathesis runs every operation of the LIVE API
(`mpphub api` in a child process, over the real stack, logged in through the form as a
supervisor) against the API's own document, with every check, and finds nothing: no 5xx, no
status, header or body the document does not state, no auth that is ignored."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ops.processes import free_port, stop_process, wait_for
from projections.auth.accounts import Accounts
from projections.store import open_store
from tests.projections.api.conftest import project_scenario
from tests.projections.api.logins import PASSWORD, live_login

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live_api(stack, tmp_path_factory) -> Iterator[str]:
    """`mpphub api` over the scenario's projection; its base URL."""
    d = tmp_path_factory.mktemp("live-api")
    store = open_store(f"sqlite:///{d / 'projections.db'}")
    project_scenario(store)
    store.close()
    accounts = Accounts(f"sqlite:///{d / 'accounts.db'}")
    accounts.add("kabid", PASSWORD, "supervisor")
    accounts.close()
    (d / "secret").write_bytes(os.urandom(32))
    port = free_port()
    env = {
        **os.environ,
        "MPPHUB_PROJECTION_DB_URL": f"sqlite:///{d / 'projections.db'}",
        "MPPHUB_AUDIT_DB_URL": f"sqlite:///{d / 'audit.db'}",
        "MPPHUB_ACCOUNTS_DB_URL": f"sqlite:///{d / 'accounts.db'}",
        "MPPHUB_SECRET_FILE": str(d / "secret"),
        "MPPHUB_KAFKA_BOOTSTRAP": stack.bootstrap,
        "MPPHUB_REGISTRY_URL": stack.registry_url,
        "MPPHUB_API_PORT": str(port),
        # The limits themselves are tested apart (test_auth.py); here they would only slow
        # the run down to a crawl of 429s.
        "MPPHUB_LOGIN_RATE": "100000/minute",
        "MPPHUB_SEARCH_RATE": "100000/minute",
    }
    log = open(d / "api.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (d / "api.log").read_text()[-2000:]
        try:
            return httpx.get(f"{base}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_for(up, 60, 0.3), (d / "api.log").read_text()[-2000:]
        yield base
    finally:
        stop_process(proc.pid, child=proc, timeout=10)
        log.close()


def test_schemathesis_finds_nothing(live_api, tmp_path: Path):
    auth = live_login(live_api, "kabid")
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{live_api}/openapi.json",
        "--checks",
        "all",
        "--workers",
        "1",
        # GET /pipeline/health reads the cluster (its first read, before its 10 s cache, waits
        # up to 3 s for last records and 5 s for a new cluster's group coordinator).
        "--request-timeout",
        "30",
        "--max-examples",
        "25",
        "--seed",
        "20261130",
        "--no-color",
        "--exclude-path",
        "/logout",  # would end the very session the run uses
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        *[arg for k, v in auth.items() for arg in ("-H", f"{k}: {v}")],
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-8000:]
    assert "No issues found" in out or " passed" in out, out[-3000:]
