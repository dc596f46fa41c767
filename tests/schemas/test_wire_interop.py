"""Wire-format interop through the real broker and registry: what our codec writes, Confluent's
own Avro deserializer reads, and the other way round."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from schemas import catalog
from schemas.codec import Deserializer, Serializer
from schemas.registry import RegistryClient, canonical
from tests.schemas.samples import sample

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(stack) -> Iterator[str]:
    name = f"mpp.test.interop-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=stack.bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
        admin.delete_topics([name])
    finally:
        admin.close()
    RegistryClient(stack.registry_url).delete_subject(f"{name}-value")


def _consume_one(stack, topic: str, timeout: float = 30) -> bytes:
    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap,
            "group.id": f"interop-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])  # no group join to wait for
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            return msg.value()
        raise AssertionError(f"no message on {topic} within {timeout}s")
    finally:
        consumer.close()


def test_our_bytes_decode_with_confluents_avro_deserializer(stack, topic: str) -> None:
    registry = RegistryClient(stack.registry_url)
    schema = catalog.get("person_fact").schema
    person = sample(schema)  # every field set: dates, timestamps, enums, nullable unions
    serialize = Serializer(registry, f"{topic}-value", schema)
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    try:
        producer.send(topic, serialize(person), key=b"P-000042").get(timeout=30)
    finally:
        producer.close()
    value = _consume_one(stack, topic)

    theirs = AvroDeserializer(SchemaRegistryClient({"url": stack.registry_url}))
    decoded = theirs(value, SerializationContext(topic, MessageField.VALUE))
    assert decoded == person


def test_confluents_avro_serializer_bytes_decode_with_ours(stack, topic: str) -> None:
    schema = catalog.get("permit_event")
    record = sample(schema.schema)
    theirs = AvroSerializer(
        SchemaRegistryClient({"url": stack.registry_url}),
        canonical(schema.schema),  # the serializer registers the text as given
    )
    producer = Producer({"bootstrap.servers": stack.bootstrap, "acks": "all"})
    producer.produce(topic, theirs(record, SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0, "message not acknowledged"
    value = _consume_one(stack, topic)

    assert Deserializer(RegistryClient(stack.registry_url))(value) == record
