"""`mpphub demo`: the whole hub on one machine.

Starts the local stack, creates the sample civil registry (SIAK) and permits office (SiCantik)
databases, runs a connector for each, the worker (normalize + projections) and the front-office
API as child processes, and keeps a simulator making the changes agency staff make (births,
moves, corrections, deaths, permit applications moving through their steps). Ctrl-C stops
everything it started, in reverse order.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
import yaml
from rich.console import Console

from .processes import ChildProcess
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


def _connector_config(agency: str, name: str, url: str, tables: list, stack: Stack) -> dict:
    return {
        "agency": agency,
        "name": name,
        "source": {
            "mode": "polling",
            "url": url,
            "poll_interval_s": 0.5,
            "safety_delay_s": 1.0,
            "diff_interval_s": 30.0,
        },
        "tables": tables,
        "kafka": {"bootstrap": stack.bootstrap},
        "registry": {"url": stack.registry_url},
    }


def prepare_databases(opts: DemoOptions, console: Console):
    """Create (or reuse) the sample agency databases; returns engines and the population."""
    from ops.samples import create_siak, create_sicantik

    opts.dir.mkdir(parents=True, exist_ok=True)
    siak = sa.create_engine(f"sqlite:///{(opts.dir / 'siak.db').resolve()}")
    sicantik = sa.create_engine(f"sqlite:///{(opts.dir / 'sicantik.db').resolve()}")
    console.print(f"creating the sample SIAK database ({opts.people} people) ...")
    population = create_siak(siak, n_people=opts.people, seed=7)
    console.print(f"creating the sample SiCantik database ({opts.permits} permits) ...")
    create_sicantik(sicantik, population, n_permits=opts.permits, seed=7)
    return siak, sicantik, population


def run_demo(console: Console, opts: DemoOptions | None = None) -> None:
    """Start everything, print where to look, simulate until Ctrl-C, stop what we started."""
    opts = opts or DemoOptions()
    # The demo owns its stack and databases and starts them afresh each run, so that what it
    # shows is reproducible (the default ports: stop another stack on them first).
    stack_cfg = StackConfig.from_env(state_dir=opts.dir / "stack")
    stack = Stack(stack_cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    stack.down(purge=True)
    for p in ("siak.db", "sicantik.db", "projections.db"):
        (opts.dir / p).unlink(missing_ok=True)
    stack = Stack(stack_cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    stack.up()
    console.print(f"[green]✓[/] stack: Kafka {stack.bootstrap}, registry {stack.registry_url}")
    siak, sicantik, population = prepare_databases(opts, console)

    cfg_dir, logs = opts.dir / "config", opts.dir / "logs"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    configs = {
        "siak": _connector_config("disdukcapil", "siak", str(siak.url), SIAK_TABLES, stack),
        "sicantik": _connector_config(
            "dpmptsp", "sicantik", str(sicantik.url), SICANTIK_TABLES, stack
        ),
    }
    mpphub = [sys.executable, "-m", "ops.cli"]
    env = {
        "MPPHUB_KAFKA_BOOTSTRAP": stack.bootstrap,
        "MPPHUB_REGISTRY_URL": stack.registry_url,
        "MPPHUB_PROJECTION_DB_URL": f"sqlite:///{(opts.dir / 'projections.db').resolve()}",
        "MPPHUB_WORKER_DATA_DIR": str((opts.dir / "worker").resolve()),
    }
    children: list[ChildProcess] = []
    port = opts.metrics_base_port
    for name, cfg in configs.items():
        path = cfg_dir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        children.append(
            ChildProcess(
                f"connector {name}",
                [*mpphub, "connect", str(path), "--no-progress", "--metrics-port", str(port)],
                logs / f"connect-{name}.log",
                env,
            )
        )
        port += 1
    children.append(
        ChildProcess(
            "worker", [*mpphub, "worker", "--metrics-port", str(port)], logs / "worker.log", env
        )
    )
    children.append(
        ChildProcess("api", [*mpphub, "api", "--port", str(opts.api_port)], logs / "api.log", env)
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        for child in children:
            child.start()
            console.print(f"[green]✓[/] {child.name} (pid {child.proc.pid}, log {child.log})")
        _wait_api(opts.api_port, children[-1])
        _print_urls(console, opts, population, port)
        _simulate(console, siak, sicantik, population, opts, children, stop)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping ...")
        for child in reversed(children):
            child.stop()
        stack.down()
        console.print(
            f"stopped the stack (its data stays in {stack_cfg.state_dir} until the next demo)"
        )


def _wait_api(port: int, api: ChildProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not api.alive():
            raise StackError(f"the API exited (log: {api.log})")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise StackError(f"the API did not answer on port {port} within {timeout:.0f}s")


def _print_urls(console: Console, opts: DemoOptions, population, worker_port: int) -> None:
    base = f"http://127.0.0.1:{opts.api_port}"
    resident = population.people[0]
    console.print(
        "\n[bold]MPP Hub demo is running.[/] Open:\n"
        f"  front office page   {base}/\n"
        f"  API docs            {base}/docs\n"
        f"  a citizen           {base}/citizens/{resident.nik}  (header X-MPP-Role: officer)\n"
        f"  turnaround          {base}/services/turnaround\n"
        f"  worker metrics      http://127.0.0.1:{worker_port}/metrics\n"
        f"  connector metrics   http://127.0.0.1:{opts.metrics_base_port}/metrics, "
        f"http://127.0.0.1:{opts.metrics_base_port + 1}/metrics\n"
        "Ctrl-C stops everything this demo started.\n"
    )


def _simulate(console, siak, sicantik, population, opts, children, stop) -> None:
    from ops.samples import Simulator

    sim = Simulator(siak, sicantik, population, seed=int(time.time()))
    rng = random.Random()
    interval = 1.0 / opts.rate if opts.rate > 0 else None
    while not stop.is_set():
        dead = [c for c in children if not c.alive()]
        if dead:
            raise StackError(f"{dead[0].name} exited (log: {dead[0].log})")
        if interval is None:
            stop.wait(1.0)
            continue
        change = sim.step(rng)
        if change is not None:
            console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {change.summary}", highlight=False)
        stop.wait(interval)
