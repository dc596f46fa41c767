"""PostgreSQL capture by logical decoding (pgoutput), read with SQL: `mode` (the capture mode),
`slot` (peek and advance), `publication` (what the source publishes), `tables` (messages to
changes), `parking` (a paused table's place), `pgoutput` (the protocol, plain data).

Limits: a transaction is held in memory whole (a peek returns it at once), and every peek decodes
again from the slot's restart point (the SQL interface has no streaming session).
"""
