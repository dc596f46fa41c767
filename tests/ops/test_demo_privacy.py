"""The demo pipeline leaks no NIK or KK number into a log or a metric: after the sample agencies
were captured, normalized and projected, and the API was asked for citizens (a NIK in a URL
included, which it refuses), every log file of the demo (connectors, worker, API, Kafka, the
registry), its console, `mpphub connect --status` and every metrics endpoint are searched for
every NIK and KK number of the sample databases: zero hits."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ops.processes import wait_for
from tests.ops.demo_samples import sample_numbers
from tests.ops.test_demo import _Demo, officer_headers, projection_state

pytestmark = pytest.mark.integration

PEOPLE, PERMITS = 30, 10  # tests/ops/test_demo.py RUN_DEMO


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        low = line.lower()  # a table label as the source spells it
        if line.startswith(name + "{") and all(
            f'{k}="{v.lower()}"' in low for k, v in labels.items()
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _scrape(port: int, path: str = "/metrics") -> str:
    try:
        r = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5, follow_redirects=True)
    except httpx.HTTPError:
        return ""
    return r.text if r.status_code == 200 else ""


def _log_files(state: Path) -> list[Path]:
    """The demo's process logs and the stack's server logs (not Kafka's data segments, which
    are named *.log too but hold the events themselves)."""
    files = list((state / "logs").glob("*.log"))
    files += list((state / "stack").glob("kafka-*/server.log"))
    files += list((state / "stack").glob("*/*.log"))
    return sorted({f for f in files if "data" not in f.parts})


def test_no_sample_nik_or_kk_in_any_log_or_metric(tmp_path: Path) -> None:
    residents, numbers = sample_numbers(PEOPLE, PERMITS)
    assert len(numbers) > PEOPLE  # NIKs and KK numbers both
    demo = _Demo(tmp_path)
    demo.start()
    scraped: dict[str, str] = {}
    try:
        demo.wait_ready(240)
        connectors, worker = demo.metrics_port, demo.metrics_port + 2

        def captured_and_projected() -> bool:
            rows = _metric(_scrape(connectors), "mpphub_connector_rows_total", table="BIODATA_WNI")
            events = _metric(_scrape(worker), "mpphub_projection_events_total")
            return rows >= PEOPLE and events >= PEOPLE

        assert wait_for(captured_and_projected, 120, 1.0), demo.text()[-3000:]
        api = f"http://127.0.0.1:{demo.api_port}"
        officer = officer_headers(demo.text(), f"{api}/citizens/lookup")
        with httpx.Client(base_url=api, headers=officer, timeout=10) as http:
            # The five residents read below are all projected before they are read (the
            # metrics above count events of every kind, not these people's facts).
            for n, resident in enumerate(residents[:5]):
                assert wait_for(
                    lambda r=resident: (
                        http.post("/citizens/lookup", json={"nik": r}).status_code == 200
                    ),
                    60,
                    1.0,
                ), f"resident {n}: {projection_state(demo.state, resident)}"
            # The ways a NIK could reach the access log: in a path, in a query, in a body.
            for nik in residents[:5]:
                http.get(f"/citizens/{nik}")
                http.get(f"/citizens?nik={nik}")
                assert http.post("/citizens/lookup", json={"nik": nik}).status_code == 200
            assert http.post("/citizens/search", json={"name": "ode"}).status_code == 200
        # Every read above is in the demo's audit, and its chain holds.
        audit_env = {
            **demo.env,
            "MPPHUB_AUDIT_DB_URL": f"sqlite:///{demo.state / 'audit.db'}",
            "MPPHUB_SECRET_FILE": str(demo.state / "secret"),
        }
        verified = subprocess.run(
            [sys.executable, "-m", "ops.cli", "audit", "verify", "--no-kafka"],
            capture_output=True,
            text=True,
            timeout=60,
            env=audit_env,
        )
        assert verified.returncode == 0, verified.stderr
        entries = int(re.search(r"holds: (\d+) entries", verified.stdout).group(1))
        assert entries >= 6  # six lookups at least
        status = subprocess.run(
            [sys.executable, "-m", "ops.cli", "connect", str(demo.state / "config" / "siak.yaml")]
            + ["--status"],
            capture_output=True,
            text=True,
            timeout=120,
            env=demo.env,
        )
        scraped["connect --status"] = status.stdout + status.stderr
        for name, port in (("connector siak", connectors), ("connector sicantik", connectors + 1)):
            scraped[f"{name} metrics"] = _scrape(port)
        scraped["worker metrics"] = _scrape(worker)
        scraped["api metrics"] = _scrape(demo.api_port, "/metrics/")
        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(120) == 0, demo.text()[-3000:]
    finally:
        demo.cleanup()
    assert scraped["worker metrics"] and scraped["connector siak metrics"]
    logs = _log_files(demo.state)
    assert {f.name for f in logs} >= {"connect-siak.log", "worker.log", "api.log", "server.log"}
    texts = {str(f.relative_to(demo.state)): f.read_text(errors="replace") for f in logs}
    texts["demo console"] = demo.text()
    texts.update(scraped)
    # The API logged the requests with a NIK in the URL (refused): the access log is on, it was
    # searched, and the NIKs in it were redacted, not absent.
    assert re.search(r"GET /citizens/<redacted> HTTP/1.1\" 4\d\d", texts["logs/api.log"])
    hits = {
        (where, number) for where, text in texts.items() for number in numbers if number in text
    }
    assert hits == set(), sorted(hits)[:20]
