"""`mpphub demo`: the hub's demo. For now it brings up the local stack and shows it healthy; the
connectors, worker, API and simulator join it as they land (issue 4)."""

from __future__ import annotations

import signal
import threading

from rich.console import Console

from .stack import Stack, StackConfig


def run_demo(console: Console) -> None:
    """Start the stack, print where everything is, wait for Ctrl-C, then stop what we started."""
    stack = Stack(StackConfig.from_env(), log=lambda m: console.print(f"[dim]{m}[/]"))
    already = {s.name for s in stack.status() if s.pid}
    statuses = stack.up()
    for s in statuses:
        console.print(f"[green]✓[/] {s.name:<9} pid {s.pid:<7} {s.address}  ({s.detail})")
    console.print(f"\nKafka bootstrap: {stack.bootstrap}\nSchema registry: {stack.registry_url}")
    console.print("\n[bold]The stack is healthy.[/] Ctrl-C stops what this demo started.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    if already:
        console.print(f"leaving running what was already running: {', '.join(sorted(already))}")
        return
    console.print(f"stopped: {', '.join(stack.down())}")
