"""An audit entry: who read whose data, in which role, why, when, from where; its table lives
in the audit database only (a Base of its own, never created in the projection database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class AuditBase(DeclarativeBase):
    """Declarative base of the audit database (apart from the projections' Base)."""


class AuditEntry(AuditBase):
    """One read of one person's data (or a lookup that found nobody), chained to the entry
    before it: `hash` covers every other column and `prev_hash`."""

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # naive UTC
    who: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String)
    purpose: Mapped[str | None] = mapped_column(String)  # a code of domain.purposes
    purpose_note: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String)  # citizen.read, citizen.search, permit.read...
    person_id: Mapped[str | None] = mapped_column(String, index=True)
    # The keyed token of the person's NIK (domain.tokens.Tokens.nik): how a citizen's "who read
    # my data" finds entries without the audit holding any NIK.
    person_token: Mapped[str | None] = mapped_column(String, index=True)
    client: Mapped[str | None] = mapped_column(String)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Read:
    """What a route reports of one read, before it is numbered and chained."""

    who: str
    role: str
    purpose: str | None
    action: str
    purpose_note: str | None = None
    person_id: str | None = None
    person_token: str | None = None
    client: str | None = None
