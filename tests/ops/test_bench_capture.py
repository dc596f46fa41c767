"""`mpphub bench capture` on a small table: both connectors capture every row and update, and the
Debezium run leaves nothing behind (no JVM, no open port, no replication slot)."""

from __future__ import annotations

import psycopg
import pytest

from ops.bench_capture import CaptureOptions, measure
from ops.processes import pid_alive, port_is_free

pytestmark = pytest.mark.integration


def test_both_connectors_are_measured_and_debezium_leaves_nothing_running(
    stack, pg_url: str, tmp_path
) -> None:
    opts = CaptureOptions(rows=3000, updates=1200, dir=tmp_path, timeout_s=300)
    result = measure(stack, pg_url, opts, log=lambda m: None)

    for name in ("debezium", "hub"):
        assert result[name]["snapshot_rows_per_s"] > 0, result
        assert result[name]["streaming_events_per_s"] > 0, result
        assert result[name]["peak_memory_mb"] > 0, result
    hub, dbz = result["hub"], result["debezium"]
    assert result["ratio_hub_to_debezium"] == {
        "snapshot": round(hub["snapshot_rows_per_s"] / dbz["snapshot_rows_per_s"], 3),
        "streaming": round(hub["streaming_events_per_s"] / dbz["streaming_events_per_s"], 3),
    }
    left = dbz["left_running"]
    assert (left["process_alive"], left["rest_port_open"]) == (False, False), left
    # Debezium drops its slot in its task's stop (slot.drop.on.stop). Once in CI (2026-12-03)
    # it had not: the report says so, and the bench dropped it (checked below), so the run
    # still leaves nothing behind.
    assert isinstance(left["slot_left"], bool)
    if left["slot_left"]:
        print("Connect left its replication slot:", (tmp_path / "debezium/connect.log").read_text())
    assert not pid_alive(dbz["pid"])
    assert port_is_free(dbz["rest_port"])
    with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql")) as conn:
        slots = conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall()
    assert ("dbz_bench",) not in slots
