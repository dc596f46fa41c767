"""A stale identity writer is fenced (issue 12): two IdentityWriters with one transactional id on
the real broker, the way a resolver stopped past its session timeout and its successor meet.

The successor's producer starts (InitProducerId): the stopped one's open transaction is aborted
and whatever it sends or commits afterwards is refused (Fenced), and it refuses to start another
batch on its own until the group gives it the inputs again (renew). A committed reader sees only
the successor's records."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from eventlog import KafkaSettings, admin
from eventlog.reading import read_to_end
from eventlog.topics import DELETE
from streams.fencing import Fenced, IdentityWriter

pytestmark = pytest.mark.integration


async def _committed(kafka: KafkaSettings, topic: str) -> list[bytes]:
    return [
        r.value
        async for batch in read_to_end(kafka, topic, isolation_level="read_committed")
        for r in batch
    ]


async def _write(writer: IdentityWriter, topic: str, value: bytes) -> None:
    """One batch as the identity agent writes it: a transaction, Fenced when refused."""
    try:
        producer = await writer.current()
        async with producer.transaction():
            await (await producer.send(topic, value))
    except Fenced:
        raise
    except BaseException as e:
        writer.check(e)
        raise


async def _scenario(bootstrap: str) -> dict[str, object]:
    kafka = KafkaSettings(bootstrap=bootstrap)
    topic = f"t.fencing.{uuid.uuid4().hex[:8]}"
    await admin.ensure_topics(kafka, {topic: DELETE}, partitions=1, replication_factor=1)
    tid = f"t-fencing-{uuid.uuid4().hex[:8]}.identity"
    stale, successor = IdentityWriter(kafka, tid), IdentityWriter(kafka, tid)
    out: dict[str, object] = {}
    try:
        await _write(stale, topic, b"first")
        # The stale writer is stopped inside a transaction, its batch sent, not committed.
        producer = await stale.current()
        await producer.begin_transaction()
        await (await producer.send(topic, b"stale, sent before the stop"))
        # Its successor takes over (the group's assignment) and writes.
        await _write(successor, topic, b"successor")
        # Continued, the stale writer commits what it held: refused.
        try:
            await producer.send(topic, b"stale, sent after the stop")
            await producer.commit_transaction()
            out["stale commit"] = "accepted"
        except BaseException as e:  # noqa: BLE001 - what the agent sees, classified below
            try:
                stale.check(e)
                out["stale commit"] = f"failed, not fenced: {type(e).__name__}"
            except Fenced:
                out["stale commit"] = "fenced"
        # Its next batch is refused before anything is sent.
        try:
            await _write(stale, topic, b"stale, the next batch")
            out["next batch"] = "written"
        except Fenced:
            out["next batch"] = "fenced"
        out["committed"] = await _committed(kafka, topic)
        # Given the inputs back, it writes again and fences the other in turn.
        stale.renew()
        await _write(stale, topic, b"back")
        try:
            await _write(successor, topic, b"successor, now stale")
            out["old successor"] = "written"
        except Fenced:
            out["old successor"] = "fenced"
        out["finally"] = await _committed(kafka, topic)
    finally:
        await stale.close()
        await successor.close()
    return out


def test_a_stale_identity_writer_is_fenced(stack) -> None:
    out = asyncio.run(_scenario(stack.bootstrap))
    assert out["stale commit"] == "fenced", out
    assert out["next batch"] == "fenced", out
    assert out["committed"] == [b"first", b"successor"], out
    assert out["old successor"] == "fenced", out
    assert out["finally"] == [b"first", b"successor", b"back"], out
