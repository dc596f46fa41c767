"""A person record as the resolver sees it: the comparable fields of one agency record."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One agency record about a person; any field may be None. `record_id` is opaque and holds
    no personal data (the hub uses a keyed token of agency:table:primary key)."""

    record_id: str
    name: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None  # "L" | "P"
    birth_place: str | None = None
    address: str | None = None
    kelurahan: str | None = None
    kecamatan: str | None = None
    postcode: str | None = None
    nik: str | None = None
    kk_number: str | None = None
    phone: str | None = None
    other_id: str | None = None
    # The agency that holds the record; the civil registry's NIK is authoritative.
    source: str | None = None

    def __repr__(self) -> str:  # personal data stays out of logs and tracebacks
        return f"PersonRecord({self.record_id}, source={self.source})"

    def as_dict(self) -> dict[str, object]:
        """Field name -> value (dates as date)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
