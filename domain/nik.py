"""Indonesian identity numbers: NIK (Nomor Induk Kependudukan), No. KK, NIB and NPWP.

A NIK is 16 digits: province(2) regency(2) district(2) of first registration, the birth date as
DDMMYY with 40 added to the day for women, and a 4-digit serial. Checks never raise on a bad
number (it becomes a status) and never put the checked value into a message or repr: NIKs are
personal data (UU 27/2022), and these results end up in data-quality reports and logs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum

from .regions import Region, is_known_region, lookup_region

NIK_LENGTH = 16
KK_LENGTH = 16
NIB_LENGTH = 13
NPWP_LENGTHS = (15, 16)
FEMALE_DAY_OFFSET = 40


class IdStatus(StrEnum):
    """Outcome of an identity-number check; anything but VALID is a data-quality finding."""

    VALID = "VALID"
    MALFORMED = "MALFORMED"  # wrong length or a non-digit character
    UNKNOWN_REGION = "UNKNOWN_REGION"  # no such district in the Kemendagri list (regions.py)
    BAD_DATE = "BAD_DATE"  # the DDMMYY part is no calendar date (after removing the +40)
    DATE_MISMATCH = "DATE_MISMATCH"  # a date, but not the recorded birth date
    SEX_MISMATCH = "SEX_MISMATCH"  # the +40 says otherwise than the recorded sex


NikStatus = IdStatus


class Sex(StrEnum):
    """Jenis kelamin as SIAK records it: L (laki-laki) or P (perempuan)."""

    L = "L"
    P = "P"

    @property
    def siak_code(self) -> int:
        """SIAK's JENIS_KLMIN: 1 for L, 2 for P."""
        return 1 if self is Sex.L else 2


_SEX_WORDS = {
    "L": Sex.L,
    "LK": Sex.L,
    "LAKI-LAKI": Sex.L,
    "LAKI LAKI": Sex.L,
    "1": Sex.L,
    "P": Sex.P,
    "PR": Sex.P,
    "PEREMPUAN": Sex.P,
    "WANITA": Sex.P,
    "2": Sex.P,
}


def parse_sex(value: object) -> Sex | None:
    """Sex from the codes agencies use (L/P, LAKI-LAKI/PEREMPUAN, SIAK 1/2); None otherwise."""
    if isinstance(value, Sex):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    return _SEX_WORDS.get(value.strip().upper())


@dataclass(frozen=True)
class NikInfo:
    """The parts of a well-formed NIK. The NIK itself is kept out of repr()."""

    nik: str = field(repr=False)
    province: str
    regency: str
    district: str
    birth_date: dt.date
    sex: Sex
    serial: str

    @property
    def region_code(self) -> str:
        """The six region digits, e.g. '741303'."""
        return self.nik[:6]

    @property
    def region(self) -> Region | None:
        """The district this NIK was first registered in; None if no such district exists."""
        return lookup_region(self.region_code)

    @property
    def masked(self) -> str:
        """The NIK as it may be shown to roles that do not need it."""
        return mask_nik(self.nik)


@dataclass(frozen=True)
class NikCheck:
    """Result of check_nik: a status, every finding, and the parts that could be decoded."""

    status: IdStatus
    findings: tuple[IdStatus, ...] = ()
    province: str | None = None
    regency: str | None = None
    district: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    serial: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the NIK passed every check that was asked for."""
        return self.status is IdStatus.VALID


@dataclass(frozen=True)
class IdCheck:
    """Result of check_kk / check_nib / check_npwp: status and the digits-only form."""

    status: IdStatus
    normalized: str | None = field(default=None, repr=False)
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the number is well-formed (and its region known, for a KK)."""
        return self.status is IdStatus.VALID


def _digits(value: object, lengths: tuple[int, ...], what: str) -> tuple[str | None, str]:
    """The stripped all-digit string, or None and why (length or characters, never the value)."""
    if not isinstance(value, str):
        return None, f"{what} is not text"
    s = value.strip()
    if len(s) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        return None, f"{what} has {len(s)} characters, expected {want} digits"
    # isdigit() alone accepts Arabic-Indic and other Unicode digits.
    if not (s.isascii() and s.isdigit()):
        return None, f"{what} contains non-digit characters"
    return s, ""


def _valid_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _infer_date(day: int, month: int, yy: int, today: dt.date) -> dt.date | None:
    """The most recent date with this DD/MM/YY that is not after today (2000s, then 1900s)."""
    for century in (2000, 1900):
        d = _valid_date(century + yy, month, day)
        if d is not None and d <= today:
            return d
    return None


def _decode_date(
    s: str, birth_date: dt.date | None, today: dt.date
) -> tuple[dt.date | None, Sex | None]:
    dd, month, yy = int(s[6:8]), int(s[8:10]), int(s[10:12])
    if 1 <= dd <= 31:
        sex, day = Sex.L, dd
    elif 1 + FEMALE_DAY_OFFSET <= dd <= 31 + FEMALE_DAY_OFFSET:
        sex, day = Sex.P, dd - FEMALE_DAY_OFFSET
    else:
        return None, None
    # Two digits cannot say the century: the recorded birth date decides when it agrees on
    # DD/MM/YY (someone born in 1925 and one born in 2025 share "25"); otherwise assume the
    # most recent century that does not put the birth in the future.
    if (
        birth_date is not None
        and birth_date.year % 100 == yy
        and (birth_date.month, birth_date.day) == (month, day)
    ):
        return birth_date, sex
    return _infer_date(day, month, yy, today), sex


def parse_nik(nik: object, *, today: dt.date | None = None) -> NikInfo | None:
    """Split a NIK into its parts; None when malformed or its date part is no date.

    The region is not checked here (see check_nik); the century is the most recent one that
    does not put the birth date after `today` (default: the current date).
    """
    s, _ = _digits(nik, (NIK_LENGTH,), "NIK")
    if s is None:
        return None
    birth_date, sex = _decode_date(s, None, today or dt.date.today())
    if birth_date is None or sex is None:
        return None
    return NikInfo(s, s[0:2], s[2:4], s[4:6], birth_date, sex, s[12:16])


def check_nik(
    nik: object,
    birth_date: dt.date | None = None,
    sex: Sex | str | int | None = None,
    *,
    today: dt.date | None = None,
) -> NikCheck:
    """Check a NIK's form, region and date part, and its agreement with a recorded birth date/sex.

    `status` is the first finding in the order MALFORMED, UNKNOWN_REGION, BAD_DATE,
    DATE_MISMATCH, SEX_MISMATCH (VALID if none); `findings` lists all of them. `sex` takes the
    agencies' codes (see parse_sex); an unrecognised code raises ValueError, as that is a
    mapping bug in the caller, not bad data in the NIK.
    """
    recorded_sex = parse_sex(sex)
    if sex is not None and recorded_sex is None:
        raise ValueError(f"unrecognised sex code of type {type(sex).__name__}")
    s, why = _digits(nik, (NIK_LENGTH,), "NIK")
    if s is None:
        return NikCheck(IdStatus.MALFORMED, (IdStatus.MALFORMED,), detail=why)

    province, regency, district, serial = s[0:2], s[2:4], s[4:6], s[12:16]
    findings: list[IdStatus] = []
    details: list[str] = []
    if not is_known_region(province, regency, district):
        findings.append(IdStatus.UNKNOWN_REGION)
        details.append("region code not known")
    decoded, decoded_sex = _decode_date(s, birth_date, today or dt.date.today())
    if decoded is None:
        findings.append(IdStatus.BAD_DATE)
        details.append("date part is not a valid birth date")
    elif birth_date is not None and decoded != birth_date:
        findings.append(IdStatus.DATE_MISMATCH)
        details.append("date part differs from the recorded birth date")
    if recorded_sex is not None and decoded_sex is not None and decoded_sex != recorded_sex:
        findings.append(IdStatus.SEX_MISMATCH)
        details.append("day offset differs from the recorded sex")
    return NikCheck(
        status=findings[0] if findings else IdStatus.VALID,
        findings=tuple(findings),
        province=province,
        regency=regency,
        district=district,
        birth_date=decoded,
        sex=decoded_sex,
        serial=serial,
        detail="; ".join(details),
    )


# What a masked NIK keeps: the six region digits, nothing else. The screen that shows a masked
# NIK also shows the birth date, the sex and the kecamatan, which give the region and the whole
# date part (DDMMYY, +40 for women): the four serial digits are the only part not on the screen.
# Any serial digit shown shrinks the guess (two digits: 100 tries, and the old '7413...01' showed
# two); none shown leaves 10,000 candidates and no way to test one, as every stand-in for a NIK
# is a keyed token (domain/tokens.py). The region is kept as it adds nothing to the screen and
# tells an officer where the card was issued. A No. KK (region, issue date, serial) is masked the
# same way.
MASK_KEEP = 6


def mask_nik(nik: object) -> str:
    """The NIK (or No. KK) with all but its six region digits starred: '741303**********'.

    Anything shorter than 12 characters is starred fully.
    """
    if not isinstance(nik, str):
        return ""
    s = nik.strip()
    if len(s) < 12:
        return "*" * len(s)
    return s[:MASK_KEEP] + "*" * (len(s) - MASK_KEEP)


_LONG_NUMBER = re.compile(r"\d{12,}")


def mask_numbers_in(text: str) -> str:
    """Free text with every number of 12 or more digits (a NIK or KK embedded in a record id, a
    source position, a reason) masked as mask_nik does."""
    return _LONG_NUMBER.sub(lambda m: mask_nik(m.group(0)), text)


REDACTED = "<redacted>"


def redact_numbers_in(text: str) -> str:
    """Free text with every number of 12 or more digits replaced by '<redacted>': for logs,
    which need no part of a NIK, KK number or source key at all."""
    return _LONG_NUMBER.sub(REDACTED, text)


def check_kk(no_kk: object) -> IdCheck:
    """Check a No. KK (family card number): 16 digits starting with a known district code.

    The issue-date and serial digits are not checked: the hub relies only on the number being
    a well-formed key and on where it was issued.
    """
    s, why = _digits(no_kk, (KK_LENGTH,), "No. KK")
    if s is None:
        return IdCheck(IdStatus.MALFORMED, None, why)
    if not is_known_region(s[0:2], s[2:4], s[4:6]):
        return IdCheck(IdStatus.UNKNOWN_REGION, s, "region code not known")
    return IdCheck(IdStatus.VALID, s)


def check_nib(nib: object) -> IdCheck:
    """Check a NIB (Nomor Induk Berusaha, issued by OSS): exactly 13 digits."""
    s, why = _digits(nib, (NIB_LENGTH,), "NIB")
    if s is None:
        return IdCheck(IdStatus.MALFORMED, None, why)
    return IdCheck(IdStatus.VALID, s)


def check_npwp(npwp: object) -> IdCheck:
    """Check an NPWP: 15 digits (old format) or 16 (new format; a resident's NIK since 2022).

    The printed punctuation (99.999.999.9-999.999) is accepted and removed in `normalized`.
    """
    if isinstance(npwp, str):
        npwp = npwp.strip().replace(".", "").replace("-", "").replace(" ", "")
    s, why = _digits(npwp, NPWP_LENGTHS, "NPWP")
    if s is None:
        return IdCheck(IdStatus.MALFORMED, None, why)
    return IdCheck(IdStatus.VALID, s)
