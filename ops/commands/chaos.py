"""`mpphub chaos --minutes N`: the fault suite's scenarios (ops/chaos.py), longer, on a hub of its
own (three brokers, PostgreSQL projections, SIAK in PostgreSQL, SiCantik in MariaDB, two
workers), and a JSON report: events, faults injected by kind, lost, doubled, time to recover.
Exits non-zero when anything was lost or doubled or did not recover."""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


@click.command()
@click.option("--minutes", type=click.FloatRange(min=1), default=10, show_default=True)
@click.option("--workers", type=click.IntRange(2, 3), default=2, show_default=True)
@click.option("--seed", type=int, default=None, help="Fault order and moments (default: random).")
@click.option(
    "--dir",
    "state",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State dir (default: a fresh temporary one, removed at the end).",
)
def chaos(minutes: float, workers: int, seed: int | None, state: Path | None) -> None:
    """Inject faults into a hub under load for MINUTES and report what they cost (JSON)."""
    from ops.chaos import KINDS, ChaosHub, ChaosOptions, ChaosReport, Recovery, run_faults

    seed = seed if seed is not None else random.randrange(1 << 30)
    with tempfile.TemporaryDirectory(prefix="mpphub-chaos-") as tmp:
        opts = ChaosOptions(Path(state or tmp).resolve(), workers=workers, seed=seed)
        report = ChaosReport(dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), 0)
        hub = ChaosHub(opts, log=lambda m: console.print(m))
        started = time.monotonic()
        try:
            console.print(f"starting the hub (3 brokers, {workers} workers) in {opts.state} ...")
            hub.start()
            hub.wait_recovered(300)  # the snapshot projected
            rng = random.Random(seed)
            with Progress(
                TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                console=console,
            ) as bar:  # fmt: skip
                task = bar.add_task("faults", total=minutes * 60)

                def shown(r: Recovery) -> None:
                    took = "NOT recovered" if r.seconds is None else f"{r.seconds:.0f}s"
                    if r.late_s is not None:
                        took += f" in time (late: {r.late_s:.0f}s)"
                    bar.console.print(f"{r.kind} ({r.detail}): {took}")
                    bar.update(task, completed=min(time.monotonic() - started, minutes * 60))

                while time.monotonic() - started < minutes * 60:
                    kinds = list(KINDS)
                    rng.shuffle(kinds)
                    for kind in kinds:
                        if time.monotonic() - started >= minutes * 60:
                            break
                        run_faults(hub, [kind], report, on_fault=shown)
        except Exception as e:  # noqa: BLE001 - one line, the report so far, non-zero
            console.print(f"[red]error:[/] chaos run failed: {type(e).__name__}: {e}")
            report.minutes = (time.monotonic() - started) / 60
            click.echo(json.dumps(report.as_json(), indent=2))
            raise SystemExit(1) from None
        finally:
            hub.close()
        report.minutes = (time.monotonic() - started) / 60
        out = report.as_json()
        click.echo(json.dumps(out, indent=2))
        if out["lost"] or out["doubled"] or out["not_recovered"]:
            raise SystemExit(1)
