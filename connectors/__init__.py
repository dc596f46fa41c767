"""Change capture from agency databases and file drops into Kafka.

The runner core (`runner`, `dispatcher`, `offsets`, `config`, `shapes`, `changes`, `mode`) owns
Kafka, offsets, snapshot and metrics; each capture mode (`polling`, `postgres/`, `mariadb/`,
`files/`) only turns its source into batches of changes, and is found by its config name in
`mode.MODES`.
"""
