"""`mpphub bench capture`: the hub's PostgreSQL connector against Debezium's, same table, same run
(ops/bench_capture.py); registered under `mpphub bench`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

err_console = Console(stderr=True)


@click.command("capture")
@click.option("--rows", type=int, default=100_000, show_default=True, help="Rows of the table.")
@click.option("--updates", type=int, default=20_000, show_default=True, help="Updates to stream.")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".mpphub/bench-capture"),
    show_default=True,
    help="Where the run keeps its stack, database and logs.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON result to this file.",
)
def capture(rows: int, updates: int, workdir: Path, out: Path | None) -> None:
    """Snapshot then stream one PostgreSQL table through Debezium 3.6 (Kafka Connect standalone)
    and through the hub's connector; prints both rates and their ratio as JSON."""
    from ..bench_capture import CaptureOptions, run_capture_bench

    if rows < 1 or updates < 1:
        raise click.UsageError("--rows and --updates must be at least 1")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def log(message: str) -> None:
            progress.update(task, description=message)

        result = run_capture_bench(CaptureOptions(rows=rows, updates=updates, dir=workdir), log)
    text = json.dumps(result, indent=2)
    if out:
        out.write_text(text + "\n")
    click.echo(text)
