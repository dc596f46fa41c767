"""`mpphub worker`: one Faust worker process running both stages that follow capture, normalize
and identity resolution (streams/) and the SQL projections (projections/), each with its own
settings. Scale out by starting more workers with the same MPPHUB_APP_ID: Kafka shares the
partitions between them (identity resolution is one partition: one worker does it). With
`--projections process` the projections, with `--identity process` the identity resolver, run
in a child process of the worker, on another core (ops/stage_process.py). Every worker of one
MPPHUB_APP_ID runs the resolver in the same mode: the two modes read its inputs in two consumer
groups, and the transactional id they share fences one by the other (nothing is decided twice,
but the fenced resolver decides nothing more until its group is rebalanced, and its group's
offsets stay behind).

The worker refuses to start without the hub's secret (MPPHUB_SECRET_FILE): a worker that made
one up would give every record new keys and every person new ids."""

from __future__ import annotations

from typing import Any

from domain.tokens import SecretError, Tokens, load_secret

from .metrics import Merged, serve_metrics
from .settings import HubSettings, SettingsError


def hub_tokens(hub: HubSettings) -> Tokens:
    """The keyed tokens under the hub's secret file; SettingsError naming MPPHUB_SECRET_FILE
    when it is missing or unusable (the demo and the tests create it, `load_secret(create=)`)."""
    try:
        return Tokens(load_secret(hub.stream.secret_file))
    except SecretError as e:
        raise SettingsError(
            f"MPPHUB_SECRET_FILE: {e} (the hub's secret: create it once, keep it, back it up)"
        ) from None


def check_projection_secret(hub: HubSettings, db_url: str | None = None) -> None:
    """Refuse to start a projection writer on PostgreSQL (`db_url`, default the settings') that
    cannot read the hub's secret: its join locks are keyed under it (projections/rows.py), and
    without it every permit batch would fail. SettingsError names MPPHUB_SECRET_FILE."""
    from projections.store import lock_key

    try:
        lock_key(db_url or hub.projection.db_url, hub.projection.secret_file)
    except SecretError as e:
        raise SettingsError(
            f"MPPHUB_SECRET_FILE: {e} (the hub's secret: create it once, keep it, back it up)"
        ) from None


def run(
    hub: HubSettings,
    *,
    projections: bool = True,
    mode: str = "inline",
    identity_mode: str = "inline",
) -> int:
    """Run normalize, identity resolution (+ projections) until Ctrl-C/SIGTERM; the exit code
    of the worker. `mode` "process" keeps the projections, `identity_mode` "process" the
    identity resolver, in a child process each (on another core: ops/stage_process.py) instead
    of in this process's event loop."""
    from streams.app import run_worker

    from . import stage_process
    from .agency.check import refuse_unfit_mappings

    tokens = hub_tokens(hub)
    if projections:
        check_projection_secret(hub)
    # A mapping file that does not fit what its source registered: refused, naming file:line:key.
    refuse_unfit_mappings(hub.stream.registry_url, hub.stream.registry_auth)
    metrics = Merged()
    serve_metrics(hub.metrics_port, hub.metrics_addr, registry=metrics)
    use_uvloop()
    stages = []
    if identity_mode == "process":
        stages.append("identity")
    if projections and mode == "process":
        stages.append("projections")
    extra = []
    if projections and mode != "process":
        from projections.agent import register_projection

        extra.append(lambda app: register_projection(app, hub.projection))
    children = [stage_process.start(hub, stage, metrics) for stage in stages]

    def on_stop() -> None:
        # Each child starts its own graceful stop when the worker starts its one: stopped one
        # after the other, they took up to twice the stop timeout.
        for child in children:
            stage_process.begin_stop(child)

    try:
        code = run_worker(
            hub.stream,
            tokens,
            extra=extra,
            on_stop=on_stop if children else None,
            identity=identity_mode != "process",
        )
    finally:
        failed = [stage_process.stop(child) for child in children]
    return code or int(any(failed))


def run_identity_only(hub: HubSettings) -> int:
    """The identity resolver alone (`mpphub worker --identity process` runs it in a child):
    its own consumer group, the log's transactional id as inline."""
    from streams.app import run_worker

    tokens = hub_tokens(hub)
    serve_metrics(hub.metrics_port, hub.metrics_addr)
    use_uvloop()
    return run_worker(hub.stream, tokens, normalize=False, group_suffix="-identity")


def use_uvloop() -> None:
    """Event loops of this process from uvloop (libuv): less of the CPU in asyncio's own
    scheduling of Faust's and aiokafka's many small tasks."""
    import asyncio

    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_projections_only(hub: HubSettings, **options: Any) -> None:
    """Run a worker that only keeps the projections (its own consumer group, a plain Kafka
    consumer: projections/sink.py), for scaling the read side apart from the stream
    processors. `options`: `topics`, `session_timeout_s`, `heartbeat_interval_s`."""
    from projections.sink import run_projection_sink

    check_projection_secret(hub)
    serve_metrics(hub.metrics_port, hub.metrics_addr)
    use_uvloop()
    run_projection_sink(hub.projection, **options)
