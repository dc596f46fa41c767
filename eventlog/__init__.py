"""The event log: how every stage talks to Kafka. Client settings, topic names and their configs,
topic creation, reading a topic to its end, retry with backoff. Nobody else uses the admin API."""

from .settings import KafkaSettings

__all__ = ["KafkaSettings"]
