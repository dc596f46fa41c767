"""MariaDB/MySQL capture from the row binlog: `mode` (the capture mode), `binlog` (the reader
thread, positions, values, DDL), `server` (settings and grants, the snapshot's binlog position)."""
