"""The event log: how every stage talks to Kafka. Client settings, topic names and their configs,
topic creation, reading a topic to its end, retry with backoff, and a state folded from the log
kept out of the collector's way (heap). Nobody else uses the admin API."""

from .settings import KafkaSettings

__all__ = ["KafkaSettings"]
