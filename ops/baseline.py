"""The baseline of `mpphub bench e2e`: the bare pipeline the hub is measured against.

A bare consumer over the bench's raw topic: aiokafka getmany + fastavro decode + one batched SQL
upsert per batch, no Faust, no normalization. It runs in a child process of its own, so that
its peak memory and CPU time are its own. Timed like the hub: from its first record to its last
commit, the consumer's start-up apart.
"""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa


def baseline_main(bootstrap: str, registry_url: str, db_path: str, rows: int, topic: str) -> dict:
    """Read `rows` change events of `topic` with aiokafka getmany + our fastavro decode + one
    executemany upsert per batch into SQLite; the events per second."""
    from aiokafka import AIOKafkaConsumer

    from eventlog import KafkaSettings
    from eventlog.admin import topic_partitions
    from schemas.codec import Deserializer
    from schemas.registry import RegistryClient

    decode = Deserializer(RegistryClient(registry_url))
    engine = sa.create_engine(f"sqlite:///{db_path}")
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE person (nik TEXT PRIMARY KEY, name TEXT, birth TEXT)"))
    upsert = sa.text(
        "INSERT INTO person VALUES (:nik, :name, :birth) "
        "ON CONFLICT (nik) DO UPDATE SET name = excluded.name, birth = excluded.birth"
    )

    async def run() -> tuple[float, float]:
        started = time.monotonic()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            tps = await topic_partitions(KafkaSettings(bootstrap=bootstrap), [topic])
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            done, t0 = 0, None
            while done < rows:
                batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
                if t0 is None and batch:
                    t0 = time.monotonic()
                params = []
                for msgs in batch.values():
                    for m in msgs:
                        if m.value is None:
                            continue
                        after = decode(m.value)["after"]
                        if after:
                            params.append(
                                {
                                    "nik": after["NIK"],
                                    "name": after["NAMA_LGKP"],
                                    "birth": str(after["TGL_LHR"]),
                                }
                            )
                if params:
                    with engine.begin() as c:
                        c.execute(upsert, params)
                    done += len(params)
            return (t0 or started) - started, time.monotonic() - (t0 or started)
        finally:
            await consumer.stop()

    startup, secs = asyncio.run(run())
    return {
        "startup_s": round(startup, 2),
        "seconds": round(secs, 2),
        "events": rows,
        "events_per_s": round(rows / max(secs, 1e-6), 1),
    }
