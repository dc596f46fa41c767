"""SQL read models of the hub, their writer, and the front office's read API.

facts      the canonical topics, the consumed Message, conversions from decoded Avro
models     tables (SQLAlchemy 2); store: engines and sessions (SQLite file or PostgreSQL)
rows       set-at-a-time SELECT / INSERT / UPDATE / DELETE of the writers
citizen    person facts -> source records -> golden record of each person
identity   identity decisions -> record's person, aliases of merged persons, review queue
permit     services, applications and status logs -> permits (domain.permits.derive_permit)
writer     apply_batch: one transaction per batch, checkpoints included
projector  decode, retry, apply, metrics; agent: the Faust agent and timers
rebuild    replay the log into fresh tables
access     roles, masking, access log; reads, reviews: queries; api/: HTTP routers and the page
commands   supervisors' review decisions produced to Kafka for the resolver
"""
