"""`mpphub bench e2e`: the histogram arithmetic, and one tiny run end to end whose JSON carries
every figure with a sane value."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from ops.agency_servers import server_home
from ops.bench import (
    BenchOptions,
    cost_per_event,
    cpu_seconds,
    exact_quantile,
    quantile,
    run_bench,
    stage_of,
)
from ops.processes import free_port, owned_pid, port_is_free
from tests.conftest import test_stack_config

KEYS = [
    "rows",
    "machine",
    "worker_stages",
    "phases",
    "ratio_hub_to_baseline",
    "peak_memory_mb",
    "cpu_s",
]
PHASES = ["source", "snapshot", "end_to_end", "freshness", "rebuild", "baseline"]
PROCESSES = {"connector", "worker", "rebuild", "baseline"}


def test_quantile_interpolates_within_the_bucket_of_the_increase() -> None:
    before = {0.1: 5.0, 0.5: 5.0, 1.0: 5.0, float("inf"): 5.0}
    after = {0.1: 5.0, 0.5: 15.0, 1.0: 25.0, float("inf"): 25.0}
    # 20 new observations: 10 in (0.1, 0.5], 10 in (0.5, 1.0].
    assert quantile(0.5, before, after) == 0.5
    assert quantile(0.25, before, after) == 0.3
    assert quantile(0.99, before, after) == 0.99
    assert quantile(0.5, after, after) is None  # nothing observed between the scrapes


def test_exact_quantile_is_the_nearest_rank_of_the_observed_values() -> None:
    values = [0.5, 0.1, 0.4, 0.2, 0.3, 0.9, 0.8, 0.7, 0.6, 1.0]
    assert exact_quantile(0.5, values) == 0.6
    assert exact_quantile(0.99, values) == 1.0
    assert exact_quantile(0.0, values) == 0.1
    assert exact_quantile(0.5, []) is None


def test_cost_per_event_is_cpu_over_events_between_two_points_of_the_catch_up() -> None:
    # (worker CPU seconds, events projected) as the bench samples them.
    samples = [(1.0, 0), (1.5, 50), (2.0, 100), (3.0, 200), (9.0, 900), (10.2, 1000)]
    assert cost_per_event(samples, 1000, (0.1, 0.2)) == {
        "from_events": 100,
        "to_events": 200,
        "cpu_us_per_event": 10000.0,
    }
    assert cost_per_event(samples, 1000, (0.9, 1.0))["cpu_us_per_event"] == 12000.0
    assert cost_per_event(samples[:3], 1000, (0.9, 1.0)) is None  # not there yet


def test_cpu_seconds_of_this_process_grow_with_work() -> None:
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert before is not None and cpu_seconds(os.getpid()) > before
    assert cpu_seconds(2**22 + 12345) is None  # no such process


def test_a_worker_child_is_named_by_its_stage() -> None:
    code = "import time; time.sleep(30)  # from ops.stage_process import child_main"
    child = subprocess.Popen([sys.executable, "-c", code, "identity", "marker"])
    try:
        deadline = time.monotonic() + 10
        while stage_of(child.pid) != "identity" and time.monotonic() < deadline:
            time.sleep(0.05)  # until the exec has replaced the fork's command line
        assert stage_of(child.pid) == "identity"
    finally:
        child.kill()
        child.wait()
    assert stage_of(os.getpid()) == f"child {os.getpid()}"  # not a worker's stage


def test_rows_beyond_a_million_are_refused() -> None:
    assert BenchOptions(rows=1_000_000).rows == 1_000_000
    with pytest.raises(ValueError, match="rows"):
        BenchOptions(rows=1_000_001)


def _processes_under(directory: Path) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and owned_pid(int(p.name), str(directory))
    ]


@pytest.mark.integration
def test_a_tiny_run_reports_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stack of its own on free ports (the session's stays untouched), and a free metrics port.
    stack = test_stack_config(tmp_path / "ports", base=60)
    monkeypatch.setenv("MPPHUB_DIST_DIR", str(stack.dist_dir))
    monkeypatch.setenv("MPPHUB_KAFKA_PORT", str(stack.kafka_port))
    monkeypatch.setenv("MPPHUB_CONTROLLER_PORT", str(stack.controller_port))
    monkeypatch.setenv("MPPHUB_REGISTRY_PORT", str(stack.registry_port))
    # The worker's resolver in a child process (`mpphub worker --identity process`), as the
    # README's measurements run it; the projections inline.
    monkeypatch.setenv("MPPHUB_WORKER_IDENTITY", "process")
    monkeypatch.delenv("MPPHUB_WORKER_PROJECTIONS", raising=False)
    opts = BenchOptions(
        rows=300, rate=20, steady_s=3, dir=tmp_path / "bench", worker_metrics_port=free_port()
    )

    result = json.loads(json.dumps(run_bench(Console(file=io.StringIO()), opts)))

    assert list(result) == KEYS
    assert list(result["phases"]) == PHASES
    assert result["rows"] == 300
    assert result["worker_stages"] == {"projections": "inline", "identity": "process"}
    phases = result["phases"]
    assert phases["source"]["capture"] == "postgres"  # PostgreSQL is installed: its log, no polling
    snapshot, e2e = phases["snapshot"], phases["end_to_end"]
    assert snapshot["startup_s"] > 0 and snapshot["rows_per_s"] > 0
    assert e2e["startup_s"] > 0 and e2e["seconds"] > 0 and e2e["events_per_s"] > 0
    assert e2e["events"] == 300 and e2e["projected_rows"] == 300
    # Relayed from the resolver's child: families share KK numbers and addresses, so some
    # records had candidates to score.
    assert e2e["identity_candidates_per_record"] > 0
    assert e2e["cpu_s"]["worker"] > 0 and e2e["worker_cpu_us_per_event"] > 0
    # The worker's own process and its resolver's child apart; together, the worker's CPU.
    parts = e2e["worker_processes"]
    assert set(parts) == {"main", "identity"}
    assert all(p["cpu_us_per_event"] > 0 and p["peak_mb"] > 0 for p in parts.values())
    total = sum(p["cpu_us_per_event"] for p in parts.values())
    assert total == pytest.approx(e2e["worker_cpu_us_per_event"], rel=0.1)
    engine = sa.create_engine(f"sqlite:///{opts.dir / 'projections.db'}")
    try:
        with engine.connect() as c:
            projected = c.scalar(sa.text("SELECT count(*) FROM citizen_source_record"))
    finally:
        engine.dispose()
    assert projected == 300  # every snapshot row went end to end, once
    fresh = phases["freshness"]
    assert fresh["offered_rate_per_s"] == 20
    assert fresh["updates"] == pytest.approx(20 * 3, abs=2)  # the offered rate, tick by tick
    assert 0 < fresh["p50_s"] <= fresh["p95_s"] <= fresh["p99_s"]
    capture = fresh["capture"]  # every update's commit-to-Kafka time, from the topic itself
    assert capture["events"] == fresh["updates"]
    assert 0 <= capture["p50_s"] <= capture["p95_s"] <= capture["p99_s"] < 30
    rebuild = phases["rebuild"]
    assert rebuild["events_per_s"] > 0 and rebuild["events"] >= 600  # facts and decisions
    assert rebuild["identical_to_live"] is True
    assert rebuild["rows"]["citizen_source_record"] == 300
    assert phases["baseline"]["events_per_s"] > 0 and result["ratio_hub_to_baseline"] > 0
    assert set(result["peak_memory_mb"]) == PROCESSES == set(result["cpu_s"])
    assert all(mb and mb > 0 for mb in result["peak_memory_mb"].values())
    assert all(s > 0 for s in result["cpu_s"].values())
    # Nothing it started outlives it.
    assert _processes_under(opts.dir) == []
    assert _processes_under(server_home(opts.dir)) == []  # the source PostgreSQL too
    assert all(port_is_free(p) for p in stack.ports().values())
    assert port_is_free(opts.worker_metrics_port)
