"""`mpphub audit verify | reads`: check the audit chain of reads (and every head published to
Kafka), and answer a citizen's "who read my data" as a table, CSV or PDF.

The audit database is MPPHUB_AUDIT_DB_URL (.mpphub/audit.db), chained under the hub's secret
(MPPHUB_SECRET_FILE). A NIK is never a command-line argument (process lists and shell histories
keep those): `--nik` asks for it without echo, or reads it from standard input.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()


def _hub(db_url: str | None):
    from ..settings import HubSettings

    return HubSettings.from_env(overrides={"MPPHUB_AUDIT_DB_URL": db_url})


def _audit(hub):
    from sqlalchemy import inspect

    from projections.audit import open_audit
    from projections.audit.entries import AuditEntry

    from ..cli import HubError
    from ..worker import hub_tokens

    log = open_audit(hub.api.audit_db_url, hub_tokens(hub), create=False)
    if not inspect(log.engine).has_table(AuditEntry.__tablename__):
        log.close()
        raise HubError(
            "MPPHUB_AUDIT_DB_URL: no audit there (the API creates it on its first start)"
        )
    return log


def _db_option(f):
    return click.option(
        "--db",
        "db_url",
        default=None,
        help="Audit database URL [env MPPHUB_AUDIT_DB_URL; sqlite:///.mpphub/audit.db].",
    )(f)


@click.group()
def audit() -> None:
    """The audit of reads of personal data: verify the chain, list a person's reads."""


@audit.command()
@_db_option
@click.option(
    "--kafka/--no-kafka",
    default=True,
    show_default=True,
    help="Also compare every chain head published to Kafka (MPPHUB_KAFKA_BOOTSTRAP).",
)
def verify(db_url: str | None, kafka: bool) -> None:
    """Walk the chain: exit 1 naming the first entry that was edited, deleted, inserted or
    reordered, or that differs from a head published to Kafka."""
    from projections.audit.heads import published_heads
    from projections.audit.verify import verify as run_verify

    from ..cli import HubError

    hub = _hub(db_url)
    log = _audit(hub)
    try:
        heads = []
        if kafka:
            topic = _heads_topic(hub)
            heads = asyncio.run(published_heads(hub.api.kafka, topic))
        verdict = run_verify(log, heads)
    finally:
        log.close()
    if not verdict.ok:
        raise HubError(f"audit chain broken at {verdict.problem}")
    console.print(
        f"audit chain holds: {verdict.entries} entries, {verdict.heads} published head(s) agree",
        highlight=False,
    )


def _heads_topic(hub) -> str:
    return hub.api.kafka.topics.audit_heads  # the hub's (its prefix applied)


@audit.command()
@_db_option
@click.option("--person", "person_ids", multiple=True, help="A person id (repeat for aliases).")
@click.option(
    "--nik",
    "ask_nik",
    is_flag=True,
    help="Find the reads of a NIK: asked without echo, or read from standard input.",
)
@click.option("--csv", "csv_file", type=click.Path(path_type=Path), help="Write CSV here.")
@click.option("--pdf", "pdf_file", type=click.Path(path_type=Path), help="Write a PDF here.")
def reads(
    db_url: str | None,
    person_ids: tuple[str, ...],
    ask_nik: bool,
    csv_file: Path | None,
    pdf_file: Path | None,
) -> None:
    """Who read a person's data, when, in which role and why: a table, and for the citizen who
    asked, a CSV and/or a PDF."""
    from domain.nik import mask_nik
    from projections.audit.export import to_csv, to_pdf

    if not person_ids and not ask_nik:
        raise click.UsageError("name the person with --person ID or --nik")
    nik = _read_nik() if ask_nik else None
    log = _audit(_hub(db_url))
    try:
        found = log.reads_of(nik=nik, person_ids=person_ids)
    finally:
        log.close()
    subject = ", ".join([*([mask_nik(nik)] if nik else []), *person_ids])
    table = Table("seq", "at (UTC)", "who", "role", "purpose", "action", "person", "client")
    for e in found:
        table.add_row(
            str(e.seq),
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.who,
            e.role,
            e.purpose or "",
            e.action,
            e.person_id or "",
            e.client or "",
        )
    console.print(table)
    console.print(f"{len(found)} read(s) of {subject}", highlight=False)
    if csv_file:
        csv_file.write_text(to_csv(found))
        console.print(f"CSV: {csv_file}", highlight=False)
    if pdf_file:
        pdf_file.write_bytes(to_pdf(found, subject))
        console.print(f"PDF: {pdf_file}", highlight=False)


def _read_nik() -> str:
    from domain.nik import check_nik

    if sys.stdin.isatty():
        nik = click.prompt("NIK", hide_input=True)
    else:
        nik = sys.stdin.readline()
    nik = nik.strip()
    if check_nik(nik).status.value == "MALFORMED":
        raise click.BadParameter("a NIK is 16 digits", param_hint="--nik")
    return nik
