"""`mpphub agency`: for an agency's IT team onboarding its database without writing code.

mpphub agency inspect CONNECTOR.yaml             what the source holds, what columns look like
mpphub agency propose CONNECTOR.yaml -o a.yaml   a first mapping file from that
mpphub agency check MAPPING.yaml -c CONNECTOR.yaml   the mapping over real rows, no publishing
mpphub agency status AGENCY                      lag, last change, findings, dead letters
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

_connector_arg = click.argument(
    "connector", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


def _config(path: Path):
    from connectors.config import load_config

    return load_config(path, env=os.environ)


def _tables(config, limit: int):
    from ..agency.inspect import inspect_table
    from ..agency.source import read_source

    return [inspect_table(t) for t in read_source(config, limit)]


@click.group("agency")
def agency() -> None:
    """Onboard an agency: inspect its source, propose and check its mapping file, status."""


@agency.command("inspect")
@_connector_arg
@click.option("--sample", type=click.IntRange(min=1), default=200, show_default=True,
              help="Rows per table read to judge what columns look like.")  # fmt: skip
def inspect_cmd(connector: Path, sample: int) -> None:
    """Tables, columns, keys and row counts of the source CONNECTOR.yaml names, and the
    columns that look like a timestamp to poll by, a NIK, a KK number or a date."""
    config = _config(connector)
    for t in _tables(config, sample):
        key = ", ".join(t.key) or "none (give tables[].key)"
        title = f"{t.name}: {t.row_count} rows, key {key}"
        if not t.has_primary_key:
            title += " (no primary key)"
        table = Table(title=title, title_justify="left")
        for col in ("column", "type", "carried as", "looks like"):
            table.add_column(col)
        for c in t.columns:
            table.add_row(c.name, c.sql_type, c.kind, ", ".join(c.looks_like))
        console.print(table)
        ts = t.with_look("timestamp")
        if ts:
            console.print(f"  suggested timestamp_column: {ts[0]}", highlight=False)


@agency.command("propose")
@_connector_arg
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the mapping file here (default: print it).")  # fmt: skip
@click.option("--sample", type=click.IntRange(min=1), default=200, show_default=True)
def propose_cmd(connector: Path, output: Path | None, sample: int) -> None:
    """A first mapping file for the source CONNECTOR.yaml names, from its inspection: check
    every field, then run `mpphub agency check` on it."""
    from ..agency.inspect import propose

    config = _config(connector)
    text = propose(config.agency, _tables(config, sample), dt.date.today())
    if output is None:
        click.echo(text, nl=False)
        return
    if output.exists():
        raise click.ClickException(f"{output} exists: give another -o or remove it")
    output.write_text(text)
    err_console.print(f"wrote {output}", highlight=False)


@agency.command("check")
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--connector", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The connector file of the agency's source.")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Rows per table to map.")  # fmt: skip
@click.option("--show", type=click.IntRange(min=0), default=3, show_default=True,
              help="Events shown per table.")  # fmt: skip
def check_cmd(mapping: Path, connector: Path, limit: int, show: int) -> None:
    """Run MAPPING over a sample of real rows of its source and show the canonical events and
    data-quality findings it would produce, publishing nothing. Every problem names the file,
    line and key; exit 1 when there is one."""
    from ..agency.check import check_mapping

    report = check_mapping(mapping, _config(connector), limit)
    for table, events in report.events.items():
        console.print(f"[bold]{table}[/]: {report.rows[table]} rows -> {len(events)} events")
        for event in events[:show]:
            console.print(f"  {_shown(event)}", highlight=False, markup=False, soft_wrap=True)
    findings: dict[tuple[str, str], int] = {}
    for f in report.findings():
        findings[(f.table, f.rule_code)] = findings.get((f.table, f.rule_code), 0) + 1
    for (table, rule), n in sorted(findings.items()):
        console.print(f"finding {rule} in {table}: {n} row(s)", highlight=False)
    for name in report.unmapped:
        console.print(f"note: table {name} of the source is not in the mapping", highlight=False)
    for problem in report.problems:
        err_console.print(str(problem), highlight=False, markup=False, soft_wrap=True)
    if not report.ok:
        raise click.ClickException(f"{len(report.problems)} problem(s) in {mapping}")


def _shown(event) -> str:
    """An event for the screen: personal fields masked (the IT team sees shapes, not people)."""
    from domain.nik import mask_nik

    record = event.record()
    for name in ("nik", "kk_number"):
        if record.get(name):
            record[name] = mask_nik(record[name])
    for name in ("name", "address", "phone", "birth_place"):
        if record.get(name):
            record[name] = f"<{len(str(record[name]))} chars>"
    shown = {k: v for k, v in record.items() if v is not None and k != "record_key"}
    return f"{type(event).__name__} {shown}"


@agency.command("status")
@click.argument("agency_name", metavar="AGENCY")
def status_cmd(agency_name: str) -> None:
    """Per table of AGENCY (from its mapping file): change events captured, the worker's lag,
    the last change, data-quality findings and dead letters."""
    from streams.mappings import AGENCIES

    from ..agency.status import agency_status
    from ..settings import HubSettings

    loaded = AGENCIES.get(agency_name)
    if loaded is None:
        raise click.ClickException(f"no mapping file of agency {agency_name}")
    hub = HubSettings.from_env()
    s = hub.stream
    rows = agency_status(s.kafka, s.registry_url, s.registry_auth, agency_name,
                         list(loaded.decl.tables), s.app_id)  # fmt: skip
    table = Table(title=f"{agency_name} ({loaded.file.name})", title_justify="left")
    for col in ("table", "captured", "lag", "last change (UTC)", "findings", "dead letters"):
        table.add_column(col)
    for r in rows:
        last = r.last_change.strftime("%Y-%m-%d %H:%M:%S") if r.last_change else "-"
        lag = "-" if r.lag is None else str(r.lag)
        table.add_row(r.table, str(r.captured), lag, last, str(r.findings), str(r.dead_letters))
    console.print(table)
