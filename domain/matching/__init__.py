"""Identity resolution: which agency records are the same person. Records in, decisions out;
pure and deterministic (the same records in the same order give the same decisions and ids)."""

from .decisions import Decision, DecisionKind
from .record import PersonRecord

__all__ = ["Decision", "DecisionKind", "PersonRecord"]
