"""Normalize's generic output path without a broker: the hand-built Avro string keys and the
batch produced straight through the app's producer (in order, every ack awaited)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import fastavro
import pytest

from schemas.avro_binary import text as avro_string
from streams.app import _produce
from streams.wire import OutMessage


@pytest.mark.parametrize(
    "text", ["", "a", "x" * 63, "x" * 64, "y" * 8192, "é" * 100, "disdukcapil/BIODATA_WNI/k"]
)
def test_a_key_is_the_avro_string_fastavro_writes(text: str) -> None:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema("string"), text)
    assert avro_string(text) == out.getvalue()


class Producer:
    """Records sends in order; each ack is a future the test resolves (or fails)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.acks: list[asyncio.Future[None]] = []

    async def send(self, topic: str, key: Any, value: Any, partition: Any, ts: Any, headers: Any):
        self.sent.append((topic, key, value, partition, ts, headers))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack


def _out(n: int) -> list[OutMessage]:
    return [
        OutMessage("t", b"k%d" % (i % 2), b"v%d" % i, (("h", b"x"),) if i == 0 else ())
        for i in range(n)
    ]


async def _run(producer: Producer, out: list[OutMessage], fail: bool = False) -> None:
    task = asyncio.ensure_future(_produce(producer, out))  # type: ignore[arg-type]
    while len(producer.acks) < len(out):
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not task.done()  # no ack yet: the batch is not through
    for i, ack in enumerate(producer.acks):
        if fail and i == len(out) - 1:
            ack.set_exception(OSError("broker away"))
        else:
            ack.set_result(None)
    await task


def test_a_batch_is_sent_in_order_and_done_only_when_every_ack_is_in() -> None:
    producer = Producer()
    asyncio.run(_run(producer, _out(5)))
    assert [s[2] for s in producer.sent] == [b"v0", b"v1", b"v2", b"v3", b"v4"]
    assert producer.sent[0] == ("t", b"k0", b"v0", None, None, [("h", b"x")])
    assert producer.sent[1][5] is None  # no headers: none sent


def test_one_failed_ack_fails_the_batch() -> None:
    with pytest.raises(OSError, match="broker away"):
        asyncio.run(_run(Producer(), _out(3), fail=True))
