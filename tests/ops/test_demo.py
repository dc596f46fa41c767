"""`mpphub demo` end to end: it comes up, prints where to look, answers a citizen read, and on
Ctrl-C stops every process it started and frees every port it used."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ops.processes import free_port, owned_pid, pid_alive, port_is_free, wait_for
from tests.conftest import test_stack_config

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RUN_DEMO = (
    "import sys; from pathlib import Path; from rich.console import Console; "
    "from ops.demo import DemoOptions, run_demo; "
    "run_demo(Console(), DemoOptions(people=30, permits=10, rate=0, api_port=int(sys.argv[1]), "
    "metrics_base_port=int(sys.argv[2]), dir=Path(sys.argv[3])))"
)


def _free_block(n: int) -> int:
    """The first of n consecutive free loopback ports."""
    for _ in range(100):
        first = free_port()
        if first + n < 65536 and all(port_is_free(first + i) for i in range(n)):
            return first
    raise RuntimeError(f"no {n} consecutive free ports")


def _processes_under(directory: Path) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and owned_pid(int(p.name), str(directory))
    ]


def test_demo_serves_a_citizen_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    stack = test_stack_config(tmp_path / "ports", base=80)
    api_port, metrics_port = free_port(), _free_block(3)  # two connectors and the worker
    state = tmp_path / "demo"
    env = {
        **os.environ,
        "MPPHUB_DIST_DIR": str(stack.dist_dir),
        "MPPHUB_KAFKA_PORT": str(stack.kafka_port),
        "MPPHUB_CONTROLLER_PORT": str(stack.controller_port),
        "MPPHUB_REGISTRY_PORT": str(stack.registry_port),
        "COLUMNS": "200",  # one URL per line in the printed text
    }
    out = tmp_path / "demo.out"
    started: list[int] = []
    with out.open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "-c", RUN_DEMO, str(api_port), str(metrics_port), str(state)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_for(
            lambda: demo.poll() is not None or "Ctrl-C stops everything" in out.read_text(),
            240,
            0.5,
        ), out.read_text()[-3000:]
        text = out.read_text()
        assert demo.poll() is None, text[-3000:]
        citizen = re.search(r"a citizen\s+(http://\S+/citizens/\d{16})", text)
        assert citizen, text
        for url in ("/docs", "/services/turnaround", f"{metrics_port}/metrics"):
            assert url in text
        started += [int(pid) for pid in re.findall(r"\(pid (\d+), log", text)]
        assert len(started) == 4  # two connectors, the worker, the API
        assert len(_processes_under(state)) >= 4  # the connectors, the broker, the registry

        def citizen_read() -> bool:
            r = httpx.get(citizen.group(1), headers={"X-MPP-Role": "officer"}, timeout=5)
            return r.status_code == 200 and bool(r.json().get("name"))

        assert wait_for(citizen_read, 90, 1.0), "the citizen was never projected"
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        code = demo.wait(120)
    text = out.read_text()
    assert code == 0, text[-3000:]
    assert "stopped the stack" in text
    assert not [pid for pid in started if pid_alive(pid)]
    assert _processes_under(state) == []
    ports = [api_port, metrics_port, metrics_port + 1, metrics_port + 2, *stack.ports().values()]
    assert [p for p in ports if not port_is_free(p)] == []
