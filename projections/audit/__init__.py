"""The audit of reads of personal data (UU 27/2022): one entry per person shown, in a hash chain
of its own database, kept apart from the projections (the worker never gets its URL).

Entries are chained with HMAC-SHA256 under the hub's secret (chain.py says why); the chain's
head is published to a Kafka topic that is never compacted or expired (heads.py), so even a
holder of the secret cannot rewrite what was published without `mpphub audit verify` noticing.
"""

from .chain import ChainProblem, verify_chain
from .entries import AuditEntry, Read
from .log import AuditError, AuditLog, open_audit

__all__ = [
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "ChainProblem",
    "Read",
    "open_audit",
    "verify_chain",
]
