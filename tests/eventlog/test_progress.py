"""The progress bar the connector snapshot and the rebuild share: what it prints, and that a
disabled one prints nothing."""

from __future__ import annotations

import io
import time

from rich.console import Console

from eventlog.progress import rate_progress


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=120), out


def test_shows_the_description_the_count_and_the_rate() -> None:
    console, out = _console()
    with rate_progress("rows", console=console) as progress:
        task = progress.add_task("snapshot BIODATA_WNI", total=300)
        for _ in range(3):
            progress.advance(task, 100)
            time.sleep(0.02)  # the rate needs samples some time apart
    text = out.getvalue()
    assert "snapshot BIODATA_WNI" in text
    assert "300/300 rows" in text
    rate = text.split("300/300 rows", 1)[1].split("rows/s", 1)[0].strip()
    assert rate.replace(",", "").isdigit() and int(rate.replace(",", "")) > 0, text


def test_disabled_prints_nothing() -> None:
    console, out = _console()
    with rate_progress("events", enabled=False, console=console) as progress:
        task = progress.add_task("rebuild", total=10)
        progress.advance(task, 10)
    assert out.getvalue() == ""
