"""`mpphub demo`: the whole hub on one machine.

Starts the local stack, creates the sample civil registry (SIAK, in PostgreSQL) and permits
office (SiCantik, in MariaDB) databases on throwaway servers, runs a log-based connector for
each (SQLite and polling only where a server is not installed: ops/agency_servers.py), the
worker (normalize + projections) and the front-office API as child processes, and keeps a
simulator making the changes agency staff make (births, moves, corrections, deaths, permit
applications moving through their steps). Ctrl-C, SIGTERM or SIGHUP (once or more) stops
everything it started, in reverse order; its children, servers and stack also end when the demo
is killed -9, and the next run stops any leftover of a killed run.
"""

from __future__ import annotations

import functools
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from rich.console import Console

from domain.tokens import load_secret
from projections.store import open_store
from projections.swap import remove_sqlite_file

from .agency_servers import AgencyServers, AgencySource
from .commands.users import demo_accounts, logins_text
from .processes import ChildProcess, pid_in_file, port_is_free, stop_process
from .samples.demo_agencies import NAMES as MORE_AGENCIES
from .samples.demo_agencies import prepare_more_agencies
from .signals import StopSignals
from .stack import Stack, StackConfig, StackError

SIAK_TABLES = [
    {"name": "BIODATA_WNI", "timestamp_column": "TGL_UBAH"},
    {"name": "DATA_KELUARGA", "timestamp_column": "TGL_UBAH"},
    {"name": "PINDAH_DATANG", "timestamp_column": "TGL_UBAH"},
    {"name": "CAPIL_MATI", "timestamp_column": "TGL_UBAH"},  # death registrations
]
SICANTIK_TABLES = [
    {"name": "trperizinan", "timestamp_column": "updated_at"},
    {"name": "tmpemohon", "timestamp_column": "updated_at"},
    {"name": "tmpermohonan", "timestamp_column": "updated_at"},
    # The status log is insert-only: its own status time is its change time.
    {"name": "trstspermohonan_log", "timestamp_column": "d_status"},
]


@dataclass
class DemoOptions:
    """The sample sizes, the simulated change rate, the ports and the state dir of a demo."""

    people: int = 2000
    permits: int = 400
    rate: float = 1.0  # simulated changes per second
    api_port: int = 8000
    metrics_base_port: int = 9401
    dir: Path = Path(".mpphub/demo")


def _connector_config(agency: str, name: str, db: AgencySource, stack: Stack) -> dict:
    return {
        "agency": agency,
        "name": name,
        "source": db.source,
        "tables": db.tables,
        "kafka": {"bootstrap": stack.bootstrap},
        "registry": {"url": stack.registry_url},
    }


def prepare_databases(opts: DemoOptions, console: Console, servers: AgencyServers):
    """Create the sample agency databases afresh; returns their sources and the population."""
    from ops.samples import create_siak, create_sicantik

    opts.dir.mkdir(parents=True, exist_ok=True)
    siak = servers.source("postgres", "siak", SIAK_TABLES)
    sicantik = servers.source("mariadb", "sicantik", SICANTIK_TABLES)
    console.print(f"creating the sample SIAK database ({opts.people} people) ...")
    population = create_siak(siak.engine, n_people=opts.people, seed=7)
    console.print(f"creating the sample SiCantik database ({opts.permits} permits) ...")
    create_sicantik(sicantik.engine, population, n_permits=opts.permits, seed=7)
    return siak, sicantik, population


def run_demo(console: Console, opts: DemoOptions | None = None) -> None:
    """Start everything, print where to look, simulate until Ctrl-C, stop what we started."""
    with StopSignals() as signals:
        _run(_Output(console), opts or DemoOptions(), signals)


def _projection_url(state: Path) -> str:
    return f"sqlite:///{state / 'projections.db'}"


def _run(out: _Output, opts: DemoOptions, signals: StopSignals) -> None:
    state = opts.dir.resolve()
    # Every child carries the state dir on its command line: how a leftover is told from a
    # process that merely reuses its pid.
    pids = _PidRecords(state / "pids", marker=str(state) + os.sep)
    pids.stop_leftovers(out)
    # The demo owns its stack and databases and starts them afresh each run, so that what it
    # shows is reproducible (the default ports: stop another stack on them first).
    stack_cfg = StackConfig.from_env(state_dir=opts.dir / "stack")
    log = lambda m: out.say(f"[dim]{m}[/]")  # noqa: E731
    left = Stack(stack_cfg, log=log).down(purge=True)
    if left:
        out.say(f"stopped {', '.join(left)} left running by an earlier demo")
    remove_sqlite_file(opts.dir / "projections.db")  # with a WAL a demo killed -9 left
    metrics = _metrics_ports(opts)
    _check_ports({opts.api_port: "api", **{port: f"{name} metrics" for name, port in metrics}})
    # die_with_parent: the stack ends with the demo even when the demo is killed -9.
    stack = Stack(stack_cfg, log=log, die_with_parent=True)
    children: list[ChildProcess] = []
    servers = AgencyServers(opts.dir, out.say)
    try:
        stack.up(cancelled=lambda: signals.requested)
        _check(signals)
        out.say(f"[green]✓[/] stack: Kafka {stack.bootstrap}, registry {stack.registry_url}")
        siak, sicantik, population = prepare_databases(opts, out, servers)
        _check(signals)
        # One built-in account per role, new passwords each run (printed below).
        logins = demo_accounts(state / "accounts.db")
        # Two agencies onboarded by mapping files only: building permits, health insurance.
        more = prepare_more_agencies(opts.dir, population, out.say)
        # The projection's tables (and WAL mode) made here, before the worker and the API open
        # it: two processes creating one SQLite file at once race (a "database is locked" on
        # switching it to WAL), and the demo has no reason to start them that way.
        open_store(_projection_url(state)).close()
        children = _children(opts, state, stack, siak, sicantik, dict(metrics), more)
        for child in children:
            child.start()
            pids.record(child)
            out.say(f"[green]✓[/] {child.name} (pid {child.proc.pid}, log {child.log})")
            _check(signals)
        _wait_api(opts.api_port, children[-1], signals)
        _print_urls(out, opts, population, dict(metrics)["worker"])
        out.say(logins_text(logins, f"http://127.0.0.1:{opts.api_port}"), highlight=False)
        _simulate(out, siak.engine, sicantik.engine, population, opts, children, signals)
    except _Stopped:
        pass
    finally:
        _stop(out, children, stack, pids, signals, servers)
        out.say(f"stopped the stack (its data stays in {stack_cfg.state_dir} until the next demo)")
        out.flush()


class _Stopped(Exception):
    """A stop signal arrived while the demo was starting or running."""


def _check(signals: StopSignals) -> None:
    if signals.requested:
        raise _Stopped


def _metrics_ports(opts: DemoOptions) -> list[tuple[str, int]]:
    names = [f"connector {n}" for n in ("siak", "sicantik")] + ["worker"]
    names += [f"connector {n}" for n in MORE_AGENCIES]
    return [(name, opts.metrics_base_port + i) for i, name in enumerate(names)]


def _check_ports(roles: dict[int, str]) -> None:
    # Before anything starts: a busy port would otherwise show only as "connector siak exited".
    for port, role in roles.items():
        if not port_is_free(port):
            raise StackError(f"port {port} ({role}) is in use by another process")


def _children(opts, state: Path, stack: Stack, siak, sicantik, metrics: dict, more=None) -> list:
    cfg_dir, logs = state / "config", state / "logs"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    configs = {
        "siak": _connector_config("disdukcapil", "siak", siak, stack),
        "sicantik": _connector_config("dpmptsp", "sicantik", sicantik, stack),
    }
    kafka = {"kafka": {"bootstrap": stack.bootstrap}, "registry": {"url": stack.registry_url}}
    configs |= {name: {**cfg, **kafka} for name, cfg in (more or {}).items()}
    mpphub = [sys.executable, "-m", "ops.cli"]
    db_url = _projection_url(state)
    # The demo's own secret for keyed tokens (record keys, person ids): made once per state dir.
    secret = state / "secret"
    load_secret(secret, create=True)
    env = {
        "MPPHUB_KAFKA_BOOTSTRAP": stack.bootstrap,
        "MPPHUB_REGISTRY_URL": stack.registry_url,
        "MPPHUB_PROJECTION_DB_URL": db_url,
        "MPPHUB_WORKER_DATA_DIR": str(state / "worker"),
        "MPPHUB_SECRET_FILE": str(secret),
    }
    children = []
    for name, cfg in configs.items():
        path = cfg_dir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        port = metrics[f"connector {name}"]
        argv = [*mpphub, "connect", str(path), "--no-progress", "--metrics-port", str(port)]
        children.append(ChildProcess(f"connector {name}", argv, logs / f"connect-{name}.log", env))
    # --db repeats the environment so that the state dir shows on the command line.
    argv = [*mpphub, "worker", "--metrics-port", str(metrics["worker"]), "--db", db_url]
    children.append(ChildProcess("worker", argv, logs / "worker.log", env))
    argv = [*mpphub, "api", "--port", str(opts.api_port), "--db", db_url]
    # The audit of reads has a database of its own that only the API is given (not the worker).
    api_env = {**env, "MPPHUB_AUDIT_DB_URL": f"sqlite:///{state / 'audit.db'}"}
    # So has the login's accounts database (ops/commands/users.py: demo_accounts).
    api_env["MPPHUB_ACCOUNTS_DB_URL"] = f"sqlite:///{state / 'accounts.db'}"
    children.append(ChildProcess("api", argv, logs / "api.log", api_env))
    for child in children:
        child.die_with_parent = True
    return children


def _stop(out: _Output, children: list[ChildProcess], stack: Stack, pids, signals, servers) -> None:
    """Stop the children in reverse order, the database servers, then the stack; further signals
    do not cut it short."""
    out.say("stopping ...")
    seen = len(signals.received)
    errors: list[Exception] = []
    # Every child is asked at once and then waited for in reverse order: six children stopped
    # one after the other could take minutes on a loaded machine.
    for child in reversed(children):
        child.terminate()
    stops = [functools.partial(c.stop, signalled=True) for c in reversed(children)]
    for step in [*stops, servers.stop, stack.down]:
        if len(signals.received) > seen:
            seen = len(signals.received)
            out.say("stopping, please wait: every process this demo started is being stopped")
        try:
            step()
        except Exception as e:  # noqa: BLE001 - the next steps must run all the same
            errors.append(e)
    for child in children:
        if not child.alive():
            pids.forget(child)
    if errors:
        raise errors[0]


class _Output:
    """The console, printed to defensively: a closed pipe (tee ended by Ctrl-C) or a closed
    terminal must not abort the stop; after the first failure the output goes nowhere."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.broken = False

    def say(self, *args, **kwargs) -> None:
        """Print like Console.print, unless the output is gone."""
        if self.broken:
            return
        try:
            self.console.print(*args, **kwargs)
        except OSError:  # EIO from a terminal that was closed (or EPIPE, if rich lets it out)
            self._discard()
        except SystemExit:
            # rich's Console.on_broken_pipe turns EPIPE into SystemExit(1) (stdout already
            # pointed at /dev/null): the stop must go on, so it is not an exit here.
            self.broken = True

    print = say  # so that it stands in for the console

    def flush(self) -> None:
        """Flush stdout now, so that a closed pipe does not fail the exit instead."""
        try:
            sys.stdout.flush()
        except OSError:
            self._discard()

    def _discard(self) -> None:
        self.broken = True
        # What Python's docs advise for EPIPE: point fd 1 at /dev/null, so that the flush at
        # exit cannot fail either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        finally:
            os.close(devnull)


class _PidRecords:
    """The pids of the demo's children, one file each, so that the next run can stop what a
    killed run left behind (only while the pid still carries our marker)."""

    def __init__(self, directory: Path, marker: str) -> None:
        self.directory = directory
        self.marker = marker

    def _file(self, child: ChildProcess) -> Path:
        return self.directory / f"{child.name.replace(' ', '-')}.pid"

    def record(self, child: ChildProcess) -> None:
        """Write the pid of a started child."""
        self.directory.mkdir(parents=True, exist_ok=True)
        assert child.proc is not None
        self._file(child).write_text(f"{child.proc.pid}\n")

    def forget(self, child: ChildProcess) -> None:
        """Drop the record of a child that was stopped."""
        self._file(child).unlink(missing_ok=True)

    def stop_leftovers(self, out: _Output) -> None:
        """Stop every recorded process that still runs as ours; drop the records."""
        for pid_file in sorted(self.directory.glob("*.pid")):
            pid = pid_in_file(pid_file, self.marker)
            if pid is not None:
                out.say(f"stopping {pid_file.stem} (pid {pid}) left running by an earlier demo")
                stop_process(pid, marker=self.marker, timeout=10)
            pid_file.unlink(missing_ok=True)


def _wait_api(port: int, api: ChildProcess, signals: StopSignals, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not api.alive():
            raise StackError(f"the API exited (log: {api.log})")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if signals.wait(0.5):
            raise _Stopped
    raise StackError(f"the API did not answer on port {port} within {timeout:.0f}s")


def _print_urls(out: _Output, opts: DemoOptions, population, worker_port: int) -> None:
    base = f"http://127.0.0.1:{opts.api_port}"
    out.say(
        "\n[bold]MPP Hub demo is running.[/] Open:\n"
        f"  front office page   {base}/\n"
        f"  API docs            {base}/docs\n"
        f'  look up a citizen   POST {base}/citizens/lookup {{"nik": ...}} (never in a URL)\n'
        f"  who read whose data mpphub audit reads --nik (with MPPHUB_AUDIT_DB_URL and"
        f" MPPHUB_SECRET_FILE of {opts.dir.resolve()})\n"
        f"  turnaround          {base}/services/turnaround\n"
        f"  worker metrics      http://127.0.0.1:{worker_port}/metrics\n"
        f"  connector metrics   http://127.0.0.1:{opts.metrics_base_port}/metrics, "
        f"http://127.0.0.1:{opts.metrics_base_port + 1}/metrics\n"
        "Ctrl-C stops everything this demo started.\n"
    )


def _simulate(out: _Output, siak, sicantik, population, opts, children, signals) -> None:
    from ops.samples import Simulator

    sim = Simulator(siak, sicantik, population, seed=int(time.time()))
    rng = random.Random()
    interval = 1.0 / opts.rate if opts.rate > 0 else None
    while not signals.requested:
        dead = [c for c in children if not c.alive()]
        if dead:
            raise StackError(f"{dead[0].name} exited (log: {dead[0].log})")
        if interval is None:
            signals.wait(1.0)
            continue
        change = sim.step(rng)
        if change is not None:
            out.say(f"[dim]{time.strftime('%H:%M:%S')}[/] {change.summary}", highlight=False)
        signals.wait(interval)
