"""`mpphub bench e2e`: how fast the hub is, end to end, on this machine, in one run.

Every figure is measured here, now, on the same data, next to a baseline measured in the same
run: a bare consumer (aiokafka getmany + fastavro decode + one batched SQL upsert per batch, no
Faust, no normalization) over the same raw topic. The ratio hub/baseline is what to compare
across machines; absolute numbers move with the machine's load.

Phases: (1) a sample civil registry of N people in SQLite; (2) the connector's snapshot into
Kafka (rows/s); (3) the worker catching up on that backlog into a fresh projection database
(events/s, source row to projection commit); (4) a steady offered rate of updates, freshness
p50/p95/p99 from the worker's own histogram; (5) a rebuild of the projections from the log
(events/s); (6) the baseline. Peak memory (VmHWM) of every process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
import yaml
from rich.console import Console
from rich.progress import Progress

from .stack import Stack, StackConfig, StackError

RAW_TOPIC = "mpp.disdukcapil.biodata_wni"


@dataclass
class BenchOptions:
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


class _Proc:
    """A child process whose peak memory we keep reading while it lives."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        self.name, self.log = name, log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.peak_mb: float | None = None

    def sample(self) -> None:
        peak = _peak_rss_mb(self.proc.pid)
        if peak is not None:
            self.peak_mb = max(self.peak_mb or 0, peak)

    def check(self) -> None:
        if self.proc.poll() is not None and self.proc.returncode != 0:
            raise StackError(f"{self.name} exited with {self.proc.returncode} (log: {self.log})")

    def stop(self) -> None:
        self.sample()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


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
    from ops.samples import create_siak

    opts.dir.mkdir(parents=True, exist_ok=True)
    stack_cfg = StackConfig.from_env(state_dir=opts.dir / "stack")
    stack = Stack(stack_cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    stack.down(purge=True)
    for f in ("siak.db", "projections.db", "rebuilt.db", "baseline.db"):
        (opts.dir / f).unlink(missing_ok=True)
    stack = Stack(stack_cfg, log=lambda m: console.print(f"[dim]{m}[/]"))
    stack.up()
    siak_url = f"sqlite:///{(opts.dir / 'siak.db').resolve()}"
    proj_url = f"sqlite:///{(opts.dir / 'projections.db').resolve()}"
    result: dict = {"rows": opts.rows, "machine": {"cpus": os.cpu_count()}}
    procs: list[_Proc] = []
    env = {
        "MPPHUB_KAFKA_BOOTSTRAP": stack.bootstrap,
        "MPPHUB_REGISTRY_URL": stack.registry_url,
        "MPPHUB_PROJECTION_DB_URL": proj_url,
        "MPPHUB_APP_ID": "mpphub-bench",
        "MPPHUB_WORKER_DATA_DIR": str(opts.dir / "worker"),
        "MPPHUB_RAW_TOPICS": RAW_TOPIC,
    }
    mpphub = [sys.executable, "-m", "ops.cli"]
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("sample civil registry", total=None)
            engine = sa.create_engine(siak_url)
            create_siak(engine, n_people=opts.rows, seed=11)
            progress.update(task, description="connector snapshot")
            cfg = {
                "agency": "disdukcapil",
                "name": "bench-siak",
                "source": {
                    "mode": "polling",
                    "url": siak_url,
                    "poll_interval_s": 0.2,
                    "safety_delay_s": 0.5,
                    "diff_interval_s": 3600,
                },
                "tables": [{"name": "BIODATA_WNI", "timestamp_column": "TGL_UBAH"}],
                "kafka": {"bootstrap": stack.bootstrap},
                "registry": {"url": stack.registry_url},
                "snapshot": {"chunk_size": 2000},
                "batch_size": 1000,
            }
            cfg_path = opts.dir / "bench-siak.yaml"
            cfg_path.write_text(yaml.safe_dump(cfg))
            connector = _Proc(
                "connector",
                [*mpphub, "connect", str(cfg_path), "--no-progress"],
                env,
                opts.dir / "logs" / "connector.log",
            )
            procs.append(connector)
            secs = _wait(
                lambda: _topic_size(stack.bootstrap, RAW_TOPIC) >= opts.rows,
                procs,
                900,
                "snapshot in Kafka",
            )
            result["snapshot_rows_per_s"] = round(opts.rows / secs, 1)

            progress.update(task, description="worker catching up")
            worker = _Proc(
                "worker",
                [*mpphub, "worker", "--metrics-port", str(opts.worker_metrics_port)],
                env,
                opts.dir / "logs" / "worker.log",
            )
            procs.append(worker)
            # From the first projected row on: the worker's start-up (Faust, group join) is
            # reported apart, it is not throughput.
            result["worker_startup_s"] = round(
                _wait(
                    lambda: _count(proj_url, "citizen_source_record") > 0,
                    procs,
                    300,
                    "the worker's first commit",
                ),
                2,
            )
            first = _count(proj_url, "citizen_source_record")
            secs = _wait(
                lambda: _count(proj_url, "citizen_source_record") >= opts.rows,
                procs,
                1800,
                "projection of the snapshot",
            )
            result["e2e_events_per_s"] = round((opts.rows - first) / max(secs, 1e-6), 1)

            progress.update(task, description=f"steady {opts.rate:g} updates/s")
            before = _histogram(opts.worker_metrics_port, "mpphub_projection_freshness_seconds")
            sent = _steady_updates(engine, opts, procs)
            time.sleep(3)  # the last updates' safety delay + a poll, then read the histogram
            after = _histogram(opts.worker_metrics_port, "mpphub_projection_freshness_seconds")
            result["freshness_s"] = {
                "offered_rate_per_s": opts.rate,
                "updates": sent,
                **{f"p{int(q * 100)}": quantile(q, before, after) for q in (0.5, 0.95, 0.99)},
            }
            connector.stop()
            worker.stop()

            progress.update(task, description="rebuild from the log")
            rebuilt = f"sqlite:///{(opts.dir / 'rebuilt.db').resolve()}"
            t0 = time.monotonic()
            rb = _Proc(
                "rebuild",
                [*mpphub, "rebuild", "--db", rebuilt, "--no-progress"],
                env,
                opts.dir / "logs" / "rebuild.log",
            )
            procs.append(rb)
            _wait(lambda: rb.proc.poll() is not None, procs, 1800, "rebuild")
            rb.check()
            events = _topic_total(
                stack.bootstrap,
                ("mpp.canonical.person", "mpp.canonical.permit", "mpp.canonical.service"),
            )
            result["rebuild_events_per_s"] = round(events / (time.monotonic() - t0), 1)

            progress.update(task, description="baseline (getmany + decode + upsert)")
            base = _baseline(stack, opts)
            result["baseline_events_per_s"] = base["events_per_s"]
            result["ratio_hub_to_baseline"] = round(
                result["e2e_events_per_s"] / base["events_per_s"], 3
            )
        result["peak_memory_mb"] = {p.name: p.peak_mb for p in procs}
        result["peak_memory_mb"]["baseline"] = base["peak_mb"]
        return result
    finally:
        for p in procs:
            p.stop()
        stack.down()


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
        "import json,sys; from ops.bench import baseline_main; "
        f"json.dump(baseline_main({stack.bootstrap!r}, {stack.registry_url!r}, "
        f"{str(opts.dir / 'baseline.db')!r}, {opts.rows}), open({str(out)!r}, 'w'))"
    )
    proc = _Proc("baseline", [sys.executable, "-c", code], {}, opts.dir / "logs" / "baseline.log")
    _wait(lambda: proc.proc.poll() is not None, [proc], 1800, "baseline")
    proc.check()
    data = json.loads(out.read_text())
    data["peak_mb"] = proc.peak_mb
    return data


def baseline_main(bootstrap: str, registry_url: str, db_path: str, rows: int) -> dict:
    """aiokafka getmany + our fastavro decode + one executemany upsert per batch into SQLite."""
    from aiokafka import AIOKafkaConsumer

    from eventlog import KafkaSettings
    from eventlog.admin import topic_partitions
    from schemas.codec import Deserializer
    from schemas.registry import RegistryClient

    decode = Deserializer(RegistryClient(registry_url))
    engine = sa.create_engine(f"sqlite:///{db_path}")
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE person (nik TEXT PRIMARY KEY, name TEXT, birth TEXT)"))
    upsert = sa.text(
        "INSERT INTO person VALUES (:nik, :name, :birth) "
        "ON CONFLICT (nik) DO UPDATE SET name = excluded.name, birth = excluded.birth"
    )

    async def run() -> float:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            tps = await topic_partitions(KafkaSettings(bootstrap=bootstrap), [RAW_TOPIC])
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            done, t0 = 0, time.monotonic()
            while done < rows:
                batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
                params = []
                for msgs in batch.values():
                    for m in msgs:
                        if m.value is None:
                            continue
                        after = decode(m.value)["after"]
                        if after:
                            params.append(
                                {
                                    "nik": after["NIK"],
                                    "name": after["NAMA_LGKP"],
                                    "birth": str(after["TGL_LHR"]),
                                }
                            )
                if params:
                    with engine.begin() as c:
                        c.execute(upsert, params)
                    done += len(params)
            return time.monotonic() - t0
        finally:
            await consumer.stop()

    secs = asyncio.run(run())
    return {"events_per_s": round(rows / secs, 1)}
