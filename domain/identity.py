"""The NIK check of a person record: is the recorded NIK usable, and if not, why (a data-quality
finding). Which person a record belongs to is not decided here: the identity resolver
(domain/matching) decides that from every field, the NIK being one of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from domain.nik import Sex, check_nik


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
class NikCheck:
    """The outcome of checking one record's NIK: the NIK as recorded and its status. No value
    in the repr."""

    nik: str | None = field(repr=False)
    status: NikStatus
    detail: str = ""

    @property
    def valid(self) -> bool:
        """True when the NIK is well-formed and agrees with the recorded birth date and sex."""
        return self.status is NikStatus.VALID

    @property
    def rule_code(self) -> str:
        """The data-quality rule code of a non-VALID status, e.g. NIK_MALFORMED."""
        return f"NIK_{self.status.value}"


def clean_nik(value: object) -> str | None:
    """The NIK as recorded without surrounding blanks (CHAR padding); None when there is none."""
    if value is None:
        return None
    text = str(value).strip() if not isinstance(value, str) else value.strip()
    return text or None


def check_person_nik(
    nik: object,
    *,
    birth_date: dt.date | None = None,
    sex: Sex | None = None,
    today: dt.date | None = None,
) -> NikCheck:
    """Check a record's NIK against its recorded birth date and sex: VALID, or why not."""
    recorded = clean_nik(nik)
    if recorded is None:
        return NikCheck(None, NikStatus.MISSING, _DETAIL[NikStatus.MISSING])
    check = check_nik(recorded, birth_date, sex, today=today)
    status = NikStatus(check.status.value)
    if status is NikStatus.VALID:
        return NikCheck(recorded, status)
    # check_nik's detail says what is wrong, never the value (it reaches DQ reports).
    return NikCheck(recorded, status, check.detail or _DETAIL.get(status, ""))
