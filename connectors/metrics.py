"""Prometheus metrics of a connector process. Labels carry connector, table and op only: never
a key, NIK, name or any other value from a row."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ROWS = Counter(
    "mpphub_connector_rows_total",
    "Row changes published, by table and op (c/u/d/r).",
    ["connector", "table", "op"],
)
SNAPSHOT_ROWS = Counter(
    "mpphub_connector_snapshot_rows_total",
    "Rows read by the initial snapshot.",
    ["connector", "table"],
)
SNAPSHOT_TOTAL = Gauge(
    "mpphub_connector_snapshot_rows_expected",
    "Row count of the table when its snapshot began.",
    ["connector", "table"],
)
SNAPSHOT_DONE = Gauge(
    "mpphub_connector_snapshot_completed",
    "1 once the table's initial snapshot is published.",
    ["connector", "table"],
)
SOURCE_LAG = Gauge(
    "mpphub_connector_source_lag_seconds",
    "Now minus the source time of the last change published for the table.",
    ["connector", "table"],
)
ERRORS = Counter(
    "mpphub_connector_errors_total",
    "Errors by kind (kafka, source, schema).",
    ["connector", "kind"],
)
DEAD_LETTERS = Counter(
    "mpphub_connector_dead_letters_total",
    "Rows sent to the dead-letter topic.",
    ["connector", "table"],
)
PAUSED = Gauge(
    "mpphub_connector_paused_tables",
    "Tables paused because the registry refused their schema.",
    ["connector"],
)
TABLE_PAUSED = Gauge(
    "mpphub_connector_table_paused", "1 while the table is paused.", ["connector", "table"]
)
