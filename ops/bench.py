"""`mpphub bench e2e`: how fast the hub is, end to end, on this machine, in one run.

Every figure is measured here, now, on the same data, next to a baseline measured in the same
run: a bare consumer (aiokafka getmany + fastavro decode + one batched SQL upsert per batch, no
Faust, no normalization: ops/baseline.py) over the same raw topic. The ratio hub/baseline is what
to compare across machines; absolute numbers move with the machine's load.

Phases (each its own object in the JSON): `source`, a sample civil registry of N people in a
throwaway PostgreSQL server captured from its log (pgoutput; SQLite polled only when no
PostgreSQL server is installed, said in one line; `capture` names which); `snapshot`, the
connector's snapshot into Kafka; `end_to_end`, the worker catching up on that backlog into a
fresh projection database; `freshness`, a steady offered rate of updates (committed in one
transaction per 20 ms tick), p50/p95/p99 from the worker's own histogram; `rebuild`, the
projections replayed from the log into a new database, checked equal to the live one (rows and
a hash of the sorted rows); `baseline`. Every rate is timed from the first record to the last
commit; the start-up before it (imports, group join) is reported apart. CPU seconds and peak
memory (VmHWM) of every process, and the worker's CPU cost per event early and late in the
catch-up (after 10% and after 90% of the rows are projected): how the cost grows with what is
already projected.

The bench watches with one long-lived Kafka client and one database connection, polled every
`tick` seconds: its own load on the shared cores stays small.
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
from typing import Any

import httpx
import sqlalchemy as sa
import yaml
from rich.console import Console
from rich.progress import Progress

from domain.tokens import load_secret
from eventlog.topics import Topics

from .agency_servers import AgencyServers, AgencySource
from .processes import ChildProcess, peak_rss_mb
from .stack import Stack, StackConfig, StackError

# The bench's hub on its own stack: no prefix, passed on to every process it starts.
TOPICS = Topics()
RAW_TOPIC = TOPICS.raw("disdukcapil", "biodata_wni")
MAX_ROWS = 1_000_000
# Where in the catch-up the worker's cost per event is taken: (from, to) fractions of the rows.
EARLY, LATE = (0.1, 0.2), (0.9, 1.0)
_TICKS = os.sysconf("SC_CLK_TCK")
STEADY_TICK_S = 0.02  # the steady phase commits the updates due every tick in one transaction
SIAK_TABLES = [{"name": "BIODATA_WNI", "timestamp_column": "TGL_UBAH"}]


@dataclass
class BenchOptions:
    """The sizes and rates of one bench run, and where it keeps its stack and databases."""

    rows: int = 20000
    rate: float = 50.0  # offered updates per second in the steady phase
    steady_s: float = 20.0
    dir: Path = Path(".mpphub/bench")
    worker_metrics_port: int = 9493
    tick: float = 0.1  # seconds between two looks at Kafka, the database or /metrics

    def __post_init__(self) -> None:
        if not 1 <= self.rows <= MAX_ROWS:
            raise ValueError(f"rows: between 1 and {MAX_ROWS:,}")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a live process has used so far (its waited-for children too)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    # Fields 14-17 of proc(5): utime, stime, cutime, cstime (after pid and comm: index - 3).
    return sum(int(f) for f in fields[11:15]) / _TICKS


def child_pids(pid: int) -> list[int]:
    """The live children of a process (the worker's projection child with --projections
    process), from /proc (Linux 3.5+); none when the process is gone."""
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except OSError:
        return []


def stage_of(pid: int) -> str:
    """A worker child's stage ("identity", "projections": `-c code stage marker`, see
    ops/stage_process.py), else "child <pid>"."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        argv = []
    if len(argv) > 3 and b"child_main" in argv[2]:
        return argv[3].decode(errors="replace")
    return f"child {pid}"


@dataclass
class _Proc(ChildProcess):
    """A child process whose peak memory and CPU time we keep reading while it lives, its own
    children's included: a worker running its projections in a child process is one cost."""

    peak_mb: float | None = None
    cpu_s: float = 0.0
    # Live children's CPU and peak memory, by pid. A child that has ended is dropped: once
    # reaped, its CPU is in its parent's cutime/cstime (counted by cpu_seconds).
    _kids_cpu: dict[int, float] = field(default_factory=dict)
    _kids_peak: dict[int, float] = field(default_factory=dict)
    _kids_name: dict[int, str] = field(default_factory=dict)
    _own: tuple[float, float] = (0.0, 0.0)  # the process's own CPU seconds and peak MB

    def sample(self) -> None:
        """Read the process's (and its live children's) peak memory and CPU time so far. The
        peak is the sum of each process's own peak: an upper bound of the tree's."""
        if not self.proc:
            return
        kids = child_pids(self.proc.pid)
        for gone in set(self._kids_cpu) - set(kids):
            del self._kids_cpu[gone]
        for kid in kids:
            if kid not in self._kids_name:
                self._kids_name[kid] = stage_of(kid)
            cpu, peak = cpu_seconds(kid), peak_rss_mb(kid)
            if cpu is not None:
                self._kids_cpu[kid] = max(self._kids_cpu.get(kid, 0.0), cpu)
            if peak is not None:
                self._kids_peak[kid] = max(self._kids_peak.get(kid, 0.0), peak)
        peak = peak_rss_mb(self.proc.pid)
        if peak is not None:
            self.peak_mb = round(max(self.peak_mb or 0, peak + sum(self._kids_peak.values())), 1)
            self._own = (self._own[0], max(self._own[1], peak))
        cpu = cpu_seconds(self.proc.pid)
        if cpu is not None:
            self.cpu_s = max(self.cpu_s, cpu + sum(self._kids_cpu.values()))
            self._own = (max(self._own[0], cpu), self._own[1])

    def by_process(self) -> dict[str, tuple[float, float]]:
        """CPU seconds and peak MB so far of the process itself ("main") and of each live
        child, named by its stage (a worker's "identity" and "projections" children)."""
        out = {"main": self._own}
        for kid, cpu in self._kids_cpu.items():
            out[self._kids_name.get(kid, f"child {kid}")] = (cpu, self._kids_peak.get(kid, 0.0))
        return out

    def check(self) -> None:
        """Raise if the process exited with an error."""
        if self.proc and self.proc.poll() is not None and self.proc.returncode != 0:
            raise StackError(f"{self.name} exited with {self.proc.returncode} (log: {self.log})")

    def stop(self, timeout: float = 20.0) -> None:
        """Its last peak memory and CPU time, then SIGTERM (SIGKILL after ``timeout``)."""
        self.sample()
        super().stop(timeout)


def _wait(predicate, procs: list[_Proc], timeout: float, what: str, tick: float) -> float:
    """Seconds until predicate() held; samples memory and CPU and fails if a process died."""
    start = time.monotonic()
    while not predicate():
        for p in procs:
            p.sample()
            p.check()
        if time.monotonic() - start > timeout:
            raise StackError(f"bench: {what} not reached within {timeout:.0f}s")
        time.sleep(tick)
    return time.monotonic() - start


class _Offsets:
    """Topic sizes (sums of end offsets) from one Kafka client kept for the whole run."""

    def __init__(self, bootstrap: str):
        from kafka import KafkaConsumer

        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        self._partitions: dict[str, list[Any]] = {}

    def total(self, *topics: str) -> int:
        """Records (end offsets) of `topics`, summed over their partitions."""
        from kafka import TopicPartition

        tps = []
        for t in topics:
            if not self._partitions.get(t):
                found = self._consumer.partitions_for_topic(t) or ()
                self._partitions[t] = [TopicPartition(t, p) for p in sorted(found)]
            tps += self._partitions[t]
        return sum(self._consumer.end_offsets(tps).values()) if tps else 0

    def ends(self, topic: str) -> dict[Any, int]:
        """End offset per partition of `topic`."""
        self.total(topic)  # looks the partitions up once
        return self._consumer.end_offsets(self._partitions[topic])

    def close(self) -> None:
        """Close the client."""
        self._consumer.close()


def capture_latencies(bootstrap: str, registry_url: str, start: dict[Any, int]) -> list[float]:
    """Seconds from each change's commit in the source (the envelope's source.ts_ms) to the
    connector handing it to Kafka (the record's CreateTime), for the records of a topic after
    `start` (offset per partition) up to its end now: the capture's share of freshness."""
    from kafka import KafkaConsumer

    from schemas import codec
    from schemas.registry import RegistryClient

    registry = RegistryClient(registry_url)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        ends = consumer.end_offsets(list(start))
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        left = {tp for tp in start if ends[tp] > start[tp]}
        out: list[float] = []
        deadline = time.monotonic() + 120
        while left and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500, max_records=5000).items():
                for r in records:
                    if r.value is None or r.offset >= ends[tp]:
                        continue  # a tombstone, or past the phase
                    ts_ms = codec.decode(registry, r.value)["source"]["ts_ms"]
                    if ts_ms is not None:  # polling knows no commit time
                        out.append(max(0.0, (r.timestamp - ts_ms) / 1000))
                if records and records[-1].offset + 1 >= ends[tp]:
                    left.discard(tp)
        return out
    finally:
        consumer.close()


def exact_quantile(q: float, values: list[float]) -> float | None:
    """The q-quantile of observed values (nearest rank), None without any."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


class _Projection:
    """What the projection database has committed, through one pooled connection: the person
    facts applied (the checkpoints' offsets) and whether every source record has its person."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url)

    def applied(self, topic: str) -> int:
        """Messages of `topic` applied (last applied offset + 1, summed over partitions)."""
        try:
            with self.engine.connect() as c:
                n = c.execute(
                    sa.text('SELECT sum("offset" + 1) FROM checkpoint WHERE topic = :t'),
                    {"t": topic},
                ).scalar()
        except sa.exc.OperationalError:
            return 0  # no tables yet
        return int(n or 0)

    def all_placed(self) -> bool:
        """Whether no projected source record waits for its identity decision (indexed)."""
        with self.engine.connect() as c:
            sql = "SELECT 1 FROM citizen_source_record WHERE person_id IS NULL LIMIT 1"
            return c.execute(sa.text(sql)).first() is None

    def count(self, table: str) -> int:
        """Rows of `table` (a full count: for the end of a phase, not for polling)."""
        with self.engine.connect() as c:
            return c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()

    def close(self) -> None:
        """Release the connection."""
        self.engine.dispose()


def _metric(port: int, name: str) -> float:
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


def cost_per_event(
    samples: list[tuple[float, int]], rows: int, window: tuple[float, float]
) -> dict[str, Any] | None:
    """The worker's CPU microseconds per event between two points of the catch-up, from
    (cpu seconds, events projected) samples: the first sample at or past `window[0]` of the
    rows and the first at or past `window[1]`. None when the samples do not span it."""
    lo = next((s for s in samples if s[1] >= window[0] * rows), None)
    hi = next((s for s in samples if s[1] >= window[1] * rows), None)
    if lo is None or hi is None or hi[1] <= lo[1]:
        return None
    return {
        "from_events": lo[1],
        "to_events": hi[1],
        "cpu_us_per_event": round((hi[0] - lo[0]) / (hi[1] - lo[1]) * 1e6, 1),
    }


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
            _baseline_phase(run)
        run.result["ratio_hub_to_baseline"] = round(
            run.phases["end_to_end"]["events_per_s"] / run.phases["baseline"]["events_per_s"], 3
        )
        run.result["peak_memory_mb"] = {p.name: p.peak_mb for p in run.procs}
        run.result["cpu_s"] = {p.name: round(p.cpu_s, 2) for p in run.procs}
        return run.result
    finally:
        for p in run.procs:
            p.stop()
        run.close()
        run.servers.stop()
        run.stack.down()


@dataclass
class _Run:
    """What the phases share: options, the stack, the child processes and the result so far."""

    opts: BenchOptions
    stack: Stack
    result: dict
    servers: AgencyServers
    procs: list[_Proc] = field(default_factory=list)
    source: AgencySource | None = None
    _offsets: _Offsets | None = None
    _projection: _Projection | None = None

    @property
    def phases(self) -> dict[str, dict]:
        return self.result["phases"]

    @property
    def siak(self) -> AgencySource:
        """The sample civil registry's database, once `_create_source` made it."""
        assert self.source is not None
        return self.source

    @property
    def proj_url(self) -> str:
        return f"sqlite:///{(self.opts.dir / 'projections.db').resolve()}"

    @property
    def offsets(self) -> _Offsets:
        if self._offsets is None:
            self._offsets = _Offsets(self.stack.bootstrap)
        return self._offsets

    @property
    def projection(self) -> _Projection:
        if self._projection is None:
            self._projection = _Projection(self.proj_url)
        return self._projection

    @property
    def secret(self) -> Path:
        """The bench's secret for keyed tokens, made on first use."""
        path = (self.opts.dir / "secret").resolve()
        load_secret(path, create=True)
        return path

    def env(self) -> dict[str, str]:
        """The environment of every hub process the bench starts."""
        return {
            "MPPHUB_KAFKA_BOOTSTRAP": self.stack.bootstrap,
            "MPPHUB_REGISTRY_URL": self.stack.registry_url,
            "MPPHUB_PROJECTION_DB_URL": self.proj_url,
            "MPPHUB_APP_ID": "mpphub-bench",
            "MPPHUB_WORKER_DATA_DIR": str(self.opts.dir / "worker"),
            "MPPHUB_TOPIC_PREFIX": TOPICS.prefix,
            "MPPHUB_RAW_TOPICS": RAW_TOPIC.removeprefix(TOPICS.prefix),
            "MPPHUB_SECRET_FILE": str(self.secret),
        }

    def start(self, name: str, args: list[str], *, code: str | None = None) -> _Proc:
        """Start `mpphub <args>` (or `python -c code`) with the bench's environment, its log
        under logs/."""
        argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "ops.cli", *args]
        proc = _Proc(name, argv, self.opts.dir / "logs" / f"{name}.log", self.env())
        proc.start()
        self.procs.append(proc)
        return proc

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Seconds until predicate() held, watching every process started so far."""
        return _wait(predicate, self.procs, timeout, what, self.opts.tick)

    def close(self) -> None:
        """Close the bench's own Kafka client and database connection."""
        if self._offsets is not None:
            self._offsets.close()
        if self._projection is not None:
            self._projection.close()
        if self.source is not None:
            self.source.engine.dispose()


def _start_stack(console: Console, opts: BenchOptions) -> _Run:
    """A fresh stack and no databases left from an earlier run."""
    opts.dir.mkdir(parents=True, exist_ok=True)
    stack_cfg = StackConfig.from_env(state_dir=opts.dir / "stack")
    stack = Stack(stack_cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    stack.down(purge=True)
    for f in ("siak.db", "projections.db", "rebuilt.db", "baseline.db"):
        for suffix in ("", "-wal", "-shm"):
            (opts.dir / f"{f}{suffix}").unlink(missing_ok=True)
    stack = Stack(stack_cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    stack.up()
    machine = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}
    servers = AgencyServers(opts.dir, say=lambda m: console.print(f"[yellow]{m}[/]"))
    # Where the worker runs its stages (`mpphub worker --projections/--identity`, from the
    # environment the bench's worker inherits): inline or in child processes.
    stages = {
        "projections": os.environ.get("MPPHUB_WORKER_PROJECTIONS", "inline"),
        "identity": os.environ.get("MPPHUB_WORKER_IDENTITY", "inline"),
    }
    result = {"rows": opts.rows, "machine": machine, "worker_stages": stages, "phases": {}}
    return _Run(opts, stack, result, servers)


def _create_source(run: _Run) -> None:
    """The sample civil registry of `rows` people, in PostgreSQL (SQLite without a server)."""
    from ops.samples import create_siak

    t0 = time.monotonic()
    run.source = run.servers.source("postgres", "siak", SIAK_TABLES)
    create_siak(run.source.engine, n_people=run.opts.rows, seed=11)
    run.phases["source"] = {
        "rows": run.opts.rows,
        "seconds": round(time.monotonic() - t0, 2),
        "capture": run.source.source["mode"],
    }


def _snapshot_phase(run: _Run) -> _Proc:
    """The connector's snapshot into Kafka, first record to last; the connector keeps
    running (it captures the freshness phase's updates)."""
    source = dict(run.siak.source)
    if source["mode"] == "polling":
        source.update(poll_interval_s=0.2, safety_delay_s=0.5, diff_interval_s=3600)
    cfg = {
        "agency": "disdukcapil",
        "name": "bench-siak",
        "source": source,
        "tables": run.siak.tables,
        "kafka": {"bootstrap": run.stack.bootstrap, "topic_prefix": TOPICS.prefix},
        "registry": {"url": run.stack.registry_url},
        "snapshot": {"chunk_size": 2000},
        "batch_size": 1000,
    }
    cfg_path = run.opts.dir / "bench-siak.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    connector = run.start("connector", ["connect", str(cfg_path), "--no-progress"])
    rows = run.opts.rows
    startup = run.wait(lambda: run.offsets.total(RAW_TOPIC) > 0, 300, "the connector's first row")
    cpu0 = connector.cpu_s
    secs = run.wait(lambda: run.offsets.total(RAW_TOPIC) >= rows, 3600, "snapshot in Kafka")
    connector.sample()
    run.phases["snapshot"] = {
        "startup_s": round(startup, 2),
        "seconds": round(secs, 2),
        "rows_per_s": round(rows / max(secs, 1e-6), 1),
        "cpu_s": {"connector": round(connector.cpu_s - cpu0, 2)},
    }
    return connector


def _end_to_end_phase(run: _Run) -> _Proc:
    """The worker catching up on the snapshot backlog; the worker keeps running.

    Start-up (imports, Faust, group join) is reported apart: the clock starts when the worker
    has normalized its first records (its own counter, polled every tick) and stops at the
    commit that projected the last row with its person (checkpoint of every person fact, no
    record left without its identity decision)."""
    port = run.opts.worker_metrics_port
    worker = run.start("worker", ["worker", "--metrics-port", str(port)])
    rows = run.opts.rows
    startup = run.wait(
        lambda: _metric(port, "mpphub_worker_events_total") > 0, 300, "the worker's first batch"
    )
    worker.sample()
    cpu0 = {p.name: p.cpu_s for p in run.procs}
    parts0 = worker.by_process()
    samples: list[tuple[float, int]] = []

    def projected() -> bool:
        n = run.projection.applied(TOPICS.person)
        worker.sample()
        samples.append((worker.cpu_s, n))
        return n >= rows and run.projection.all_placed()

    secs = run.wait(projected, 3600, "projection of the snapshot")
    for p in run.procs:
        p.sample()
    run.phases["end_to_end"] = {
        "startup_s": round(startup, 2),
        "seconds": round(secs, 2),
        "events": rows,
        "events_per_s": round(rows / max(secs, 1e-6), 1),
        "cpu_s": {p.name: round(p.cpu_s - cpu0[p.name], 2) for p in run.procs},
        "worker_cpu_us_per_event": round((worker.cpu_s - cpu0["worker"]) / rows * 1e6, 1),
        # Each of the worker's processes apart (its stages in child processes): which stage
        # is the longest, and where a change moved the CPU.
        "worker_processes": {
            name: {
                "cpu_us_per_event": round((cpu - parts0.get(name, (0.0, 0.0))[0]) / rows * 1e6, 1),
                "peak_mb": round(peak, 1),
            }
            for name, (cpu, peak) in worker.by_process().items()
        },
        "cost_early": cost_per_event(samples, rows, EARLY),
        "cost_late": cost_per_event(samples, rows, LATE),
    }
    early, late = run.phases["end_to_end"]["cost_early"], run.phases["end_to_end"]["cost_late"]
    if early and late:
        growth = late["cpu_us_per_event"] / early["cpu_us_per_event"]
        run.phases["end_to_end"]["cost_growth"] = round(growth, 3)
    run.phases["end_to_end"]["projected_rows"] = run.projection.count("citizen_source_record")
    # The resolver's pairs scored per record resolved: its blocks fill as the population
    # grows, which is where its cost per record grows (compare a 100k and a 1M run).
    resolved = _metric(port, "mpphub_identity_resolve_seconds_count")
    scored = _metric(port, "mpphub_identity_candidates_total")
    run.phases["end_to_end"]["identity_candidates_per_record"] = (
        round(scored / resolved, 1) if resolved else None
    )
    return worker


def _freshness_phase(run: _Run) -> None:
    """A steady offered rate of updates; freshness p50/p95/p99 from the worker's histogram."""
    port, opts = run.opts.worker_metrics_port, run.opts
    before = _histogram(port, "mpphub_projection_freshness_seconds")
    raw_start = run.offsets.ends(RAW_TOPIC)
    sent = _steady_updates(run.siak.engine, opts, run.procs)
    time.sleep(3)  # the last updates' safety delay + a poll, then read the histogram
    after = _histogram(port, "mpphub_projection_freshness_seconds")
    captured = capture_latencies(run.stack.bootstrap, run.stack.registry_url, raw_start)
    run.phases["freshness"] = {
        "offered_rate_per_s": opts.rate,
        "updates": sent,
        **{f"p{int(q * 100)}_s": quantile(q, before, after) for q in (0.5, 0.95, 0.99)},
        # Source commit to Kafka: what of the above the connector takes (the rest: the worker).
        "capture": {
            "events": len(captured),
            **{f"p{int(q * 100)}_s": exact_quantile(q, captured) for q in (0.5, 0.95, 0.99)},
        },
    }


def _rebuild_phase(run: _Run) -> None:
    """A rebuild of the projections from the canonical log into a fresh database, in a child
    process of its own; then its rows are checked equal to the live projection's."""
    from projections.digest import projection_digest

    rebuilt_path = (run.opts.dir / "rebuilt.db").resolve()
    out = run.opts.dir / "rebuild.json"
    out.unlink(missing_ok=True)
    target = f"sqlite:///{rebuilt_path}"
    code = (
        "import json; from ops.settings import HubSettings; "
        "from projections.rebuild import rebuild; "
        f"s = rebuild(HubSettings.from_env().projection, {target!r}, progress=False); "
        f"json.dump(s.as_dict(), open({str(out)!r}, 'w'))"
    )
    rb = run.start("rebuild", [], code=code)
    run.wait(lambda: rb.proc.poll() is not None, 3600, "rebuild")
    rb.check()
    stats = json.loads(out.read_text())
    live = projection_digest(run.projection.engine)
    rebuilt_engine = sa.create_engine(f"sqlite:///{rebuilt_path}")
    try:
        rebuilt = projection_digest(rebuilt_engine)
    finally:
        rebuilt_engine.dispose()
    run.phases["rebuild"] = {
        "events": stats["events"],
        "seconds": stats["seconds"],
        "events_per_s": stats["events_per_s"],
        "cpu_s": {"rebuild": round(rb.cpu_s, 2)},
        "identical_to_live": rebuilt == live,
        "rows": {table: d["rows"] for table, d in live.items() if d["rows"]},
    }


def _baseline_phase(run: _Run) -> None:
    """The bare pipeline over the same raw topic, in a child process of its own."""
    out = run.opts.dir / "baseline.json"
    out.unlink(missing_ok=True)
    code = (
        "import json; from ops.baseline import baseline_main; "
        f"json.dump(baseline_main({run.stack.bootstrap!r}, {run.stack.registry_url!r}, "
        f"{str(run.opts.dir / 'baseline.db')!r}, {run.opts.rows}, {RAW_TOPIC!r}), "
        f"open({str(out)!r}, 'w'))"
    )
    proc = run.start("baseline", [], code=code)
    run.wait(lambda: proc.proc.poll() is not None, 3600, "baseline")
    proc.check()
    data = json.loads(out.read_text())
    run.phases["baseline"] = {**data, "cpu_s": {"baseline": round(proc.cpu_s, 2)}}


def _steady_updates(engine: sa.Engine, opts: BenchOptions, procs: list[_Proc]) -> int:
    """Offer `rate` updates/s for `steady_s` seconds, each a real change of one row; the updates
    due are committed together every STEADY_TICK_S (one transaction per tick, as a busy
    application commits), so a high rate is offered without one round trip per row."""
    with engine.connect() as c:
        niks = [r[0] for r in c.execute(sa.text('SELECT "NIK" FROM "BIODATA_WNI" LIMIT 5000'))]
    update = sa.text('UPDATE "BIODATA_WNI" SET "TGL_UBAH" = :now WHERE "NIK" = :nik')
    sent, tick = 0, 0
    start = checked = time.monotonic()
    while time.monotonic() - start < opts.steady_s:
        tick += 1
        due = start + tick * STEADY_TICK_S
        if time.monotonic() < due:
            time.sleep(due - time.monotonic())
        count = min(int(tick * STEADY_TICK_S * opts.rate) - sent, len(niks))
        if count <= 0:
            continue
        now = dt.datetime.now()
        params = [{"now": now, "nik": niks[(sent + i) % len(niks)]} for i in range(count)]
        with engine.begin() as c:
            c.execute(update, params)
        sent += count
        if time.monotonic() - checked >= 1.0:
            checked = time.monotonic()
            for p in procs:
                p.sample()
                p.check()
    return sent
