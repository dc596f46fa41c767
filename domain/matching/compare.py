"""Field comparisons: for a pair of prepared records (prepared.py) the comparison level of each
field, as an index into LEVELS[field].

Level 0 of every field is 'missing' (either side has no value): it weighs nothing. The NIK levels
use the date and sex a NIK encodes: a NIK that contradicts its own record's birth date or sex (a
typo in the date digits, a KK number typed into the NIK field) is 'unverified' and weighs less.
"""

from __future__ import annotations

import datetime as dt

from rapidfuzz.distance import OSA, Hamming, JaroWinkler, Levenshtein
from rapidfuzz.fuzz import token_set_ratio

from .prepared import Prepared, encodes

LEVELS: dict[str, tuple[str, ...]] = {
    "name": ("missing", "exact", "tokens", "jw95", "jw88", "subset", "initials", "two_edits",
             "else", "one_edit"),
    "prefix": ("missing", "agree", "ode_differs", "differs", "sex_conflict"),
    "birth_date": ("missing", "exact", "swapped", "near", "year", "else"),
    "sex": ("missing", "agree", "disagree"),
    "nik": ("missing", "exact", "exact_unverified", "near_dob", "near_same_date", "next_serial",
            "one_edit", "transposition", "kk_in_nik", "else", "else_unverified", "date_digit",
            "serial_same_date"),
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
# A NIK one digit off in its date part says nothing the birth_date field does not (see nik_level).
NEUTRAL = frozenset({("nik", "kk_in_nik"), ("nik", "date_digit")})
# Levels that weigh as another level of their field: the same kind of error, too rare for EM to
# estimate alone (it saw almost no adjacent NIK transpositions among its candidate pairs and
# gave them m = 0, weight 0, so a NIK with two digits swapped counted for nothing). Two
# neighbouring digits swapped is one keystroke error, as a digit typed wrong is.
TIED = {("nik", "transposition"): "one_edit"}
# Levels whose weight is adjusted by how common the agreeing value is.
TF_LEVELS = {"name": (1, 2, 5), "prefix": (1,)}

# --- levels of a pair, one function per field; each returns an index into LEVELS[field] ---


def name_level(a: Prepared, b: Prepared) -> int:
    """exact, same words in any order or spelling, subset, initials, Jaro-Winkler bands, two
    edits, else."""
    if not a.name_str or not b.name_str:
        return 0
    if a.name_str == b.name_str:
        return 1
    if a.sorted_fold == b.sorted_fold or a.foldset == b.foldset or a.squashed == b.squashed:
        return 2
    # Before the Jaro-Winkler bands, which rate 'SITI' against 'SITI AMINAH' by the prefix.
    if a.foldset < b.foldset or b.foldset < a.foldset:
        return 5
    if a.initials & b.initials and _initials_compatible(a, b):
        return 6
    jw = JaroWinkler.similarity(a.sorted_fold, b.sorted_fold, score_cutoff=0.88)
    if jw < 0.95 and (len(a.folded) > 1 or len(b.folded) > 1):
        if a.ordered_fold != a.sorted_fold or b.ordered_fold != b.sorted_fold:
            jw = max(jw, JaroWinkler.similarity(a.ordered_fold, b.ordered_fold, score_cutoff=0.88))
        if jw < 0.95 and len(a.folded) > 1 and len(b.folded) > 1 and a.initials & b.initials:
            jw = max(jw, _word_similarity(a.folded, b.folded))
    if jw < 0.88:  # a space typed in the wrong place: WAC IAOBELLA, WASCALISTA
        jw = JaroWinkler.similarity(a.squashed, b.squashed, score_cutoff=0.88)
    if jw >= 0.95:
        return 3
    # One typing error in the whole name (VIMAN typed VIMAD, RAHMI typed RAMHI): a level of its
    # own below jw95, where the Jaro-Winkler bands rate short names low (DONO/DORO is below
    # every band) and lump them with names that are merely alike.
    if OSA.distance(a.sorted_fold, b.sorted_fold, score_cutoff=1) <= 1:
        return 9
    if jw >= 0.88:
        return 4
    # A typo in the one word an agency kept (KIANDRA / PUJI KIANDRA typed KIINDRA), told on
    # the written words: folding merges doubled letters (JAYA typed JYAA folds to YA).
    if a.name is not None and b.name is not None and _typo_subset(a.name.tokens, b.name.tokens):
        return 4
    # Two typing errors in one name (HAMZAH typed HAMFAHH, KARYA typed KGYA): weak evidence by
    # itself (short names are often two edits apart), not 'another name' either.
    if OSA.distance(a.squashed, b.squashed, score_cutoff=2) <= 2 or (
        OSA.distance(a.sorted_fold, b.sorted_fold, score_cutoff=2) <= 2
    ):
        return 7
    return 8


def _typo_subset(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Each word of the shorter name (3 letters or more) is one edit or transposition from a
    word of the other."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if not short:
        return False
    for t in short:
        n = len(t)  # a word more than one letter longer or shorter is more than one edit away
        if n < 3 or not any(
            OSA.distance(t, o, score_cutoff=1) <= 1
            for o in long_
            if len(o) >= 3 and n - 1 <= len(o) <= n + 1
        ):
            return False
    return True


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
    """exact, day and month swapped, near (one digit, one day, or the month or the year one
    off), same year, else."""
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
    if _one_part_off_by_one(a.dob, b.dob):
        return 3
    return 4 if same_year else 5


def _one_part_off_by_one(x: dt.date | None, y: dt.date | None) -> bool:
    """The month or the year one off, the rest equal: the neighbouring entry of a date picker
    or a drop-down (September for October, 1959 for 1960), which a digit compare misses."""
    if x is None or y is None:
        return False
    if x.day != y.day:
        return False
    return (x.year == y.year and abs(x.month - y.month) == 1) or (
        x.month == y.month and abs(x.year - y.year) == 1
    )


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
        return 8
    if x == y:
        return 1 if (a.nik_ok or b.nik_ok) else 2
    same_date = a.nik_ok and b.nik_ok and a.nik_dmy == b.nik_dmy and a.nik_sex == b.nik_sex
    # Consecutive serials: how the registry numbers two people born the same day in one
    # district (namesakes in one kelurahan look like this), as well as a typo.
    next_serial = same_date and x[:12] == y[:12] and abs(int(x[12:]) - int(y[12:])) == 1
    if a.nik_proof and b.nik_proof and not same_date:
        # Each NIK is plausible and agrees with its own record's birth date and sex: two
        # people (siblings born a year apart in one district have NIKs one digit apart too).
        return 9
    # Consecutive serials, each plausible for its record, stay 'next_serial' rather than
    # 'else': namesakes born the same day in one district look like this, and so does a
    # neighbouring key typed for the last digit (8 for 9). The model never links such a pair
    # by itself (MatchModel.conflict): with the same name and date it goes to a supervisor.
    if Levenshtein.distance(x, y, score_cutoff=1) <= 1:
        near = 6
    elif OSA.distance(x, y, score_cutoff=1) <= 1:
        near = 7
    else:
        return 9 if a.nik_ok and b.nik_ok else 10
    if same_date:
        # Region or serial one digit apart, the date already counted by birth_date: its u is
        # counted among pairs born the same day (em.py). A serial one digit off (0001 typed
        # 0071) is rarer between two people born that day in one district than a district
        # code one digit off (741301 / 741311): a level of its own.
        if next_serial:
            return 5
        return 12 if x[:12] == y[:12] else 4
    # The typo is provably in one (16-digit) NIK: it contradicts its own record, while the other
    # NIK encodes this record's birth date and sex. (A NIK missing a digit is near every NIK of
    # its district and date.)
    if len(x) == len(y) == 16 and (
        (not a.nik_ok and b.nik_ok and encodes(b.nik_dmy, b.nik_sex, a.dob, a.sex))
        or (not b.nik_ok and a.nik_ok and encodes(a.nik_dmy, a.nik_sex, b.dob, b.sex))
    ):
        return 3
    if near == 6 and len(x) == len(y) == 16 and _own_date(a) and _own_date(b):
        i = next(i for i in range(16) if x[i] != y[i])
        if 6 <= i < 12:
            # One digit off in the date part, both records dated: birth_date already weighs
            # how near the dates are, and what the NIKs add is a district and a serial that
            # most people born near that day there share (ALIKA born the 27th against RIKA,
            # whose NIK says the 28th and record the 29th).
            return 11
    return near


def _own_date(p: Prepared) -> bool:
    """Whether the record has a birth date of its own (not one borrowed from its NIK)."""
    return p.dob is not None and (p.nik_proof or not p.nik_ok)


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
