"""`mpphub worker`: one Faust worker process running both stages that follow capture:
normalize (streams/) and the SQL projections (projections/). Scale out by starting more
workers with the same MPPHUB_APP_ID: Kafka shares the partitions between them."""

from __future__ import annotations

from streams.settings import WorkerSettings


def run(settings: WorkerSettings) -> int:
    """Run normalize + projections until Ctrl-C/SIGTERM; the exit code of the worker."""
    from projections.agent import register_projection
    from streams.app import run_worker

    return run_worker(settings, extra=[register_projection])
