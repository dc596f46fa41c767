"""What a connector has already published for a table, read back from the table's own compacted
topic: the truth of what downstream has seen, which survives restarts without extra state."""

from __future__ import annotations

from typing import Any

from eventlog.reading import read_to_end
from schemas.codec import decode
from schemas.names import avro_name
from schemas.registry import RegistryClient

from .config import ConnectorConfig
from .shapes import TableShape, source_ts_ms


async def published_rows(
    cfg: ConnectorConfig, topic: str, key: list[str]
) -> dict[tuple, dict[str, Any]]:
    """key tuple -> last published `after` (by Avro field name), deleted keys left out."""
    registry = RegistryClient(cfg.registry.url, **cfg.registry.auth.options())
    state: dict[tuple, dict[str, Any]] = {}
    key_fields = [avro_name(k) for k in key]
    try:
        async for batch in read_to_end(cfg.kafka.client, topic):
            for msg in batch:
                # Cached schemas: HTTP only on the first message of each schema id.
                key_rec = decode(registry, msg.key)
                k = tuple(key_rec[f] for f in key_fields)
                after = decode(registry, msg.value).get("after") if msg.value else None
                if after is None:
                    state.pop(k, None)
                else:
                    state[k] = after
    finally:
        registry.close()
    return state


async def published_state(
    cfg: ConnectorConfig, topic: str, shape: TableShape, ts_column: str | None
) -> dict[tuple, int | None]:
    """key tuple -> source time (epoch ms) of the last published version, deletes folded out."""
    rows = await published_rows(cfg, topic, list(shape.key))
    ts_field = avro_name(ts_column) if ts_column else None
    return {k: source_ts_ms(after.get(ts_field)) if ts_field else None for k, after in rows.items()}
