"""`mpphub bench e2e`: the histogram arithmetic, and one tiny run end to end whose JSON carries
every figure with a sane value."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from ops.bench import BenchOptions, quantile, run_bench
from ops.processes import free_port, owned_pid, port_is_free
from tests.conftest import test_stack_config

KEYS = [
    "rows",
    "machine",
    "snapshot_rows_per_s",
    "worker_startup_s",
    "e2e_events_per_s",
    "freshness_s",
    "rebuild_events_per_s",
    "baseline_events_per_s",
    "ratio_hub_to_baseline",
    "peak_memory_mb",
]


def test_quantile_interpolates_within_the_bucket_of_the_increase() -> None:
    before = {0.1: 5.0, 0.5: 5.0, 1.0: 5.0, float("inf"): 5.0}
    after = {0.1: 5.0, 0.5: 15.0, 1.0: 25.0, float("inf"): 25.0}
    # 20 new observations: 10 in (0.1, 0.5], 10 in (0.5, 1.0].
    assert quantile(0.5, before, after) == 0.5
    assert quantile(0.25, before, after) == 0.3
    assert quantile(0.99, before, after) == 0.99
    assert quantile(0.5, after, after) is None  # nothing observed between the scrapes


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
    opts = BenchOptions(
        rows=300, rate=20, steady_s=3, dir=tmp_path / "bench", worker_metrics_port=free_port()
    )

    result = json.loads(json.dumps(run_bench(Console(file=io.StringIO()), opts)))

    assert list(result) == KEYS
    assert result["rows"] == 300
    assert result["snapshot_rows_per_s"] > 0
    assert result["worker_startup_s"] > 0 and result["e2e_events_per_s"] > 0
    engine = sa.create_engine(f"sqlite:///{opts.dir / 'projections.db'}")
    try:
        with engine.connect() as c:
            projected = c.scalar(sa.text("SELECT count(*) FROM citizen_source_record"))
    finally:
        engine.dispose()
    assert projected == 300  # every snapshot row went end to end, once
    fresh = result["freshness_s"]
    assert fresh["offered_rate_per_s"] == 20 and fresh["updates"] > 0
    assert 0 < fresh["p50"] <= fresh["p95"] <= fresh["p99"]
    assert result["rebuild_events_per_s"] > 0
    assert result["baseline_events_per_s"] > 0 and result["ratio_hub_to_baseline"] > 0
    assert set(result["peak_memory_mb"]) == {"connector", "worker", "rebuild", "baseline"}
    assert all(mb and mb > 0 for mb in result["peak_memory_mb"].values())
    # Nothing it started outlives it.
    assert _processes_under(opts.dir) == []
    assert all(port_is_free(p) for p in stack.ports().values())
    assert port_is_free(opts.worker_metrics_port)
