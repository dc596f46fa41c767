"""The projection-only worker's batching of a poll (projections/sink.py): topics merged by
record time, each partition's own order kept, batches no larger than asked; and its consumer
reads committed records only, commits by hand, in the projection group."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from projections.settings import ProjectionSettings
from projections.sink import ProjectionSink, in_log_order


def _record(topic: str, partition: int, offset: int, ts: int) -> ConsumerRecord:
    return ConsumerRecord(
        topic, partition, offset, ts, 0, b"k", b"v", None, 1, 1, ()
    )  # fmt: skip


def _ids(batches):
    return [[(m.topic, m.offset) for m in batch] for batch in batches]


def test_topics_are_merged_by_record_time_in_batches_of_the_size_asked():
    permits = [_record("permit", 0, n, 100 + n) for n in range(5)]  # written after the services
    services = [_record("service", 0, n, 10 + n) for n in range(2)]
    fetched = {TopicPartition("permit", 0): permits, TopicPartition("service", 0): services}
    assert _ids(in_log_order(fetched, 3)) == [
        [("service", 0), ("service", 1), ("permit", 0)],
        [("permit", 1), ("permit", 2), ("permit", 3)],
        [("permit", 4)],
    ]


def test_a_partitions_order_is_kept_where_its_timestamps_go_back():
    # Two producers' clocks: a later offset may carry an earlier time. The offsets of one
    # partition must still come in order, or a commit would skip what was not projected.
    person = [_record("person", 0, 0, 50), _record("person", 0, 1, 20), _record("person", 0, 2, 60)]
    other = [_record("identity", 0, 0, 30)]
    fetched = {TopicPartition("person", 0): person, TopicPartition("identity", 0): other}
    order = [m for batch in in_log_order(fetched, 10) for m in batch]
    assert [m.offset for m in order if m.topic == "person"] == [0, 1, 2]
    assert len(order) == 4


def test_nothing_fetched_is_no_batch():
    assert list(in_log_order({}, 10)) == []
    assert list(in_log_order({TopicPartition("t", 0): []}, 10)) == []


def test_the_consumer_reads_committed_records_and_commits_by_hand():
    settings = ProjectionSettings(app_id="kab-muna")
    options = ProjectionSink(
        settings, session_timeout_s=6, heartbeat_interval_s=1
    ).consumer_options()
    assert options["isolation_level"] == "read_committed"
    assert options["enable_auto_commit"] is False
    assert options["auto_offset_reset"] == "earliest"
    assert options["group_id"].endswith("kab-muna-projections")
    assert (options["session_timeout_ms"], options["heartbeat_interval_ms"]) == (6000, 1000)
