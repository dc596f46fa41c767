"""Field comparisons: a record prepared once (normalised fields in a slotted object), and for a
pair of prepared records the comparison level of each field, as an index into LEVELS[field].

Level 0 of every field is 'missing' (either side has no value): it weighs nothing. The NIK levels
use the date and sex a NIK encodes: a NIK that contradicts its own record's birth date or sex (a
typo in the date digits, a KK number typed into the NIK field) is 'unverified' and weighs less.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from rapidfuzz.distance import OSA, Hamming, JaroWinkler, Levenshtein
from rapidfuzz.fuzz import token_set_ratio

from .names import Name, ascii_upper, fold, parse_name, phonetic
from .record import PersonRecord

LEVELS: dict[str, tuple[str, ...]] = {
    "name": ("missing", "exact", "tokens", "jw95", "jw88", "subset", "initials", "else"),
    "prefix": ("missing", "agree", "ode_differs", "differs", "sex_conflict"),
    "birth_date": ("missing", "exact", "swapped", "near", "year", "else"),
    "sex": ("missing", "agree", "disagree"),
    "nik": ("missing", "exact", "exact_unverified", "near_dob", "near_same_date", "one_edit",
            "transposition", "kk_in_nik", "else", "else_unverified"),
    "kk": ("missing", "exact", "one_edit", "else"),
    "birth_place": ("missing", "exact", "similar", "else"),
    "address": ("missing", "exact", "high", "some", "else"),
    "area": ("missing", "kelurahan", "kecamatan", "else"),
    "postcode": ("missing", "exact", "else"),
    "phone": ("missing", "exact", "else"),
    "other_id": ("missing", "exact", "else"),
}  # fmt: skip
FIELDS = tuple(LEVELS)
# Levels whose weight is fixed at 0 rather than estimated: a KK number in the NIK field says
# nothing about the NIK (the kk field counts it as the family's number instead).
NEUTRAL = frozenset({("nik", "kk_in_nik")})
# Levels whose weight is adjusted by how common the agreeing value is.
TF_LEVELS = {"name": (1, 2, 5), "prefix": (1,)}

_DIGITS = re.compile(r"\D+")
_WORDS = re.compile(r"[^A-Z0-9]+")
_ADDRESS_WORDS = {"JALAN": "JL", "JLN": "JL", "JL": "JL", "GANG": "GG", "GG": "GG",
                  "LORONG": "LR", "LRG": "LR", "DUSUN": "DSN", "DSN": "DSN", "DUSUNG": "DSN",
                  "KOMPLEK": "KOMP", "KOMPLEKS": "KOMP", "KOMP": "KOMP", "PERUM": "PERUM",
                  "PERUMAHAN": "PERUM", "BLOK": "BLOK", "BLK": "BLOK"}  # fmt: skip
_ADDRESS_DROP = frozenset({"NO", "NOMOR", "NOMER", "NMR", "RT", "RW", "KEL", "KELURAHAN", "DESA"})
_AREA_DROP = frozenset({"DESA", "DS", "KEL", "KELURAHAN", "KEC", "KECAMATAN"})
_PLACE_DROP = frozenset({"KAB", "KABUPATEN", "KOTA", "KOTAMADYA", "KOT", "ADM"})
DEFAULT_TOKEN_FREQUENCY = 1e-3  # a name word not in the frequency table
MIN_NAME_FREQUENCY = 1e-7


class Prepared:
    """A record's comparable forms, computed once (the resolver keeps these in its index)."""

    __slots__ = (
        "record", "name", "name_str", "folded", "sorted_fold", "ordered_fold", "foldset",
        "initials",
        "name_u", "sounds", "prefix", "prefix_sex", "prefix_u", "dob", "dob_day", "dob_str",
        "sex", "nik", "nik_dmy", "nik_sex",
        "nik_ok", "kk", "birth_place", "address", "kelurahan", "kecamatan", "postcode", "phone",
        "other_id",
    )  # fmt: skip

    record: PersonRecord
    name: Name | None
    name_str: str
    folded: tuple[str, ...]
    sorted_fold: str
    ordered_fold: str
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
    nik_ok: bool  # the NIK decodes and agrees with this record's own birth date and sex
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
    p.nik_ok = p.nik_dmy is not None and _encodes(p.nik_dmy, p.nik_sex, p.dob, p.sex)
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
    name = parse_name(raw) if raw else None
    p.name = name
    tokens = name.tokens if name else ()
    folded = tuple(fold(t) for t in tokens)
    p.folded = folded
    p.name_str = " ".join(tokens)
    p.ordered_fold = " ".join(folded)
    p.sorted_fold = " ".join(sorted(folded))
    p.foldset = frozenset(folded)
    p.initials = frozenset(t[0] for t in folded if t)
    p.sounds = tuple(sorted(phonetic(t) for t in folded))
    u = 1.0
    for t in set(tokens):
        u *= freq.get(t, DEFAULT_TOKEN_FREQUENCY)
    p.name_u = max(u, MIN_NAME_FREQUENCY)
    p.prefix = name.prefix if name else ""
    p.prefix_sex = name.prefix_sex if name else None
    p.prefix_u = freq.get(p.prefix, DEFAULT_TOKEN_FREQUENCY) if p.prefix else 1.0


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


def _encodes(
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
    if text is None:
        return None
    words = [w for w in _WORDS.split(ascii_upper(text)) if w and w not in _PLACE_DROP]
    return " ".join(words) or None


def _area(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    words = [w for w in _WORDS.split(ascii_upper(text)) if w and w not in _AREA_DROP]
    return ".".join(w.lstrip("0") or "0" for w in words) or None


def _address(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    words = []
    for w in _WORDS.split(ascii_upper(text)):
        if not w or w in _ADDRESS_DROP:
            continue
        if w.isdigit():
            w = w.lstrip("0") or "0"
        words.append(_ADDRESS_WORDS.get(w, w))
    return " ".join(words) or None


# --- levels of a pair, one function per field; each returns an index into LEVELS[field] ---


def name_level(a: Prepared, b: Prepared) -> int:
    """exact, same words in any order or spelling, Jaro-Winkler bands, subset, initials, else."""
    if not a.name_str or not b.name_str:
        return 0
    if a.name_str == b.name_str:
        return 1
    if a.sorted_fold == b.sorted_fold or a.foldset == b.foldset:
        return 2
    jw = JaroWinkler.similarity(a.sorted_fold, b.sorted_fold, score_cutoff=0.88)
    if jw < 0.95 and (len(a.folded) > 1 or len(b.folded) > 1):
        if a.ordered_fold != a.sorted_fold or b.ordered_fold != b.sorted_fold:
            jw = max(jw, JaroWinkler.similarity(a.ordered_fold, b.ordered_fold, score_cutoff=0.88))
        if jw < 0.95 and len(a.folded) > 1 and len(b.folded) > 1 and a.initials & b.initials:
            jw = max(jw, _word_similarity(a.folded, b.folded))
    if jw >= 0.95:
        return 3
    if jw >= 0.88:
        return 4
    if a.foldset < b.foldset or b.foldset < a.foldset:
        return 5
    if a.initials & b.initials and _initials_compatible(a, b):
        return 6
    # One letter off in a short name (DONO/DORO) is below every Jaro-Winkler band.
    if OSA.distance(a.sorted_fold, b.sorted_fold, score_cutoff=1) <= 1:
        return 4
    return 7


def _word_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Each word of the longer name against its best match in the other, weighted by length."""
    longer, other = (a, b) if len(a) >= len(b) else (b, a)
    total = size = 0.0
    for t in longer:
        best = max(JaroWinkler.similarity(t, o) for o in other)
        if best < 0.85:  # one word unlike any other: not the same name (RAISA JANE, JANE RIKA)
            return 0.0
        total += best * len(t)
        size += len(t)
    return total / size


def _initials_compatible(a: Prepared, b: Prepared) -> bool:
    """'A. RAHMAN' and 'ABDUL RAHMAN': the words one side lacks are initials of the other's."""
    common = a.foldset & b.foldset
    if not common:
        return False
    rest_a, rest_b = a.foldset - common, b.foldset - common
    short, long_ = (rest_a, rest_b) if len(rest_a) <= len(rest_b) else (rest_b, rest_a)
    if not short:
        return True
    if any(len(t) > 1 for t in short):
        return False
    return {t[0] for t in short} <= {t[0] for t in long_}


def prefix_level(a: Prepared, b: Prepared) -> int:
    """La/Wa (Ode) agree, differ only in Ode, differ, or contradict the other record's sex."""
    if (a.prefix_sex and b.sex and a.prefix_sex != b.sex) or (
        b.prefix_sex and a.sex and b.prefix_sex != a.sex
    ):
        return 4
    if not a.prefix or not b.prefix:
        return 0
    if a.prefix == b.prefix:
        return 1
    if a.prefix_sex == b.prefix_sex:
        return 2
    return 3


def birth_date_level(a: Prepared, b: Prepared) -> int:
    """exact, day and month swapped, one digit or one day off, same year, else."""
    if not a.dob_day or not b.dob_day:
        return 0
    if a.dob_day == b.dob_day:
        return 1
    x, y = a.dob_str, b.dob_str
    same_year = x[:4] == y[:4]
    if same_year and x[4:6] == y[6:8] and x[6:8] == y[4:6]:
        return 2
    if abs(a.dob_day - b.dob_day) == 1 or Hamming.distance(x, y, score_cutoff=1) <= 1:
        return 3
    return 4 if same_year else 5


def sex_level(a: Prepared, b: Prepared) -> int:
    """agree or disagree."""
    if a.sex is None or b.sex is None:
        return 0
    return 1 if a.sex == b.sex else 2


def nik_level(a: Prepared, b: Prepared) -> int:
    """exact, near (one edit or adjacent transposition), a KK number in the NIK field, else;
    with whether each NIK agrees with its record's birth date and sex."""
    x, y = a.nik, b.nik
    if x is None or y is None:
        return 0
    if x == b.kk or y == a.kk or (x == y and (x == a.kk or y == b.kk)):
        return 7
    if x == y:
        return 1 if (a.nik_ok or b.nik_ok) else 2
    both_ok = a.nik_ok and b.nik_ok
    if both_ok and (a.nik_dmy != b.nik_dmy or a.nik_sex != b.nik_sex):
        # Each NIK agrees with its own record's other birth date or sex: two people (siblings
        # born a year apart in one district have NIKs one digit apart), not a typo.
        return 8
    if Levenshtein.distance(x, y, score_cutoff=1) <= 1:
        near = 5
    elif OSA.distance(x, y, score_cutoff=1) <= 1:
        near = 6
    else:
        return 8 if both_ok else 9
    if both_ok:
        # Same date and sex, region or serial one digit apart: also two people born the same
        # day in one district. Its u is counted among pairs born the same day (see em.py).
        return 4
    # The typo is provably in one NIK: it contradicts its own record, while the other NIK
    # encodes this record's birth date and sex.
    if (not a.nik_ok and b.nik_ok and _encodes(b.nik_dmy, b.nik_sex, a.dob, a.sex)) or (
        not b.nik_ok and a.nik_ok and _encodes(a.nik_dmy, a.nik_sex, b.dob, b.sex)
    ):
        return 3
    return near


def kk_level(a: Prepared, b: Prepared) -> int:
    """exact, one edit (or transposition), else. A KK number in the NIK field counts here."""
    x = a.kk or (a.nik if a.nik is not None and a.nik == b.kk else None)
    y = b.kk or (b.nik if b.nik is not None and b.nik == a.kk else None)
    if x is None or y is None:
        return 0
    if x == y:
        return 1
    return 2 if OSA.distance(x, y, score_cutoff=1) <= 1 else 3


def birth_place_level(a: Prepared, b: Prepared) -> int:
    """exact, similar (Jaro-Winkler >= 0.9), else."""
    if a.birth_place is None or b.birth_place is None:
        return 0
    if a.birth_place == b.birth_place:
        return 1
    return 2 if JaroWinkler.similarity(a.birth_place, b.birth_place) >= 0.9 else 3


def address_level(a: Prepared, b: Prepared) -> int:
    """exact, high (token-set ratio >= 90), some (>= 70), else."""
    if a.address is None or b.address is None:
        return 0
    if a.address == b.address:
        return 1
    ratio = token_set_ratio(a.address, b.address, score_cutoff=70)
    return 2 if ratio >= 90 else 3 if ratio >= 70 else 4


def area_level(a: Prepared, b: Prepared) -> int:
    """same kelurahan/desa, same kecamatan only, else. Village numbers repeat across districts,
    so a kelurahan agrees only where the kecamatan does not disagree."""
    both_kec = a.kecamatan is not None and b.kecamatan is not None
    if both_kec and a.kecamatan != b.kecamatan:
        return 3
    if a.kelurahan is not None and b.kelurahan is not None:
        return 1 if a.kelurahan == b.kelurahan else 2 if both_kec else 3
    return 2 if both_kec else 0


def _equal_level(x: str | None, y: str | None) -> int:
    if x is None or y is None:
        return 0
    return 1 if x == y else 2


def postcode_level(a: Prepared, b: Prepared) -> int:
    """exact or else."""
    return _equal_level(a.postcode, b.postcode)


def phone_level(a: Prepared, b: Prepared) -> int:
    """exact (after +62/62/0 prefixes are removed) or else."""
    return _equal_level(a.phone, b.phone)


def other_id_level(a: Prepared, b: Prepared) -> int:
    """exact or else."""
    return _equal_level(a.other_id, b.other_id)


COMPARATORS = (
    name_level, prefix_level, birth_date_level, sex_level, nik_level, kk_level,
    birth_place_level, address_level, area_level, postcode_level, phone_level, other_id_level,
)  # fmt: skip


def levels(a: Prepared, b: Prepared) -> tuple[int, ...]:
    """The level index of every field, in FIELDS order."""
    return tuple(f(a, b) for f in COMPARATORS)
