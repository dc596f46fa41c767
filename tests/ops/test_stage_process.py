"""A worker's stages in child processes (`mpphub worker --projections/--identity process`)
without Kafka: a child ends with its parent (even a parent killed with SIGKILL), a child that
fails stops the worker and the parent's /metrics relays the child's hub metrics only."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.exposition import generate_latest

from ops.processes import free_port, owned_pid, wait_for
from ops.stage_process import _Relay, signal_worker, spawn

REPO = Path(__file__).resolve().parents[2]

# A parent that spawns a child as the worker spawns its projections (one that only sleeps).
PARENT = """
import time
from ops.stage_process import spawn
print(spawn("import time; time.sleep(60)").pid, flush=True)
time.sleep(60)
"""

# A worker whose projection child hangs in its stop (SIGTERM ignored), as Faust may on brokers
# that are gone: killed -9, the child must still end, once its grace has passed.
HUNG = """
import time
from ops.stage_process import spawn
code = (
    "import signal, time; from ops.stage_process import exit_when_orphaned; "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); exit_when_orphaned(1.0); time.sleep(60)"
)
print(spawn(code).pid, flush=True)
time.sleep(60)
"""

# A worker's start/stop around a child that cannot reach Kafka (it fails at once): the parent
# is sent SIGTERM by the watch thread, and stop() reports the failure.
FAILING = """
import signal, sys, threading
from ops.settings import HubSettings
from ops import stage_process
got = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: got.set())
hub = HubSettings.from_env()
child = stage_process.start(hub)
print("sigterm" if got.wait(60) else "no sigterm", stage_process.stop(child), flush=True)
"""

# The worker's stop begins the child's at once (streams/app.py's on_stop): the child ends on its
# own SIGTERM, the watch thread takes that for no crash, and stop() afterwards reports none.
BEGUN = """
import signal, threading
from ops import stage_process
got = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: got.set())
child = stage_process.spawn("import time; time.sleep(60)")
threading.Thread(target=stage_process._watch, args=(child,), daemon=True).start()
stage_process.begin_stop(child)
child.wait(10)
crash = "sigterm" if got.wait(1) else "no-sigterm"
print(child.returncode, crash, stage_process.stop(child), flush=True)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def test_the_child_ends_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the projection child outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()


def test_a_child_hung_in_its_stop_ends_after_its_grace_once_the_worker_is_gone() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", HUNG], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(1.5)  # its own grace: a live parent keeps it running
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "a child ignoring SIGTERM outlived its parent"
    finally:
        parent.kill()
        parent.wait()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _wait_state(pids: list[int], state: str) -> list[str]:
    deadline = time.monotonic() + 10
    while {_state(p) for p in pids} != {state} and time.monotonic() < deadline:
        time.sleep(0.05)
    return [_state(p) for p in pids]


def test_a_stopped_worker_is_stopped_with_its_projection_child() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        signal_worker(parent.pid, signal.SIGSTOP)
        assert _wait_state([parent.pid, child], "T") == ["T", "T"]  # both frozen
        signal_worker(parent.pid, signal.SIGCONT)
        assert _wait_state([parent.pid, child], "S") == ["S", "S"]  # both sleeping again
    finally:
        parent.kill()
        parent.wait()


def test_a_failing_child_stops_the_worker(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MPPHUB_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nothing listens there
        "MPPHUB_PROJECTION_DB_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "MPPHUB_WORKER_DATA_DIR": str(tmp_path / "worker"),
    }
    out = subprocess.run(
        [sys.executable, "-c", FAILING],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.stdout.split() == ["sigterm", "True"], out.stderr[-2000:]


def test_the_child_carries_the_workers_data_dir_as_its_marker(tmp_path: Path) -> None:
    marker = str(tmp_path / "worker")
    child = spawn("import sys, time; time.sleep(30)", marker)
    try:
        assert wait_for(lambda: owned_pid(child.pid, marker), 5, 0.02)
    finally:
        child.kill()
        child.wait()


def test_the_relay_passes_on_the_childs_hub_metrics_only() -> None:
    registry = CollectorRegistry()
    Counter("mpphub_projection_events", "events", ["topic"], registry=registry).labels(
        topic="mpp.canonical.person"
    ).inc(7)
    Counter("other_total", "not the hub's", registry=registry).inc()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        relayed = CollectorRegistry()
        relayed.register(_Relay(f"http://127.0.0.1:{port}/metrics"))
        text = generate_latest(relayed).decode()
    finally:
        server.shutdown()
        thread.join()
    assert 'mpphub_projection_events_total{topic="mpp.canonical.person"} 7.0' in text
    assert "other_total" not in text


def test_the_relay_yields_nothing_while_the_child_does_not_answer() -> None:
    relayed = CollectorRegistry()
    relayed.register(_Relay(f"http://127.0.0.1:{free_port()}/metrics"))
    assert generate_latest(relayed) == b""


def _exit_here(code: int) -> None:
    """exit_with without freezing this test process's objects."""
    raise SystemExit(code)


def test_the_child_keeps_the_workers_short_group_session(monkeypatch) -> None:
    from ops import stage_process
    from ops.settings import HubSettings
    from streams.app import create_app
    from streams.settings import StreamSettings

    got = {}
    monkeypatch.setattr("sys.argv", ["-c", "projections", "/tmp/marker"])
    monkeypatch.setattr("sys.stdin", io.StringIO(HubSettings().model_dump_json()))
    monkeypatch.setattr(stage_process, "exit_when_orphaned", lambda grace_s, **_: None)
    monkeypatch.setattr("ops.worker.run_projections_only", lambda hub, **o: got.update(o))
    monkeypatch.setattr(stage_process, "exit_with", _exit_here)
    with pytest.raises(SystemExit):
        stage_process.child_main()
    worker = create_app(StreamSettings()).conf
    assert got["session_timeout_s"] == worker.broker_session_timeout
    assert got["heartbeat_interval_s"] == worker.broker_heartbeat_interval


def test_a_begun_stop_ends_the_child_at_once_and_is_no_failure() -> None:
    out = subprocess.run(
        [sys.executable, "-c", BEGUN], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["-15", "no-sigterm", "False"], out.stderr[-2000:]


def test_the_identity_child_runs_the_resolver_alone(monkeypatch) -> None:
    from ops import stage_process
    from ops.settings import HubSettings

    ran = []
    monkeypatch.setattr("sys.argv", ["-c", "identity", "/tmp/marker"])
    monkeypatch.setattr("sys.stdin", io.StringIO(HubSettings().model_dump_json()))
    monkeypatch.setattr(stage_process, "exit_when_orphaned", lambda grace_s, **_: None)
    monkeypatch.setattr("ops.worker.run_identity_only", lambda hub: ran.append(hub) or 0)
    monkeypatch.setattr("ops.worker.run_projections_only", lambda hub, **o: ran.append("wrong"))
    monkeypatch.setattr(stage_process, "exit_with", _exit_here)
    with pytest.raises(SystemExit) as ended:
        stage_process.child_main()
    assert ended.value.code == 0
    assert len(ran) == 1 and isinstance(ran[0], HubSettings)  # the resolver, not projections


def test_an_unknown_stage_is_refused() -> None:
    from ops import stage_process
    from ops.settings import HubSettings

    with pytest.raises(ValueError, match="no such stage 'normalize'"):
        stage_process.start(HubSettings(), "normalize")


# A stopped stage holding many objects (as the resolver's index does) ends through exit_with:
# its exit handlers and flushes still run, and the objects are out of the collector's last pass.
EXITING = """
import atexit, gc, sys
from ops.processes import exit_with
index = {str(i): {"keys": [str(i)]} for i in range(100_000)}
atexit.register(lambda: print("frozen", gc.get_freeze_count(), flush=True))
print("stopped", end="")  # unflushed: the exit must flush it
exit_with(3)
"""


def test_a_stopped_stage_exits_with_its_code_its_output_flushed_and_its_objects_frozen():
    done = subprocess.run(
        [sys.executable, "-c", EXITING], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    first, frozen = done.stdout.split("\n")[0].split("frozen")
    assert first == "stopped"
    assert int(frozen) >= 200_000  # the index's dicts and lists (the collector tracks those)
