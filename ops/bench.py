"""`mpphub bench e2e`: how fast the hub is, end to end, on this machine, in one run.

Every figure is measured here, now, on the same data, next to a baseline measured in the same
run: a bare consumer (aiokafka getmany + fastavro decode + one batched SQL upsert per batch, no
Faust, no normalization: ops/baseline.py) over the same raw topic. The ratio hub/baseline is what
to compare across machines; absolute numbers move with the machine's load.

Phases: (1) a sample civil registry of N people in SQLite; (2) the connector's snapshot into
Kafka (rows/s); (3) the worker catching up on that backlog into a fresh projection database
(events/s, source row to projection commit); (4) a steady offered rate of updates, freshness
p50/p95/p99 from the worker's own histogram; (5) a rebuild of the projections from the log
(events/s); (6) the baseline. Peak memory (VmHWM) of every process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
import yaml
from rich.console import Console
from rich.progress import Progress

from domain.tokens import load_secret
from eventlog.topics import CANONICAL_TOPICS, IDENTITY_TOPIC

from .processes import ChildProcess
from .stack import Stack, StackConfig, StackError

RAW_TOPIC = "mpp.disdukcapil.biodata_wni"


@dataclass
class BenchOptions:
    """The sizes and rates of one bench run, and where it keeps its stack and databases."""

    rows: int = 20000
    rate: float = 50.0  # offered updates per second in the steady phase
    steady_s: float = 20.0
    dir: Path = Path(".mpphub/bench")
    worker_metrics_port: int = 9493


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@dataclass
class _Proc(ChildProcess):
    """A child process whose peak memory we keep reading while it lives."""

    peak_mb: float | None = None

    def sample(self) -> None:
        """Read the process's peak memory so far."""
        peak = _peak_rss_mb(self.proc.pid) if self.proc else None
        if peak is not None:
            self.peak_mb = max(self.peak_mb or 0, peak)

    def check(self) -> None:
        """Raise if the process exited with an error."""
        if self.proc and self.proc.poll() is not None and self.proc.returncode != 0:
            raise StackError(f"{self.name} exited with {self.proc.returncode} (log: {self.log})")

    def stop(self, timeout: float = 20.0) -> None:
        """Its last peak memory, then SIGTERM (SIGKILL after ``timeout``)."""
        self.sample()
        super().stop(timeout)


def _wait(predicate, procs: list[_Proc], timeout: float, what: str, tick: float = 0.2) -> float:
    """Seconds until predicate() held; samples memory and fails if a process died."""
    start = time.monotonic()
    while not predicate():
        for p in procs:
            p.sample()
            p.check()
        if time.monotonic() - start > timeout:
            raise StackError(f"bench: {what} not reached within {timeout:.0f}s")
        time.sleep(tick)
    return time.monotonic() - start


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    except sa.exc.OperationalError:
        return 0
    finally:
        engine.dispose()


def _counter(port: int, name: str) -> float:
    """The sum over labels of a counter on a /metrics endpoint (0 while nothing serves it)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name}{{", f"{name} "))
    )


def _histogram(port: int, name: str) -> dict[float, float]:
    """Cumulative bucket counts {le: count} of a histogram on a /metrics endpoint."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float | None:
    """histogram_quantile over the increase between two scrapes (linear within a bucket)."""
    les = sorted(after)
    counts = [after[le] - before.get(le, 0.0) for le in les]
    total = counts[-1] if counts else 0
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in zip(les, counts, strict=True):
        if count >= rank:
            if le == float("inf"):
                return prev_le
            span = count - prev_count
            return round(prev_le + (le - prev_le) * ((rank - prev_count) / span if span else 1), 3)
        prev_le, prev_count = le, count
    return None


def run_bench(console: Console, opts: BenchOptions) -> dict:
    """All phases; returns the result document (also what the CLI prints as JSON)."""
    run = _start_stack(console, opts)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("sample civil registry", total=None)

            def phase(description: str) -> None:
                progress.update(task, description=description)

            _create_source(run)
            phase("connector snapshot")
            connector = _snapshot_phase(run)
            phase("worker catching up")
            worker = _end_to_end_phase(run)
            phase(f"steady {opts.rate:g} updates/s")
            _freshness_phase(run)
            connector.stop()
            worker.stop()
            phase("rebuild from the log")
            _rebuild_phase(run)
            phase("baseline (getmany + decode + upsert)")
            base = _baseline_phase(run)
        run.result["peak_memory_mb"] = {p.name: p.peak_mb for p in run.procs}
        run.result["peak_memory_mb"]["baseline"] = base["peak_mb"]
        return run.result
    finally:
        for p in run.procs:
            p.stop()
        run.stack.down()


@dataclass
class _Run:
    """What the phases share: options, the stack, the child processes and the result so far."""

    opts: BenchOptions
    stack: Stack
    result: dict
    procs: list[_Proc] = field(default_factory=list)

    @property
    def siak_url(self) -> str:
        return f"sqlite:///{(self.opts.dir / 'siak.db').resolve()}"

    @property
    def proj_url(self) -> str:
        return f"sqlite:///{(self.opts.dir / 'projections.db').resolve()}"

    @property
    def secret(self) -> Path:
        """The bench's secret for keyed tokens, made on first use."""
        path = (self.opts.dir / "secret").resolve()
        load_secret(path, create=True)
        return path

    def start(self, name: str, args: list[str]) -> _Proc:
        """Start `mpphub <args>` with the bench's environment, its log under logs/."""
        env = {
            "MPPHUB_KAFKA_BOOTSTRAP": self.stack.bootstrap,
            "MPPHUB_REGISTRY_URL": self.stack.registry_url,
            "MPPHUB_PROJECTION_DB_URL": self.proj_url,
            "MPPHUB_APP_ID": "mpphub-bench",
            "MPPHUB_WORKER_DATA_DIR": str(self.opts.dir / "worker"),
            "MPPHUB_RAW_TOPICS": RAW_TOPIC,
            "MPPHUB_SECRET_FILE": str(self.secret),
        }
        argv = [sys.executable, "-m", "ops.cli", *args]
        proc = _Proc(name, argv, self.opts.dir / "logs" / f"{name}.log", env)
        proc.start()
        self.procs.append(proc)
        return proc

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Seconds until predicate() held, watching every process started so far."""
        return _wait(predicate, self.procs, timeout, what)


def _start_stack(console: Console, opts: BenchOptions) -> _Run:
    """A fresh stack and no databases left from an earlier run."""
    opts.dir.mkdir(parents=True, exist_ok=True)
    stack_cfg = StackConfig.from_env(state_dir=opts.dir / "stack")
    stack = Stack(stack_cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    stack.down(purge=True)
    for f in ("siak.db", "projections.db", "rebuilt.db", "baseline.db"):
        (opts.dir / f).unlink(missing_ok=True)
    stack = Stack(stack_cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    stack.up()
    return _Run(opts, stack, {"rows": opts.rows, "machine": {"cpus": os.cpu_count()}})


def _create_source(run: _Run) -> None:
    """(1) The sample civil registry of `rows` people."""
    from ops.samples import create_siak

    create_siak(sa.create_engine(run.siak_url), n_people=run.opts.rows, seed=11)


def _snapshot_phase(run: _Run) -> _Proc:
    """(2) The connector's snapshot into Kafka (rows/s); the connector keeps running."""
    cfg = {
        "agency": "disdukcapil",
        "name": "bench-siak",
        "source": {
            "mode": "polling",
            "url": run.siak_url,
            "poll_interval_s": 0.2,
            "safety_delay_s": 0.5,
            "diff_interval_s": 3600,
        },
        "tables": [{"name": "BIODATA_WNI", "timestamp_column": "TGL_UBAH"}],
        "kafka": {"bootstrap": run.stack.bootstrap},
        "registry": {"url": run.stack.registry_url},
        "snapshot": {"chunk_size": 2000},
        "batch_size": 1000,
    }
    cfg_path = run.opts.dir / "bench-siak.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    connector = run.start("connector", ["connect", str(cfg_path), "--no-progress"])
    rows = run.opts.rows
    secs = run.wait(
        lambda: _topic_size(run.stack.bootstrap, RAW_TOPIC) >= rows, 900, "snapshot in Kafka"
    )
    run.result["snapshot_rows_per_s"] = round(rows / secs, 1)
    return connector


def _end_to_end_phase(run: _Run) -> _Proc:
    """(3) The worker catching up on the snapshot backlog (events/s, source row to projection
    commit); the worker keeps running."""
    port = run.opts.worker_metrics_port
    worker = run.start("worker", ["worker", "--metrics-port", str(port)])

    def projected() -> int:
        return _count(run.proj_url, "citizen_source_record")

    # The worker's start-up (imports, Faust, group join) is reported apart, it is not throughput:
    # the clock of the catch-up starts at the first batch the worker normalized (its own
    # counter), and stops when the last snapshot row is projected. Counting from the first
    # projected row instead reads 0 when a small backlog fits in one commit.
    run.result["worker_startup_s"] = round(
        run.wait(lambda: _counter(port, "mpphub_worker_events_total") > 0, 300, "the worker"), 2
    )
    rows = run.opts.rows
    secs = run.wait(lambda: projected() >= rows, 1800, "projection of the snapshot")
    run.result["e2e_events_per_s"] = round(rows / max(secs, 1e-6), 1)
    return worker


def _freshness_phase(run: _Run) -> None:
    """(4) A steady offered rate of updates; freshness p50/p95/p99 from the worker's histogram."""
    port, opts = run.opts.worker_metrics_port, run.opts
    before = _histogram(port, "mpphub_projection_freshness_seconds")
    sent = _steady_updates(sa.create_engine(run.siak_url), opts, run.procs)
    time.sleep(3)  # the last updates' safety delay + a poll, then read the histogram
    after = _histogram(port, "mpphub_projection_freshness_seconds")
    run.result["freshness_s"] = {
        "offered_rate_per_s": opts.rate,
        "updates": sent,
        **{f"p{int(q * 100)}": quantile(q, before, after) for q in (0.5, 0.95, 0.99)},
    }


def _rebuild_phase(run: _Run) -> None:
    """(5) A rebuild of the projections from the canonical log into a fresh database."""
    rebuilt = f"sqlite:///{(run.opts.dir / 'rebuilt.db').resolve()}"
    t0 = time.monotonic()
    rb = run.start("rebuild", ["rebuild", "--db", rebuilt, "--no-progress"])
    run.wait(lambda: rb.proc.poll() is not None, 1800, "rebuild")
    rb.check()
    events = _topic_total(run.stack.bootstrap, (*CANONICAL_TOPICS, IDENTITY_TOPIC))
    run.result["rebuild_events_per_s"] = round(events / (time.monotonic() - t0), 1)


def _baseline_phase(run: _Run) -> dict:
    """(6) The baseline over the same raw topic, and the hub's ratio to it."""
    base = _baseline(run.stack, run.opts)
    run.result["baseline_events_per_s"] = base["events_per_s"]
    run.result["ratio_hub_to_baseline"] = round(
        run.result["e2e_events_per_s"] / base["events_per_s"], 3
    )
    return base


def _steady_updates(engine: sa.Engine, opts: BenchOptions, procs: list[_Proc]) -> int:
    """Offer `rate` updates/s for `steady_s` seconds, each a real change of one row."""
    with engine.connect() as c:
        niks = [r[0] for r in c.execute(sa.text('SELECT "NIK" FROM "BIODATA_WNI" LIMIT 5000'))]
    interval, sent = 1.0 / opts.rate, 0
    start = time.monotonic()
    while time.monotonic() - start < opts.steady_s:
        due = start + sent * interval
        if time.monotonic() < due:
            time.sleep(due - time.monotonic())
        with engine.begin() as c:
            c.execute(
                sa.text('UPDATE "BIODATA_WNI" SET "TGL_UBAH" = :now WHERE "NIK" = :nik'),
                {"now": dt.datetime.now(), "nik": niks[sent % len(niks)]},
            )
        sent += 1
        if sent % 50 == 0:
            for p in procs:
                p.sample()
                p.check()
    return sent


def _topic_size(bootstrap: str, topic: str) -> int:
    return _topic_total(bootstrap, (topic,))


def _topic_total(bootstrap: str, topics: tuple[str, ...]) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()


def _baseline(stack: Stack, opts: BenchOptions) -> dict:
    """The bare pipeline over the same raw topic, in a child process of its own."""
    out = opts.dir / "baseline.json"
    out.unlink(missing_ok=True)
    code = (
        "import json,sys; from ops.baseline import baseline_main; "
        f"json.dump(baseline_main({stack.bootstrap!r}, {stack.registry_url!r}, "
        f"{str(opts.dir / 'baseline.db')!r}, {opts.rows}, {RAW_TOPIC!r}), open({str(out)!r}, 'w'))"
    )
    proc = _Proc("baseline", [sys.executable, "-c", code], opts.dir / "logs" / "baseline.log")
    proc.start()
    _wait(lambda: proc.proc.poll() is not None, [proc], 1800, "baseline")
    proc.check()
    data = json.loads(out.read_text())
    data["peak_mb"] = proc.peak_mb
    return data
