"""`mpphub demo` end to end: it comes up, prints where to look, answers a citizen read, and on
Ctrl-C stops every process it started and frees every port it used; with real signals, the same
holds for repeated Ctrl-C, SIGTERM, SIGHUP, a closed stdout and kill -9 of the demo."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from ops.processes import free_block, free_port, owned_pid, pid_alive, port_is_free, wait_for
from ops.samples.demo_agencies import NAMES as MORE_AGENCIES
from tests.conftest import test_stack_config
from tests.ops.demo_samples import sample_numbers
from tests.projections.api.logins import live_login

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# The demo's connectors: the civil registry, the permits office and the agencies onboarded by
# mapping files only; each connector and the worker serve metrics on ports of one block.
CONNECTORS = 2 + len(MORE_AGENCIES)
METRICS_PORTS = CONNECTORS + 1
RUN_DEMO = (
    "import sys; from pathlib import Path; from rich.console import Console; "
    "from ops.demo import DemoOptions, run_demo; "
    "run_demo(Console(), DemoOptions(people=30, permits=10, rate=0, api_port=int(sys.argv[1]), "
    "metrics_base_port=int(sys.argv[2]), dir=Path(sys.argv[3])))"
)


def officer_headers(text: str, lookup_url: str) -> dict[str, str]:
    """Log in as the officer the demo printed (user and password made for the run)."""
    login = re.search(r"^\s+officer\s+(\S+)\s+(\S+)$", text, re.M)
    assert login, text
    base = lookup_url.removesuffix("/citizens/lookup")
    return {**live_login(base, login.group(1), login.group(2)), "X-MPP-Purpose": "service_delivery"}


def projection_state(state: Path, nik: str) -> str:
    """For a lookup that never succeeds: whether the projection file itself holds the citizen
    (read directly) and which projection files each demo process has open (an unlinked one
    reads "(deleted)"), to tell a worker that did not project from an API that did not see it."""
    db = state / "projections.db"
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as c:
            held = c.execute("SELECT count(*) FROM citizen WHERE nik = ?", (nik,)).fetchone()[0]
    except sqlite3.Error as e:
        held = f"unreadable ({e})"
    files = {}
    for pid in _processes_under(state):
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        files[_cmd(pid)[-60:]] = sorted({link for link in links if "projections" in link})
    return f"the projection file holds {held} such citizen; open projection files: {files}"


def _free_block(n: int) -> int:
    """The first of n consecutive free loopback ports."""
    return free_block(n)


def _processes_under(directory: Path) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and owned_pid(int(p.name), str(directory))
    ]


def test_demo_serves_a_citizen_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    stack = test_stack_config(tmp_path / "ports", base=80)
    api_port, metrics_port = free_port(), _free_block(METRICS_PORTS)
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
        citizen = re.search(r"look up a citizen\s+POST (http://\S+/citizens/lookup)", text)
        assert citizen, text
        residents, numbers = sample_numbers(30, 10)
        assert not numbers & set(re.findall(r"\d{16}", text))  # no sample NIK or KK printed
        nik = residents[0]
        for url in ("/docs", "/services/turnaround", f"{metrics_port}/metrics"):
            assert url in text
        started += [int(pid) for pid in re.findall(r"\(pid (\d+), log", text)]
        assert len(started) == CONNECTORS + 2  # the connectors, the worker, the API
        assert len(_processes_under(state)) >= CONNECTORS  # the connectors, broker, registry

        officer = officer_headers(text, citizen.group(1))
        anonymous = httpx.post(citizen.group(1), json={"nik": nik}, timeout=5)
        assert anonymous.status_code == 401  # no login, no personal data

        def citizen_read() -> bool:
            r = httpx.post(citizen.group(1), json={"nik": nik}, headers=officer, timeout=5)
            return r.status_code == 200 and bool(r.json().get("name"))

        assert wait_for(citizen_read, 90, 1.0), projection_state(state, nik)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        code = demo.wait(120)
    text = out.read_text()
    assert code == 0, text[-3000:]
    assert "stopped the stack" in text
    assert not [pid for pid in started if pid_alive(pid)]
    assert _processes_under(state) == []
    ports = [api_port, *range(metrics_port, metrics_port + METRICS_PORTS), *stack.ports().values()]
    assert [p for p in ports if not port_is_free(p)] == []


class _Demo:
    """A demo in a subprocess on free ports with its own state dir; stdout to a file or a pipe."""

    def __init__(self, tmp_path: Path, state: Path | None = None, pipe: bool = False) -> None:
        self.stack = test_stack_config(tmp_path / "ports", base=80)
        self.api_port, self.metrics_port = free_port(), _free_block(METRICS_PORTS)
        self.state = state or tmp_path / "demo"
        self.out = tmp_path / f"demo-{time.monotonic_ns()}.out"
        self.env = {
            **os.environ,
            "MPPHUB_DIST_DIR": str(self.stack.dist_dir),
            "MPPHUB_KAFKA_PORT": str(self.stack.kafka_port),
            "MPPHUB_CONTROLLER_PORT": str(self.stack.controller_port),
            "MPPHUB_REGISTRY_PORT": str(self.stack.registry_port),
            "COLUMNS": "200",
        }
        self.pipe = pipe

    @property
    def ports(self) -> list[int]:
        return [
            self.api_port,
            *(self.metrics_port + i for i in range(METRICS_PORTS)),
            *self.stack.ports().values(),
        ]

    def start(self) -> subprocess.Popen:
        argv = [sys.executable, "-c", RUN_DEMO, str(self.api_port), str(self.metrics_port)]
        with self.out.open("wb") as log:
            self.proc = subprocess.Popen(
                [*argv, str(self.state)],
                cwd=REPO,
                env=self.env,
                stdout=subprocess.PIPE if self.pipe else log,
                stderr=subprocess.STDOUT,
                # As from a terminal: under `nohup make test` SIGHUP would arrive ignored, and
                # the demo keeps an ignored SIGHUP ignored (ops/signals.py) by design.
                preexec_fn=_hangup_default,  # noqa: PLW1509 - no thread touches it
            )
        if self.pipe:
            self.copier = threading.Thread(target=self._copy_until_ready, daemon=True)
            self.copier.start()
        return self.proc

    def _copy_until_ready(self) -> None:
        # The reader closes the pipe itself: closing it from another thread would wait for the
        # read in progress (the buffer lock), which may never end.
        assert self.proc.stdout is not None
        with self.out.open("ab") as log:
            while chunk := self.proc.stdout.read1(4096):
                log.write(chunk)
                log.flush()
                if b"Ctrl-C stops everything" in self.out.read_bytes():
                    break
        self.proc.stdout.close()

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90) -> list[int]:
        """Wait for the "running" text; returns the pids of every process the demo started."""
        assert wait_for(
            lambda: self.proc.poll() is not None or "Ctrl-C stops everything" in self.text(),
            timeout,
            0.25,
        ), self.text()[-3000:]
        assert self.proc.poll() is None, self.text()[-3000:]
        started = _processes_under(self.state)
        assert len(started) >= 6, started  # two connectors, worker, API, broker, registry
        return started

    def assert_nothing_left(self, started: list[int], timeout: float = 5) -> None:
        """Every process it started has ended and every port it used is free."""
        assert wait_for(
            lambda: not [p for p in started if pid_alive(p)] and not _processes_under(self.state),
            timeout,
        ), (
            [(p, _cmd(p)) for p in started if pid_alive(p)],
            self.text()[-3000:],
        )
        assert wait_for(lambda: all(port_is_free(p) for p in self.ports), timeout), [
            p for p in self.ports if not port_is_free(p)
        ]

    def cleanup(self) -> None:
        """After a failure: leave nothing running for the next test."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in _processes_under(self.state):
            os.kill(pid, signal.SIGKILL)


def _hangup_default() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _cmd(pid: int) -> str:
    from ops.processes import command_line

    return command_line(pid)[:200]


@pytest.mark.parametrize(
    "signals",
    [
        pytest.param([signal.SIGINT, signal.SIGINT], id="ctrl-c-twice"),
        pytest.param([signal.SIGTERM, signal.SIGTERM], id="sigterm-twice"),
        pytest.param([signal.SIGHUP], id="sighup"),
    ],
)
def test_repeated_stop_signals_still_stop_everything(tmp_path: Path, signals: list) -> None:
    demo = _Demo(tmp_path)
    demo.start()
    try:
        started = demo.wait_ready()
        t0 = time.monotonic()
        for i, sig in enumerate(signals):
            if i:
                time.sleep(1.0)  # the second arrives while the demo is stopping
            demo.proc.send_signal(sig)
        code = demo.proc.wait(60)  # bounded: two SIGTERMs once deadlocked the demo
        text = demo.text()
        assert code == 0, text[-3000:]
        assert "Traceback" not in text and "Aborted" not in text, text[-3000:]
        assert "stopped the stack" in text
        demo.assert_nothing_left(started)
        print(f"{[s.name for s in signals]}: stopped in {time.monotonic() - t0:.1f}s")
    finally:
        demo.cleanup()


def test_a_closed_stdout_does_not_abort_the_stop(tmp_path: Path) -> None:
    # As `mpphub demo | tee log` and Ctrl-C: tee ends first, the demo's next print gets EPIPE.
    demo = _Demo(tmp_path, pipe=True)
    demo.start()
    try:
        started = demo.wait_ready()
        demo.copier.join(10)
        assert demo.proc.stdout is not None and demo.proc.stdout.closed
        demo.proc.send_signal(signal.SIGINT)
        code = demo.proc.wait(60)
        assert code == 0, demo.text()[-3000:]
        demo.assert_nothing_left(started)
    finally:
        demo.cleanup()


def test_kill_9_of_the_demo_ends_its_children_and_the_next_run_starts(tmp_path: Path) -> None:
    demo = _Demo(tmp_path)
    demo.start()
    try:
        started = demo.wait_ready()
        # Past their start: a connector still loading its offsets sits out a 40 s Kafka
        # timeout before it honours SIGTERM (a connector matter, not the demo's).
        citizen = re.search(r"look up a citizen\s+POST (http://\S+/citizens/lookup)", demo.text())
        assert citizen, demo.text()
        nik = {"nik": sample_numbers(30, 10)[0][0]}
        officer = officer_headers(demo.text(), citizen.group(1))
        assert wait_for(
            lambda: httpx.post(citizen.group(1), json=nik, headers=officer).status_code == 200,
            60,
            1.0,
        ), projection_state(demo.state, nik["nik"])
        demo.proc.kill()
        demo.proc.wait(10)
        t0 = time.monotonic()
        # Nobody stops them: they end on their own (SIGTERM from the kernel, PR_SET_PDEATHSIG).
        demo.assert_nothing_left(started, timeout=30)
        print(f"children ended {time.monotonic() - t0:.1f}s after kill -9")
        again = _Demo(tmp_path, state=demo.state)
        again.start()
        try:
            started = again.wait_ready()
            again.proc.send_signal(signal.SIGINT)
            assert again.proc.wait(60) == 0, again.text()[-3000:]
            again.assert_nothing_left(started)
        finally:
            again.cleanup()
    finally:
        demo.cleanup()


def test_a_leftover_is_stopped_and_a_busy_port_is_named(tmp_path: Path) -> None:
    demo = _Demo(tmp_path)
    state = demo.state
    (state / "pids").mkdir(parents=True)
    # A leftover of a killed run: our marker (the state dir) on its command line, pid recorded.
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"{state.resolve()}/config/x.yaml"]
    )
    stranger = socket.socket()
    try:
        assert wait_for(lambda: str(state.resolve()) in _cmd(leftover.pid), 5, 0.02)
        (state / "pids" / "connector-siak.pid").write_text(f"{leftover.pid}\n")
        stranger.bind(("127.0.0.1", demo.metrics_port + 1))
        stranger.listen()
        demo.start()
        code = demo.proc.wait(60)
        text = demo.text()
        assert code != 0
        assert "connector-siak (pid" in text and "left running by an earlier demo" in text
        assert leftover.poll() is not None, "the leftover was not stopped"
        want = f"port {demo.metrics_port + 1} (connector sicantik metrics) is in use"
        assert want in text, text[-3000:]
        assert _processes_under(state) == []
    finally:
        stranger.close()
        if leftover.poll() is None:
            leftover.kill()
        leftover.wait(10)
        demo.cleanup()
