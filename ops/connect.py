"""`mpphub connect`: run one connector process (metrics endpoint, signals, logs)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from connectors.config import load_config
from domain.nik import mask_numbers_in

from .metrics import serve_metrics

# The hub's variables a connector honours, over its YAML keys.
ENV_OVERRIDES = {
    "MPPHUB_KAFKA_BOOTSTRAP": "kafka.bootstrap",
    "MPPHUB_KAFKA_SECURITY_PROTOCOL": "kafka.security_protocol",
    "MPPHUB_KAFKA_SASL_MECHANISM": "kafka.sasl_mechanism",
    "MPPHUB_KAFKA_SASL_USERNAME": "kafka.sasl_username",
    "MPPHUB_KAFKA_SASL_PASSWORD_FILE": "kafka.sasl_password_file",
    "MPPHUB_KAFKA_SSL_CAFILE": "kafka.ssl_cafile",
    "MPPHUB_TOPIC_PREFIX": "kafka.topic_prefix",
    "MPPHUB_RECORD_RETENTION_MS": "kafka.record_retention_ms",
    "MPPHUB_REGISTRY_URL": "registry.url",
    "MPPHUB_REGISTRY_USERNAME": "registry.username",
    "MPPHUB_REGISTRY_PASSWORD_FILE": "registry.password_file",
    "MPPHUB_REGISTRY_CAFILE": "registry.cafile",
}


def run_connect(path: Path, overrides: dict, progress: bool, console: Console) -> None:
    """Validate the config, serve metrics, run until SIGINT/SIGTERM."""
    from connectors.runner import Connector

    config = load_config(path, overrides, env=os.environ)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    serve_metrics(config.metrics_port, os.environ.get("MPPHUB_METRICS_ADDR", "127.0.0.1"))
    logging.getLogger("connectors").info(
        "connector %s: %s mode on %s, %d table(s)",
        config.connector_name,
        config.source.mode,
        config.safe_url() if config.source.mode != "file" else config.source.directory,
        len(config.tables),
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Connector(config, progress=progress).run(stop)

    asyncio.run(main())


def show_connect_status(path: Path, overrides: dict, console: Console) -> int:
    """Print what the offsets topic says of this connector; 1 when a table is paused."""
    from aiokafka import AIOKafkaProducer

    from connectors.offsets import OffsetStore

    config = load_config(path, overrides, env=os.environ)

    async def load() -> dict:
        producer = AIOKafkaProducer(**config.kafka.client.client_options())
        try:
            await producer.start()  # inside: a refused start still closes the producer
            store = OffsetStore(
                config.kafka.client, config.offsets_topic, config.connector_name, producer
            )
            return await store.load()
        finally:
            await producer.stop()

    state = asyncio.run(load())
    table = Table("table", "snapshot", "rows", "state")
    paused = state.get("paused", {})
    for t in config.tables:
        snap = state.get("tables", {}).get(t.name, {}).get("snapshot", {})
        table.add_row(
            t.name,
            "done" if snap.get("done") else ("in progress" if snap else "not started"),
            str(snap.get("rows", 0)),
            f"[red]paused: {paused[t.name]}[/]" if t.name in paused else "[green]running[/]",
        )
    console.print(table)
    # A polling position is `ts|key` (SIAK's key: the NIK): shown masked, as mask_nik does.
    position = json.dumps((state.get("stream") or {}).get("position"))
    console.print(f"stream position: {mask_numbers_in(position)}", highlight=False)
    return 1 if paused else 0
