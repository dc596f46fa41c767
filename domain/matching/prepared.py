"""A record prepared for comparison: every field normalised once into a slotted object, which the
resolver keeps in its index so that comparing a pair only compares ready values.

Garbage never raises here: a value of the wrong type or shape becomes missing. A NIK is 'ok' when
it could have been issued (known district, a date, a small serial) and agrees with its own
record's birth date and sex; a record without birth date borrows the NIK's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import lru_cache

from domain.regions import is_known_region

from .names import Name, ascii_upper, fold, parse_name, phonetic
from .record import PersonRecord

_DIGITS = re.compile(r"\D+")
_WORDS = re.compile(r"[^A-Z0-9]+")
_ADDRESS_WORDS = {"JALAN": "JL", "JLN": "JL", "JL": "JL", "GANG": "GG", "GG": "GG",
                  "LORONG": "LR", "LRG": "LR", "DUSUN": "DSN", "DSN": "DSN", "DUSUNG": "DSN",
                  "KOMPLEK": "KOMP", "KOMPLEKS": "KOMP", "KOMP": "KOMP", "PERUM": "PERUM",
                  "PERUMAHAN": "PERUM", "BLOK": "BLOK", "BLK": "BLOK"}  # fmt: skip
_ADDRESS_DROP = frozenset({"NO", "NOMOR", "NOMER", "NMR", "RT", "RW", "KEL", "KELURAHAN", "DESA"})
# The neighbourhood units (RT/RW) and their numbers: agencies write them or leave them out
# and often get them wrong (a household's RT changes when the village redraws them), so an
# address is compared on its street or hamlet and house number alone.
_NEIGHBOURHOOD = frozenset({"RT", "RW"})
_NEIGHBOURHOOD_JOINED = re.compile(r"^(?:RT|RW)\d+$")
# Hamlet numbers are written in Roman or Arabic numerals (DUSUN IV, DSN. 4): one number.
_ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4", "V": "5", "VI": "6", "VII": "7",
          "VIII": "8", "IX": "9", "X": "10"}  # fmt: skip
_AREA_DROP = frozenset({"DESA", "DS", "KEL", "KELURAHAN", "KEC", "KECAMATAN"})
_PLACE_DROP = frozenset({"KAB", "KABUPATEN", "KOTA", "KOTAMADYA", "KOT", "ADM"})
DEFAULT_TOKEN_FREQUENCY = 1e-3  # a name word not in the frequency table
MIN_NAME_FREQUENCY = 1e-7


class Prepared:
    """A record's comparable forms, computed once (the resolver keeps these in its index)."""

    __slots__ = (
        "record", "name", "name_str", "folded", "sorted_fold", "ordered_fold", "squashed",
        "foldset",
        "initials",
        "name_u", "sounds", "prefix", "prefix_sex", "prefix_u", "dob", "dob_day", "dob_str",
        "sex", "nik", "nik_dmy", "nik_sex", "nik_proof",
        "nik_ok", "kk", "birth_place", "address", "kelurahan", "kecamatan", "postcode", "phone",
        "other_id",
    )  # fmt: skip

    record: PersonRecord
    name: Name | None
    name_str: str
    folded: tuple[str, ...]
    sorted_fold: str
    ordered_fold: str
    squashed: str  # prefix and words, folded, without spaces (for a space typed elsewhere)
    foldset: frozenset[str]
    initials: frozenset[str]
    name_u: float
    sounds: tuple[str, ...]  # phonetic keys of the folded words, sorted
    prefix: str
    prefix_sex: str | None
    prefix_u: float
    dob: dt.date | None
    dob_day: int  # the date's ordinal (0 without a date)
    dob_str: str  # YYYYMMDD ('' without a date)
    sex: str | None
    nik: str | None
    nik_dmy: tuple[int, int, int] | None  # the NIK's day, month, two-digit year
    nik_sex: str | None
    nik_ok: bool  # a plausible NIK (see _plausible) that agrees with its record's date and sex
    nik_proof: bool  # nik_ok, and the record has a birth date of its own to agree with
    kk: str | None
    birth_place: str | None
    address: str | None
    kelurahan: str | None
    kecamatan: str | None
    postcode: str | None
    phone: str | None
    other_id: str | None

    def __repr__(self) -> str:
        return f"Prepared({self.record.record_id})"


def prepare(record: PersonRecord, frequencies: Mapping[str, float] | None = None) -> Prepared:
    """Normalise one record's fields; `frequencies` (word -> share of names holding it) weighs
    common names down. Never raises on garbage values: they become missing."""
    freq = frequencies or {}
    p = Prepared()
    p.record = record
    _prepare_name(p, _text(record.name), freq)
    p.dob = record.birth_date if isinstance(record.birth_date, dt.date) else None
    p.sex = _sex(record.sex)
    p.nik = _number(record.nik, 14, 18)
    p.kk = _number(record.kk_number, 14, 18)
    p.nik_dmy, p.nik_sex = _decode_nik(p.nik)
    p.nik_ok = _plausible(p.nik) and encodes(p.nik_dmy, p.nik_sex, p.dob, p.sex)
    p.nik_proof = p.nik_ok and p.dob is not None
    if p.dob is None and p.nik_ok and p.nik_dmy is not None:
        p.dob = _nik_date(p.nik_dmy)
    p.dob_day = p.dob.toordinal() if p.dob is not None else 0
    p.dob_str = f"{p.dob.year:04d}{p.dob.month:02d}{p.dob.day:02d}" if p.dob is not None else ""
    if p.sex is None and p.nik_ok:
        p.sex = p.nik_sex
    p.birth_place = _place(record.birth_place)
    p.address = _address(record.address)
    p.kelurahan = _area(record.kelurahan)
    p.kecamatan = _area(record.kecamatan)
    p.postcode = _number(record.postcode, 5, 5)
    p.phone = phone_number(record.phone)
    other = _WORDS.sub("", ascii_upper(_text(record.other_id) or ""))
    p.other_id = other or None
    return p


def _prepare_name(p: Prepared, raw: str | None, freq: Mapping[str, float]) -> None:
    (p.name, p.folded, p.name_str, p.ordered_fold, p.sorted_fold, p.squashed, p.foldset,
     p.initials, p.sounds) = _name_forms(raw) if raw else _NO_NAME  # fmt: skip
    name = p.name
    tokens = name.tokens if name else ()
    u = 1.0
    for t in set(tokens):
        u *= freq.get(t, DEFAULT_TOKEN_FREQUENCY)
    p.name_u = max(u, MIN_NAME_FREQUENCY)
    p.prefix = name.prefix if name else ""
    p.prefix_sex = name.prefix_sex if name else None
    p.prefix_u = freq.get(p.prefix, DEFAULT_TOKEN_FREQUENCY) if p.prefix else 1.0


# A written name's forms, computed once per distinct spelling: a person's name recurs in every
# agency's record of them, and common names across persons (all values immutable, shared).
_NameForms = tuple[
    Name | None, tuple[str, ...], str, str, str, str, frozenset[str], frozenset[str],
    tuple[str, ...],
]  # fmt: skip


@lru_cache(maxsize=1 << 16)
def _name_forms(raw: str) -> _NameForms:
    name = parse_name(raw)
    tokens = name.tokens if name else ()
    folded = tuple(fold(t) for t in tokens)
    prefix = name.prefix.replace(" ", "") if name else ""
    return (
        name, folded, " ".join(tokens), " ".join(folded), " ".join(sorted(folded)),
        fold(prefix + "".join(tokens)) if tokens else "", frozenset(folded),
        frozenset(t[0] for t in folded if t), tuple(sorted(phonetic(t) for t in folded)),
    )  # fmt: skip


_NO_NAME: _NameForms = (None, (), "", "", "", "", frozenset(), frozenset(), ())


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _sex(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    s = value.strip().upper()
    if s in ("L", "LK", "LAKI-LAKI", "LAKI LAKI", "1", "M"):
        return "L"
    if s in ("P", "PR", "PEREMPUAN", "WANITA", "2", "F", "W"):
        return "P"
    return None


def _number(value: object, shortest: int, longest: int) -> str | None:
    if not isinstance(value, str):
        return None
    digits = _DIGITS.sub("", value)
    if not shortest <= len(digits) <= longest or not digits.isascii():
        return None
    if digits.count(digits[0]) == len(digits):  # 0000000000000000: a placeholder, not a number
        return None
    return digits


def phone_number(value: object) -> str | None:
    """A phone number's national significant digits: +62 812-3456, 62812..., 0812... -> 812..."""
    if not isinstance(value, str):
        return None
    digits = _DIGITS.sub("", value)
    if digits.startswith("62"):
        digits = digits[2:]
    digits = digits.lstrip("0")
    return digits if 7 <= len(digits) <= 13 else None


def _decode_nik(nik: str | None) -> tuple[tuple[int, int, int] | None, str | None]:
    if nik is None or len(nik) != 16:
        return None, None
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "L"
    if day > 40:
        day, sex = day - 40, "P"
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None, None
    return (day, month, yy), sex


# Serials count up per district and birth date from 0001: a few hundred people born the same
# day in one district is already more than any district has. A larger serial is a typo.
MAX_SERIAL = 200


def _plausible(nik: str | None) -> bool:
    """A NIK that could have been issued: a known district, a date, a small serial."""
    return (
        nik is not None
        and len(nik) == 16
        and 0 < int(nik[12:]) <= MAX_SERIAL
        and is_known_region(nik[0:2], nik[2:4], nik[4:6])
    )


def encodes(
    dmy: tuple[int, int, int] | None, nik_sex: str | None, dob: dt.date | None, sex: str | None
) -> bool:
    """True when a NIK's date and sex part agree with a birth date and sex (where known)."""
    if dmy is None:
        return False
    if dob is not None and dmy != (dob.day, dob.month, dob.year % 100):
        return False
    return sex is None or nik_sex == sex


def _nik_date(dmy: tuple[int, int, int]) -> dt.date | None:
    day, month, yy = dmy
    # Only a fallback for a record without birth date: a fixed pivot keeps it deterministic.
    year = 2000 + yy if yy <= 30 else 1900 + yy
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _place(value: object) -> str | None:
    text = _text(value)
    return None if text is None else _place_of(text)


@lru_cache(maxsize=1 << 16)  # places, villages and household addresses repeat
def _place_of(text: str) -> str | None:
    words = [w for w in _WORDS.split(ascii_upper(text)) if w and w not in _PLACE_DROP]
    return " ".join(words) or None


def _area(value: object) -> str | None:
    text = _text(value)
    return None if text is None else _area_of(text)


@lru_cache(maxsize=1 << 16)  # places, villages and household addresses repeat
def _area_of(text: str) -> str | None:
    words = [w for w in _WORDS.split(ascii_upper(text)) if w and w not in _AREA_DROP]
    return ".".join(w.lstrip("0") or "0" for w in words) or None


def _address(value: object) -> str | None:
    text = _text(value)
    return None if text is None else _address_of(text)


@lru_cache(maxsize=1 << 16)  # places, villages and household addresses repeat
def _address_of(text: str) -> str | None:
    words: list[str] = []
    unit = False  # the word before was RT or RW: this number is the unit's
    for w in _WORDS.split(ascii_upper(text)):
        after_unit, unit = unit, w in _NEIGHBOURHOOD
        if not w or w in _ADDRESS_DROP or _NEIGHBOURHOOD_JOINED.match(w):
            continue
        if w.isdigit():
            if after_unit:
                continue
            w = w.lstrip("0") or "0"
        words.append(_ROMAN.get(w) or _ADDRESS_WORDS.get(w, w))
    return " ".join(words) or None
