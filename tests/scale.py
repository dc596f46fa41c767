"""Several `mpphub worker` processes in one consumer group, for the scale-out tests: each with its
own metrics port and data dir, the same MPPHUB_APP_ID. What a test asks of them is read from
the outside: the log says when a worker holds its partitions, the metrics what it processed."""

from __future__ import annotations

import re
import signal
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ops.processes import ChildProcess, free_port
from ops.stage_process import signal_worker
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
SAMPLE = re.compile(r"^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$")


@dataclass
class Worker:
    """One worker of the group: the child process and where its metrics are served."""

    process: ChildProcess
    metrics_port: int

    @property
    def name(self) -> str:
        return self.process.name

    def metric(self, name: str) -> float:
        """The sum of a metric's samples over its labels (0 when it has none yet)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            m = SAMPLE.match(line)
            if m and m.group(1) == name:
                total += float(m.group(2))
        return total

    def events(self) -> float:
        """Raw change events this worker normalized (mpphub_worker_events_total)."""
        return self.metric("mpphub_worker_events_total")

    def decisions(self) -> float:
        """Identity decisions this worker logged: non-zero only on the one resolving."""
        return self.metric("mpphub_identity_decisions_total")

    def ready(self) -> bool:
        """Faust says Ready once the worker holds its first assignment."""
        if not self.process.alive():  # not an AssertionError: the wait ends at once
            raise RuntimeError(f"{self.name} exited:\n{self.process.tail(60)}")
        return "Ready" in self.process.log.read_text(errors="replace")


class Group:
    """`n` workers sharing one MPPHUB_APP_ID (so one consumer group); `env` is every worker's."""

    def __init__(self, n: int, env: dict[str, str], tmp: Path):
        self.workers = []
        for i in range(n):
            port = free_port()
            own = {
                **env,
                "MPPHUB_WORKER_DATA_DIR": str(tmp / f"worker{i}"),
                "MPPHUB_METRICS_PORT": str(port),
            }
            argv = [sys.executable, "-m", "ops.cli", "worker"]
            process = ChildProcess(f"worker{i}", argv, tmp / f"worker{i}.log", own, cwd=REPO)
            self.workers.append(Worker(process, port))

    def start(self, timeout: float = 90) -> None:
        """Start every worker and wait until each holds an assignment (the group formed)."""
        for w in self.workers:
            w.process.start()
        wait_until(lambda: all(w.ready() for w in self.workers), timeout, "every worker ready")

    def alive(self) -> list[Worker]:
        return [w for w in self.workers if w.process.alive()]

    def stop(self) -> None:
        """Stop every worker, continuing a stopped one first so that it can end cleanly."""
        for w in self.alive():
            assert w.process.proc is not None
            signal_worker(w.process.proc.pid, signal.SIGCONT)
        for w in self.workers:
            w.process.stop(timeout=30)

    def tails(self, lines: int = 60) -> str:
        """The end of every worker's log, for a failure's report."""
        return "\n".join(f"--- {w.name} ---\n{w.process.tail(lines)}" for w in self.workers)


def record_ends(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the offset after its last committed record, for every partition of
    `topics`. Not the end offset: a transactional topic (the identity log, streams/fencing.py)
    ends in a commit marker, an offset no consumer ever sees, acknowledges or checkpoints."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        if not tps:
            return {}
        begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return {
            (tp.topic, tp.partition): _last_record_end(consumer, tp, begin[tp], end[tp])
            for tp in tps
        }
    finally:
        consumer.close()


def _last_record_end(consumer: KafkaConsumer, tp: TopicPartition, begin: int, end: int) -> int:
    """Read back from the end, further each time, until a record is found (begin if none)."""
    back = 64
    consumer.assign([tp])
    while True:
        start = max(begin, end - back)
        consumer.seek(tp, start)
        last = None
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                last = max([last or 0, *(r.offset + 1 for r in records if r.offset < end)])
        if last is not None or start == begin:
            return last if last is not None else begin
        back *= 4


def read_committed(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every committed record of a one-partition topic, from its beginning to its end now
    (an aborted transaction's records, a fenced writer's, are left out)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        out: list[ConsumerRecord] = []
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend(r for r in records if r.offset < end)
        return out
    finally:
        consumer.close()


def behind(bootstrap: str, group: str, topics: list[str]) -> dict[str, int]:
    """ "topic:partition" -> messages the group has not committed yet, for every partition of
    `topics` that has any: {} when the group's offsets are past the last record of every
    partition."""
    ends = record_ends(bootstrap, topics)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        out = {}
        for (topic, partition), end in ends.items():
            left = end - (consumer.committed(TopicPartition(topic, partition)) or 0)
            if left > 0:
                out[f"{topic}:{partition}"] = left
        return out
    finally:
        consumer.close()
