"""`mpphub worker`: one Faust worker process running both stages that follow capture, normalize
(streams/) and the SQL projections (projections/), each with its own settings. Scale out by
starting more workers with the same MPPHUB_APP_ID: Kafka shares the partitions between them."""

from __future__ import annotations

from typing import Any

from .metrics import serve_metrics
from .settings import HubSettings


def run(hub: HubSettings, *, projections: bool = True) -> int:
    """Run normalize (+ projections) until Ctrl-C/SIGTERM; the exit code of the worker."""
    from projections.agent import register_projection
    from streams.app import run_worker

    serve_metrics(hub.metrics_port, hub.metrics_addr)
    extra = [lambda app: register_projection(app, hub.projection)] if projections else []
    return run_worker(hub.stream, extra=extra)


def run_projections_only(hub: HubSettings, **options: Any) -> None:
    """Run a worker that only keeps the projections (its own consumer group), for scaling the
    read side apart from the stream processors."""
    from projections.agent import run_projection_worker

    serve_metrics(hub.metrics_port, hub.metrics_addr)
    run_projection_worker(hub.projection, **options)
