"""`mpphub`: the hub's command line. Every command has --help; a failure exits non-zero with
one clear line on stderr (the traceback only with MPPHUB_DEBUG=1)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .redaction import install_log_redaction
from .stack import Stack, StackConfig, StackError

console = Console()
err_console = Console(stderr=True)


class HubError(click.ClickException):
    """Shown as `error: <message>` and exit code 1."""

    def show(self, file=None) -> None:  # noqa: D102 - click's hook
        err_console.print(f"[bold red]error:[/] {self.message}", highlight=False, soft_wrap=True)


class _KafkaReason(logging.Handler):
    """Keeps the last connection failure aiokafka logged: its exception says only "Unable to
    bootstrap", the log line says why (refused credentials, untrusted certificate...)."""

    last = ""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "nable connect to" in text:
            _KafkaReason.last = text


logging.getLogger("aiokafka").addHandler(_KafkaReason(logging.ERROR))
# No NIK, KK number, source key or URL query in any log line of any hub process (ops/redaction.py).
install_log_redaction()


def _kafka_message(msg: str) -> str:
    from eventlog.settings import connection_hint

    hint = connection_hint(_KafkaReason.last)
    return f"cannot connect to Kafka: {hint}" if hint else msg


class _Group(click.Group):
    """Turns the hub's expected errors into one line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:  # noqa: BLE001 - the boundary where errors become one line
            if os.environ.get("MPPHUB_DEBUG") == "1":
                raise
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if not isinstance(e, StackError | ValueError | OSError | RuntimeError):
                msg = f"{type(e).__name__}: {msg}"
            if type(e).__name__ == "KafkaConnectionError":
                msg = _kafka_message(msg)
            raise HubError(msg) from e


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mpphub")
def main() -> None:
    """MPP Hub: agency change capture to Kafka, unified citizen and permit records."""


# --- stack ------------------------------------------------------------------------------------
def _stack_options(f):
    f = click.option(
        "--state-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Where data and logs live [env MPPHUB_STATE_DIR; .mpphub/stack].",
    )(f)
    f = click.option(
        "--kafka-port",
        type=int,
        default=None,
        help="First broker's port [env MPPHUB_KAFKA_PORT; 9092].",
    )(f)
    f = click.option(
        "--controller-port",
        type=int,
        default=None,
        help="First controller's port [env MPPHUB_CONTROLLER_PORT; 9093].",
    )(f)
    f = click.option(
        "--registry-port",
        type=int,
        default=None,
        help="Registry port [env MPPHUB_REGISTRY_PORT; 8081].",
    )(f)
    return f


def _stack(
    state_dir,
    kafka_port,
    controller_port,
    registry_port,
    brokers=None,
    secure=None,
    keycloak=None,
    keycloak_port=None,
) -> Stack:
    cfg = StackConfig.from_env(
        state_dir=state_dir,
        kafka_port=kafka_port,
        controller_port=controller_port,
        registry_port=registry_port,
        brokers=brokers,
        secure=secure,
        keycloak=keycloak,
        keycloak_port=keycloak_port,
    )
    return Stack(cfg, log=lambda m: err_console.print(f"[dim]{m}[/]", highlight=False))


def _print_status(statuses) -> None:
    table = Table("service", "health", "pid", "port", "address", "detail")
    for s in statuses:
        health = "[green]healthy[/]" if s.healthy else "[red]down[/]"
        table.add_row(s.name, health, str(s.pid or "-"), str(s.port), s.address, s.detail)
    console.print(table)


@main.group()
def stack() -> None:
    """The local stack: Apache Kafka (KRaft) and Apicurio Registry on loopback."""


@stack.command("up")
@_stack_options
@click.option(
    "--brokers",
    type=click.Choice(["1", "3"]),
    default="1",
    show_default=True,
    help="3 = replication factor 3, min ISR 2, for fault tests.",
)
@click.option(
    "--timeout",
    type=float,
    default=180.0,
    show_default=True,
    help="Seconds to wait until every service answers.",
)
@click.option(
    "--secure",
    is_flag=True,
    default=None,
    help="SASL_SSL (SCRAM-SHA-512) brokers and an HTTPS registry with basic auth; a CA, "
    "certificates and passwords are made under <state-dir>/secure.",
)
@click.option(
    "--with-keycloak",
    "keycloak",
    is_flag=True,
    default=None,
    help="Also Keycloak (OIDC provider for the API's bearer tokens) with the hub's realm and "
    "demo users; their passwords in <state-dir>/keycloak/users.json.",
)
@click.option(
    "--keycloak-port",
    type=int,
    default=None,
    help="Keycloak's port; its management port is the next [env MPPHUB_KEYCLOAK_PORT; 8180].",
)
def stack_up(
    state_dir,
    kafka_port,
    controller_port,
    registry_port,
    brokers,
    timeout,
    secure,
    keycloak,
    keycloak_port,
) -> None:
    """Start Kafka and the registry (and Keycloak) idempotently; wait until they answer."""
    s = _stack(
        state_dir,
        kafka_port,
        controller_port,
        registry_port,
        int(brokers),
        secure,
        keycloak,
        keycloak_port,
    )
    _print_status(s.up(timeout=timeout))
    console.print(f"bootstrap servers: {s.bootstrap}\nschema registry:   {s.registry_url}")
    if s.keycloak is not None:
        console.print(
            f"OIDC issuer:       {s.keycloak.issuer}  (MPPHUB_OIDC_ISSUER for `mpphub api`)\n"
            f"demo users:        {s.keycloak.state_dir / 'users.json'}"
        )
    if s.secrets is not None:
        console.print(
            f"secured: clients need the variables in {s.secrets.client_env}\n"
            f"  source {s.secrets.client_env}   (passwords stay in their 0600 files)"
        )


@stack.command("fetch")
def stack_fetch() -> None:
    """Fetch the pinned Kafka, registry and Keycloak from Maven Central (idempotent)."""
    cfg = StackConfig.from_env()
    s = Stack(cfg, log=lambda m: err_console.print(f"[dim]{m}[/]", highlight=False))
    s.dist.ensure(log=s.log)
    v = s.dist.versions
    console.print(f"Apache Kafka {v.kafka} and Apicurio Registry {v.apicurio} in {s.dist.root}")
    from .stack.keycloak import fetch_keycloak

    console.print(f"Keycloak in {fetch_keycloak(s.dist.root, log=s.log)}")


@stack.command("down")
@_stack_options
@click.option("--purge", is_flag=True, help="Also delete the stack's data and logs.")
def stack_down(state_dir, kafka_port, controller_port, registry_port, purge) -> None:
    """Stop the processes `stack up` started (by pid); leave anything else alone."""
    s = _stack(state_dir, kafka_port, controller_port, registry_port)
    stopped = s.down(purge=purge)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command("status")
@_stack_options
def stack_status(state_dir, kafka_port, controller_port, registry_port) -> None:
    """Health, pid, port and address of each service; exit 1 when any is down."""
    s = _stack(state_dir, kafka_port, controller_port, registry_port)
    statuses = s.status()
    _print_status(statuses)
    if not all(x.healthy for x in statuses):
        sys.exit(1)


@stack.command("logs")
@_stack_options
@click.argument("service", required=False)
@click.option("-n", "--lines", type=int, default=40, show_default=True)
def stack_logs(state_dir, kafka_port, controller_port, registry_port, service, lines) -> None:
    """The last lines of each service's log (or of SERVICE: kafka-1, registry, ...)."""
    s = _stack(state_dir, kafka_port, controller_port, registry_port)
    for name, text in s.logs(service, lines).items():
        console.rule(name)
        console.print(text or "(empty)", highlight=False, markup=False)


# --- schemas ----------------------------------------------------------------------------------
@main.group()
def schemas() -> None:
    """The canonical Avro schemas (schemas/avro/*.avsc) and the registry."""


@schemas.command("check")
@click.option(
    "--registry-url",
    default=None,
    help="Registry to check compatibility against [env MPPHUB_REGISTRY_URL; "
    "http://127.0.0.1:8081/apis/ccompat/v7].",
)
@click.option("--offline", is_flag=True, help="Only validate the .avsc files; no registry call.")
def schemas_check(registry_url: str | None, offline: bool) -> None:
    """Validate every .avsc and its compatibility with what the registry holds.

    Exit 0 all fine, 1 a schema invalid or incompatible, 2 the registry unreachable."""
    from schemas.check import schemas_check_command

    url = registry_url or os.environ.get(
        "MPPHUB_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7"
    )
    from schemas.registry import RegistryAuth

    username = os.environ.get("MPPHUB_REGISTRY_USERNAME") or None
    password_file = os.environ.get("MPPHUB_REGISTRY_PASSWORD_FILE") or None
    if (username is None) != (password_file is None):
        raise HubError("MPPHUB_REGISTRY_USERNAME and MPPHUB_REGISTRY_PASSWORD_FILE go together")
    auth = RegistryAuth(
        username=username,
        password_file=password_file,
        cafile=os.environ.get("MPPHUB_REGISTRY_CAFILE") or None,
    )
    sys.exit(schemas_check_command(url, offline, auth))


# --- connect ----------------------------------------------------------------------------------
@main.command()
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Print the connector's stored offsets, snapshot progress and paused tables.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars (logs only).")
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve Prometheus metrics on this port [env MPPHUB_METRICS_PORT; config metrics_port].",
)
def connect(config: Path, show_status: bool, no_progress: bool, metrics_port: int | None) -> None:
    """Run the connector described by CONFIG (YAML): snapshot, then stream changes to Kafka.

    MPPHUB_KAFKA_* and MPPHUB_REGISTRY_* (bootstrap, security, URL, credentials), when set,
    override the config's kafka.* and registry.* keys (as docker-compose does)."""
    from .connect import ENV_OVERRIDES, run_connect, show_connect_status

    overrides = {key: os.environ[var] for var, key in ENV_OVERRIDES.items() if os.environ.get(var)}
    if metrics_port is None and os.environ.get("MPPHUB_METRICS_PORT"):
        metrics_port = int(os.environ["MPPHUB_METRICS_PORT"])
    if metrics_port is not None:
        overrides["metrics_port"] = metrics_port
    if show_status:
        sys.exit(show_connect_status(config, overrides, console))
    run_connect(config, overrides, progress=not no_progress, console=err_console)


# --- worker, api, rebuild --------------------------------------------------------------------
def _hub_settings(**options):
    """Settings from MPPHUB_* variables; options given on the command line win (by the name
    of the variable they stand for)."""
    from .settings import HubSettings

    return HubSettings.from_env(overrides=options)


@main.command()
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve Prometheus metrics on this port [env MPPHUB_METRICS_PORT].",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    help="Projection database URL [env MPPHUB_PROJECTION_DB_URL; "
    "sqlite:///.mpphub/projections.db].",
)
@click.option(
    "--projections",
    "projections_mode",
    type=click.Choice(["inline", "process"]),
    default="inline",
    envvar="MPPHUB_WORKER_PROJECTIONS",
    help="Keep the projections in the worker's event loop, or in a child process on another "
    "core (a plain Kafka consumer in group <app id>-projections, without Faust's per-event cost) "
    "[env MPPHUB_WORKER_PROJECTIONS; inline].",
)
@click.option(
    "--identity",
    "identity_mode",
    type=click.Choice(["inline", "process"]),
    default="inline",
    envvar="MPPHUB_WORKER_IDENTITY",
    help="Keep the identity resolver in the worker's event loop, or in a child process "
    "(consumer group <app id>-identity; every worker of one app id in the same mode) "
    "[env MPPHUB_WORKER_IDENTITY; inline].",
)
def worker(
    metrics_port: int | None, db_url: str | None, projections_mode: str, identity_mode: str
) -> None:
    """Run a Faust worker: normalize raw change events, keep the SQL projections.

    Settings come from MPPHUB_* variables (MPPHUB_KAFKA_BOOTSTRAP, MPPHUB_REGISTRY_URL, ...);
    start more workers with the same MPPHUB_APP_ID to scale out."""
    from .processes import exit_with
    from .worker import run

    hub = _hub_settings(MPPHUB_METRICS_PORT=metrics_port, MPPHUB_PROJECTION_DB_URL=db_url)
    exit_with(run(hub, mode=projections_mode, identity_mode=identity_mode))


@main.command()
@click.option("--host", default=None, help="Address [env MPPHUB_API_HOST; 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env MPPHUB_API_PORT; 8000].")
@click.option("--db", "db_url", default=None, help="Projection database URL.")
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve Prometheus metrics on this port, apart from the API [env MPPHUB_METRICS_PORT].",
)
def api(host: str | None, port: int | None, db_url: str | None, metrics_port: int | None) -> None:
    """Serve the front-office API and page over the projections (docs at /docs); log in at
    /login with an account of `mpphub users`, or send an OIDC bearer token."""
    from projections.api import run_api

    from .metrics import serve_metrics

    hub = _hub_settings(
        MPPHUB_API_HOST=host,
        MPPHUB_API_PORT=port,
        MPPHUB_PROJECTION_DB_URL=db_url,
        MPPHUB_METRICS_PORT=metrics_port,
    )
    serve_metrics(hub.metrics_port, hub.metrics_addr)
    run_api(hub.api)


@main.command()
@click.option(
    "--db",
    "db_url",
    default=None,
    help="Rebuild into this database instead of the live one [default: the settings' DB].",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def rebuild(db_url: str | None, no_progress: bool) -> None:
    """Rebuild the projections from the canonical topics in Kafka: fold the log in memory,
    write it into a new database (SQLite file, PostgreSQL schema) and swap it in.

    Readers see the old projection or the new one, never a mix; review notes are kept. Stop
    the workers first when rebuilding the live database in place."""
    from projections.rebuild import rebuild as do_rebuild

    from .worker import check_projection_secret

    hub = _hub_settings()
    check_projection_secret(hub, db_url)
    stats = do_rebuild(hub.projection, target_url=db_url, progress=not no_progress)
    console.print(stats)


@main.command()
@click.option(
    "--people",
    type=int,
    default=2000,
    show_default=True,
    help="Residents in the sample civil registry.",
)
@click.option(
    "--permits",
    type=int,
    default=400,
    show_default=True,
    help="Applications in the sample permits database.",
)
@click.option(
    "--rate",
    type=float,
    default=1.0,
    show_default=True,
    help="Simulated agency changes per second (0 = none).",
)
@click.option("--api-port", type=int, default=8000, show_default=True)
def demo(people: int, permits: int, rate: float, api_port: int) -> None:
    """Run the whole hub on this machine with sample agencies (Ctrl-C stops what it started)."""
    from .demo import DemoOptions, run_demo

    run_demo(console, DemoOptions(people=people, permits=permits, rate=rate, api_port=api_port))


# --- bench --------------------------------------------------------------------------------------
@main.group()
def bench() -> None:
    """Benchmarks: results as JSON, with a baseline measured in the same run."""


@bench.command("e2e")
@click.option(
    "--rows",
    type=int,
    default=20000,
    show_default=True,
    help="People in the sample civil registry (events of the snapshot).",
)
@click.option(
    "--rate",
    type=float,
    default=50.0,
    show_default=True,
    help="Offered updates per second in the freshness phase.",
)
@click.option("--steady-seconds", type=float, default=20.0, show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON result to this file.",
)
def bench_e2e(rows: int, rate: float, steady_seconds: float, out: Path | None) -> None:
    """Snapshot, end-to-end, freshness, rebuild and baseline throughput, on a fresh stack."""
    import json

    from .bench import BenchOptions, run_bench

    result = run_bench(err_console, BenchOptions(rows=rows, rate=rate, steady_s=steady_seconds))
    text = json.dumps(result, indent=2)
    if out:
        out.write_text(text + "\n")
    click.echo(text)


# --- identity -----------------------------------------------------------------------------------
@main.group()
def identity() -> None:
    """Identity resolution with the worker's resolver, without Kafka: match records, measure."""


_PARAMS = click.option(
    "--params",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Match model parameter file [default: the shipped domain/matching/params.json].",
)


@identity.command("match")
@_PARAMS
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Key person ids with this secret (created when missing), so reruns give the same "
    "ids [default: a fresh secret per run].",
)
@click.option("--strict", is_flag=True, help="Stop with exit code 1 at the first bad line.")
def identity_match(params: Path | None, secret_file: Path | None, strict: bool) -> None:
    """Resolve person records given as JSON lines on stdin; write person ids as JSON lines.

    Each line is an object with any of: record_id (required), name, birth_date (YYYY-MM-DD),
    sex (L/P), birth_place, address, kelurahan, kecamatan, postcode, nik, kk_number, phone,
    other_id, source (the agency; "disdukcapil" is the civil registry); null or absent means
    unknown. Each record is answered with {"record_id": ..., "person_id": ...}; when a merge or
    a split changes the person of records already written, they are written again. A bad line
    is reported on stderr with its number and skipped (or ends the run with --strict)."""
    from .identity import match, new_resolver, secret_from

    resolver = new_resolver(params, secret_from(secret_file))
    run = match(
        sys.stdin,
        sys.stdout,
        resolver,
        lambda msg: err_console.print(f"[yellow]{msg}[/]", highlight=False, soft_wrap=True),
        strict=strict,
    )
    stats = resolver.stats
    err_console.print(
        f"[dim]{run.resolved} records -> {stats['persons']} persons ({stats['merges']} merges, "
        f"{stats['splits']} splits, {stats['open_reviews']} open reviews); "
        f"{run.refused} lines refused[/]",
        highlight=False,
    )
    if strict and run.refused:
        sys.exit(1)


@identity.command("eval")
@click.option("--people", type=int, default=20000, show_default=True, help="Residents.")
@click.option(
    "--agencies",
    type=click.IntRange(1, 4),
    default=3,
    show_default=True,
    help="The civil registry and agencies-1 others (permits, health centres, social aid).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--index-people",
    type=int,
    default=0,
    show_default=True,
    help="Extra registry-only residents resolved first, so the index is this much larger "
    "while measuring (the benchmark: --people 20000 --index-people 80000).",
)
@click.option(
    "--order",
    type=click.Choice(["interleaved", "registry-first"]),
    default="interleaved",
    show_default=True,
    help="interleaved: all records by their source time; registry-first: the civil registry, "
    "then the other agencies.",
)
@_PARAMS
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON result to this file.",
)
def identity_eval(
    people: int,
    agencies: int,
    seed: int,
    index_people: int,
    order: str,
    params: Path | None,
    no_progress: bool,
    out: Path | None,
) -> None:
    """Resolve a generated, labelled corpus one record at a time and print JSON: pairwise
    precision, recall and F1, the review queue, records/s, pairs scored per record, peak memory,
    errors by kind."""
    import json

    from .evaluation import EvalOptions, evaluate

    options = EvalOptions(people, agencies, seed, index_people, order, params, not no_progress)
    text = json.dumps(evaluate(options, err_console), indent=2)
    if out:
        out.write_text(text + "\n")
    click.echo(text)


# --- deadletter ---------------------------------------------------------------------------------
@main.group()
def deadletter() -> None:
    """Dead letters: what a stage could not process, kept with its reason. List, show, replay.

    A dead letter's ID is its partition:offset on the dead-letter topic (`list` shows them).
    Kafka and the registry from MPPHUB_KAFKA_BOOTSTRAP and MPPHUB_REGISTRY_URL."""


def _dl_topic(f):
    return click.option(
        "--deadletter-topic",
        envvar="MPPHUB_DEADLETTER_TOPIC",
        default=None,
        help="The dead-letter topic [env MPPHUB_DEADLETTER_TOPIC; default the hub's,"
        " MPPHUB_TOPIC_PREFIX + mpp.hub.deadletter]; its replay log is <topic>-replays.",
    )(f)


def _dl_time(ctx, param, value):
    from .deadletter import parse_time

    try:
        return parse_time(value) if value else None
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _dl_filters(f):
    options = [
        click.option("--topic", default=None, help="Original topic (exact)."),
        click.option("--reason", default=None, help="Reason contains this (case-insensitive)."),
        click.option("--stage", default=None, help="Stage: capture, normalize, identity, ..."),
        click.option("--agency", default=None, help="Agency code, e.g. disdukcapil."),
        click.option(
            "--since", callback=_dl_time, help="Written at or after (ISO 8601; UTC if no offset)."
        ),
        click.option("--until", callback=_dl_time, help="Written before (ISO 8601)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _dl_source(topic: str):
    from .deadletter import Source

    # aiokafka logs each failed connection before raising; the raised error is the one line.
    # Not by a level: eventlog keeps the reason logged (the setting it names) from its handler,
    # and with that handler nothing of aiokafka's reaches stderr (no root handler here).
    hub = _hub_settings()
    # No topic: the hub's (its prefix applied).
    source = Source(
        hub.stream.kafka, hub.stream.registry_url, topic or "", hub.stream.registry_auth
    )
    return source, hub


@deadletter.command("list")
@_dl_topic
@_dl_filters
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many: the newest that match.",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
def deadletter_list(deadletter_topic: str, limit: int, as_json: bool, **filters) -> None:
    """Dead letters that match every filter given, oldest first: ID, time, stage, original
    topic/partition/offset, error type, reason, times replayed. Never the key or value (they
    may hold personal data): see `show --reveal`."""
    import json

    from .deadletter import Filters, load, replays_of, select, summary

    source, _ = _dl_source(deadletter_topic)
    loaded = load(source)
    found = select(loaded.letters, Filters(**filters))
    replays = replays_of(source)
    rows = [summary(d, replays.get(d.id, ())) for d in found[-limit:]]
    if loaded.unreadable:
        err_console.print(f"[yellow]not dead letters: {', '.join(loaded.unreadable)}[/]")
    if len(found) > limit:
        err_console.print(f"[dim]the newest {limit} of {len(found)} (--limit)[/]")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(
        "id", "ts", "stage", "original topic", "part", "offset", "error", "reason", "replayed"
    )
    for r in rows:
        cells = [r["id"], r["ts"], r["stage"], r["original_topic"], r["original_partition"]]
        cells += [r["original_offset"], r["error_type"], r["reason"], r["replayed"] or ""]
        table.add_row(*("-" if c is None else str(c) for c in cells))
    console.print(table)
    console.print(f"{len(rows)} dead letter(s) on {source.topic}", highlight=False)


@deadletter.command("show")
@click.argument("dead_letter_id", metavar="ID")
@_dl_topic
@click.option(
    "--reveal",
    is_flag=True,
    help="Also print the key and value, every number of 12+ digits (NIK, KK) masked; names "
    "stay readable.",
)
@click.option(
    "--unmasked",
    is_flag=True,
    help="With --reveal: print them whole; needs --purpose and is recorded in the audit file.",
)
@click.option("--purpose", default=None, help="Why you need them unmasked (recorded).")
@click.option(
    "--audit-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=".mpphub/audit/deadletter-reveals.jsonl",
    show_default=True,
    help="Append-only record of unmasked reveals (JSON lines: who, when, which, why).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def deadletter_show(
    dead_letter_id: str,
    deadletter_topic: str,
    reveal: bool,
    unmasked: bool,
    purpose: str | None,
    audit_file: Path,
    as_json: bool,
) -> None:
    """One dead letter's metadata; its key and value only with --reveal.

    A dead letter keeps the original message, which may hold personal data (NIK, names), and
    this CLI has no login yet (roles come with issue 9). So seeing it is explicit: --reveal
    masks identity numbers; --reveal --unmasked --purpose TEXT shows everything and first
    appends who ($USER), when, which dead letter and why to the audit file."""
    import getpass
    import json

    from .deadletter import audit_reveal, details, load, replays_of, resolve, revealed

    if unmasked and not reveal:
        raise click.UsageError("--unmasked goes with --reveal")
    if unmasked and not (purpose or "").strip():
        raise click.UsageError("--unmasked needs --purpose: why you need the personal data")
    source, _ = _dl_source(deadletter_topic)
    letter = resolve(load(source).letters, dead_letter_id)
    out = details(letter, replays_of(source).get(letter.id, ()), unmasked=unmasked)
    if reveal:
        if unmasked:
            who = getpass.getuser()
            audit_reveal(audit_file, who=who, topic=source.topic, letter=letter, purpose=purpose)
        out |= revealed(source, letter, unmasked=unmasked)
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    table = Table("field", "value", show_header=False)
    for k, v in out.items():
        if k not in ("key", "value", "replays"):
            table.add_row(k, "-" if v is None else str(v))
    for r in out["replays"]:
        to = r["replayed_to"]
        table.add_row("replay", f"{r['when']} by {r['who']} -> {to['partition']}:{to['offset']}")
    console.print(table)
    for k in ("key", "value"):
        if k in out:
            console.rule(k + ("" if unmasked else " (identity numbers masked)"))
            console.print(out[k], highlight=False, markup=False)
    if not reveal:
        console.print("key and value hidden (personal data): --reveal to see them masked")


@deadletter.command("replay")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@_dl_topic
@_dl_filters
@click.option("--again", is_flag=True, help="Also resend those the replay log holds already.")
@click.option("--dry-run", is_flag=True, help="List what would be replayed; send nothing.")
def deadletter_replay(ids, deadletter_topic: str, again: bool, dry_run: bool, **filters) -> None:
    """Re-send normalize-stage dead letters to their raw topic, once the mapping that refused
    them is fixed.

    Name them by ID, select them with filters, or both. Their exact key and value bytes go
    back to the original topic and partition; the worker normalizes them again (it is
    deterministic) and the projections skip what they hold already. Each replay is recorded on
    the replay-log topic (dead letter, original place, new offset, who, when) and a dead letter
    found there is skipped unless --again. A capture-stage dead letter (a row that could not be
    encoded) has no message to re-send: re-capture its row at the source. Exit 1 when a
    selected dead letter could not be replayed."""
    import getpass

    from .deadletter import Filters, load, replay, select

    chosen = Filters(**filters)
    if not ids and not chosen.any:
        raise click.UsageError("name dead letters by ID or select them with a filter")
    source, hub = _dl_source(deadletter_topic)
    selected = select(load(source).letters, chosen, ids)
    report = replay(
        source,
        selected,
        who=getpass.getuser(),
        replication_factor=hub.stream.replication_factor,
        again=again,
        dry_run=dry_run,
    )
    for line in report.lines(len(selected)):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if report.refused:
        raise HubError(f"{len(report.refused)} dead letter(s) could not be replayed (see above)")


from .commands.agency import agency  # noqa: E402

main.add_command(agency)

from .commands.audit import audit  # noqa: E402

main.add_command(audit)

from .commands.users import users  # noqa: E402

main.add_command(users)

from .commands.chaos import chaos  # noqa: E402

main.add_command(chaos)


from .commands.bench_capture import capture as bench_capture  # noqa: E402

bench.add_command(bench_capture)


if __name__ == "__main__":
    main()
