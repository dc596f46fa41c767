"""Person keys: which person a fact is about, decided from the record alone (NIK first).

A record with a VALID NIK is keyed by it, so every agency's record of one resident lands on one
key. Any other record keeps a key of its own, `x-<agency>-<table>-<record id>`, and is flagged:
never dropped, never merged with someone else on a guess.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from domain.nik import Sex, check_nik

FALLBACK_PREFIX = "x-"


class NikStatus(StrEnum):
    """PersonFact.nik_status: domain.nik.IdStatus plus MISSING (no NIK recorded at all)."""

    VALID = "VALID"
    MISSING = "MISSING"
    MALFORMED = "MALFORMED"
    UNKNOWN_REGION = "UNKNOWN_REGION"
    BAD_DATE = "BAD_DATE"
    DATE_MISMATCH = "DATE_MISMATCH"
    SEX_MISMATCH = "SEX_MISMATCH"


_DETAIL = {
    NikStatus.MISSING: "no NIK recorded",
    NikStatus.MALFORMED: "NIK is not 16 digits",
    NikStatus.UNKNOWN_REGION: "NIK region code is not a known district",
    NikStatus.BAD_DATE: "NIK date part is not a valid birth date",
    NikStatus.DATE_MISMATCH: "NIK date part differs from the recorded birth date",
    NikStatus.SEX_MISMATCH: "NIK day offset differs from the recorded sex",
}


@dataclass(frozen=True)
class Identity:
    """The outcome of resolving one record: its person key and why. No value in the repr."""

    person_key: str = field(repr=False)
    nik: str | None = field(repr=False)
    status: NikStatus
    detail: str = ""

    @property
    def valid(self) -> bool:
        """True when the person key is the NIK."""
        return self.status is NikStatus.VALID

    @property
    def rule_code(self) -> str:
        """The data-quality rule code of a non-VALID status, e.g. NIK_MALFORMED."""
        return f"NIK_{self.status.value}"


def fallback_key(agency: str, table: str, record_id: str) -> str:
    """The key of a record without a usable NIK: x-<agency>-<table>-<record id>."""
    return f"{FALLBACK_PREFIX}{agency}-{table}-{record_id}"


def is_fallback_key(person_key: str) -> bool:
    """True for an x- key (a record not linked to a NIK)."""
    return person_key.startswith(FALLBACK_PREFIX)


def clean_nik(value: object) -> str | None:
    """The NIK as recorded without surrounding blanks (CHAR padding); None when there is none."""
    if value is None:
        return None
    text = str(value).strip() if not isinstance(value, str) else value.strip()
    return text or None


def resolve_person(
    nik: object,
    *,
    agency: str,
    table: str,
    record_id: str,
    birth_date: dt.date | None = None,
    sex: Sex | None = None,
    today: dt.date | None = None,
) -> Identity:
    """The person key of a record: its NIK when VALID, otherwise its x- key (with the reason)."""
    recorded = clean_nik(nik)
    if recorded is None:
        status, detail = NikStatus.MISSING, _DETAIL[NikStatus.MISSING]
    else:
        check = check_nik(recorded, birth_date, sex, today=today)
        status = NikStatus(check.status.value)
        # check_nik's detail says what is wrong, never the value (it reaches DQ reports).
        detail = check.detail or _DETAIL.get(status, "")
    if status is NikStatus.VALID:
        return Identity(recorded, recorded, status)  # type: ignore[arg-type]
    return Identity(fallback_key(agency, table, record_id), recorded, status, detail)
