"""`mpphub worker --projections process` and `--identity process`: a stage of the worker in a
child process, on the machine's other core, instead of in the worker's own event loop (and GIL)
next to normalize.

- `projections`: the projection-only worker (projections/sink.py: a plain Kafka consumer in
  group `<app_id>-projections`, checkpoints in the same transactions as the rows, as inline).
- `identity`: the identity resolver alone (streams/identity.py) in a Faust app of consumer group
  `<app_id>-identity`; its decisions go to the log under the same transactional id as inline,
  so a resolver in one mode fences one in the other. The group's offsets are its own: the first
  start in this mode reads the person facts from the beginning, and the inputs the log says are
  decided are skipped, not decided again (streams/resolution.py).

A child ends with its parent, even a parent killed with SIGKILL (PR_SET_PDEATHSIG), and the
parent's /metrics merges the children's hub metrics (`mpphub_*`) with its own
(ops/metrics.py), so that one scrape still sees the whole worker.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from .metrics import Merged
from .processes import die_with_parent, exit_with, free_port
from .settings import HubSettings

log = logging.getLogger(__name__)

MODES = ("inline", "process")
STAGES = ("projections", "identity")
STOP_TIMEOUT_S = 20.0
# The worker's own group timeouts (streams/app.py): a child restarted after a crash gets its
# partitions back once the dead child's 10 s session has expired.
GROUP_TIMEOUTS = {"session_timeout_s": 10.0, "heartbeat_interval_s": 3.0}


def start(
    hub: HubSettings, stage: str = "projections", metrics: Merged | None = None
) -> subprocess.Popen[bytes]:
    """Start a stage's child (a fresh interpreter: no Kafka client or thread crosses a fork;
    its settings on its stdin); `metrics`, the parent's served metrics, merge the child's."""
    if stage not in STAGES:
        raise ValueError(f"no such stage {stage!r} (one of {', '.join(STAGES)})")
    port = free_port()
    # The worker's data dir on its command line: the marker by which a process counts as the
    # hub's (ops/processes.py), so a demo or a test sees the child among what it started.
    code = "from ops.stage_process import child_main; child_main()"
    marker = hub.projection.data_dir if stage == "projections" else hub.stream.data_dir
    child = spawn(code, stage, marker)
    assert child.stdin is not None
    settings = hub.model_copy(update={"metrics_port": port, "metrics_addr": "127.0.0.1"})
    child.stdin.write(settings.model_dump_json().encode())
    child.stdin.close()
    if metrics is not None and hub.metrics_port is not None:
        metrics.add(_Relay(f"http://127.0.0.1:{port}/metrics"))
    watch = threading.Thread(target=_watch, args=(child, stage), name=f"{stage}-watch")
    watch.daemon = True
    watch.start()
    log.info("%s: in child process %d", stage, child.pid)
    return child


def _watch(child: subprocess.Popen[bytes], stage: str = "projections") -> None:
    """A child that ends on its own (a crash) stops the worker too: no worker runs on without
    one of its stages."""
    code = child.wait()
    if child not in _stopping:
        log.critical("%s: child process ended (exit %s): stopping the worker", stage, code)
        os.kill(os.getpid(), signal.SIGTERM)


_stopping: set[subprocess.Popen[bytes]] = set()


def begin_stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop of its Faust worker) without waiting; its end is then no crash.
    A child that ended on its own before stays a failure for `stop`."""
    if child.poll() is None and child not in _stopping:
        _stopping.add(child)
        child.terminate()


def stop(child: subprocess.Popen[bytes]) -> bool:
    """SIGTERM (a graceful stop of its Faust worker) unless begun, SIGKILL after
    STOP_TIMEOUT_S; whether the child had ended on its own before it was asked (a failure)."""
    failed = child.poll() is not None and child not in _stopping
    _stopping.add(child)
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return failed


def signal_worker(pid: int, sig: int) -> None:
    """Send `sig` to a worker and to its projection child (none inline): SIGSTOP freezes the
    whole worker as a hung host would, not only its stream stages."""
    for target in (pid, *_children(pid)):
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            pass  # ended meanwhile


def _children(pid: int) -> list[int]:
    """The live children of a process, from /proc (Linux 3.5+); none when it is gone."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except OSError:
        return []


def spawn(code: str, *args: str) -> subprocess.Popen[bytes]:
    """`python -c code args...` as a child that gets SIGTERM when this process ends however it
    ends, in a session of its own (a Ctrl-C reaches the parent, which stops the child in
    order)."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=die_with_parent(),  # noqa: PLW1509 - ctypes looked up before the fork
    )


def child_main() -> None:
    """The child: its stage from its command line (`-c code stage marker`), its settings from
    stdin, then that stage alone until stopped."""
    stage = sys.argv[1] if len(sys.argv) > 1 else ""
    if stage not in STAGES:
        raise SystemExit(f"stage_process: no such stage {stage!r} (one of {', '.join(STAGES)})")
    hub = HubSettings.model_validate_json(sys.stdin.read())
    from . import worker

    exit_when_orphaned(hub.stream.stop_timeout_s, stage=stage)
    if stage == "identity":
        exit_with(worker.run_identity_only(hub))
    worker.run_projections_only(hub, **GROUP_TIMEOUTS)
    exit_with(0)


def exit_when_orphaned(grace_s: float, poll_s: float = 0.2, stage: str = "projections") -> None:
    """End this process `grace_s` after its parent has gone (it was sent SIGTERM then): Faust
    may wait without limit on brokers that went with the parent (a demo killed -9), and a
    parent past its own stop timeout exits without stopping its child."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        time.sleep(grace_s)
        sys.stderr.write(
            f"{stage}: stop took longer than {grace_s:g} s after the worker ended "
            "(MPPHUB_WORKER_STOP_TIMEOUT_S): exiting now; uncommitted work is redone\n"
        )
        sys.stderr.flush()
        os._exit(1)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


class _Relay:
    """A Prometheus collector yielding the child's hub metrics (nothing while it does not
    answer: a scrape of the parent never fails because of the child)."""

    def __init__(self, url: str):
        self.url = url
        # One client for the worker's life: httpx.get builds a client (and an SSL context)
        # per call, which cost the worker's main thread ~1.5% of its time under a scrape
        # every 0.1 s (py-spy, bench e2e). httpx's pool is safe across the server's threads.
        self._client = httpx.Client(timeout=2.0)

    def describe(self) -> list[Any]:
        return []  # names unknown until the child answers; none is registered here

    def collect(self) -> Iterator[Metric]:
        try:
            text = self._client.get(self.url).text
        except httpx.HTTPError:
            return
        for family in text_string_to_metric_families(text):
            if family.name.startswith("mpphub_"):
                yield family
