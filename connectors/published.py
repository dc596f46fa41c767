"""What a connector has already published for a table, read back from the table's own compacted
topic: the truth of what downstream has seen, which survives restarts without extra state."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from schemas.codec import decode
from schemas.registry import RegistryClient

from .avro import TableShape, avro_name, source_ts_ms
from .config import ConnectorConfig


async def published_state(
    cfg: ConnectorConfig, topic: str, shape: TableShape, ts_column: str | None
) -> dict[tuple, int | None]:
    """key tuple -> source time (epoch ms) of the last published version, deletes folded out."""
    registry = RegistryClient(cfg.registry.url)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=cfg.kafka.bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    state: dict[tuple, int | None] = {}
    key_fields = [avro_name(k) for k in shape.key]
    ts_field = avro_name(ts_column) if ts_column else None
    try:
        await consumer.topics()
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return state
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for _tp, msgs in batch.items():
                for msg in msgs:
                    key_rec = decode(registry, msg.key)  # cached schemas: HTTP only on the first id
                    key = tuple(key_rec[f] for f in key_fields)
                    if msg.value is None:
                        state.pop(key, None)
                        continue
                    env: dict[str, Any] = decode(registry, msg.value)
                    after = env.get("after")
                    if after is None:
                        state.pop(key, None)
                    else:
                        state[key] = source_ts_ms(after.get(ts_field)) if ts_field else None
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return state
