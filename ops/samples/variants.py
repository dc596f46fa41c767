"""How other agencies get a person wrong: the typing errors and spelling habits that separate
their records from the civil registry's (NIK typos and transpositions, a KK number in the NIK
field, titles and degrees, La/Wa/La Ode/Wa Ode written differently, old spelling, Muhammad as
Moh./M., day and month swapped, addresses abbreviated).

Each function takes the rng and returns the varied value, or None when the variation does not
apply to this value (a name without 'U' has no old spelling), so the caller can pick another.
"""

from __future__ import annotations

import datetime as dt
import random

from domain.nik import Sex

_HAJI = {Sex.L: "H.", Sex.P: "HJ."}
_BEFORE = ("DRS.", "IR.", "DR.")
_AFTER = ("S.PD", "S.H.", "S.E.", "S.KEP", "S.SOS", "A.MD", "S.T.", "M.PD", "S.IP", "S.KM")
# Old (pre-1972) spellings, as an older clerk or an old document writes a modern name.
_OLD = (("U", "OE"), ("J", "DJ"), ("C", "TJ"), ("KH", "CH"), ("Y", "J"), ("SY", "SJ"))
_MUHAMMAD = {
    "MUHAMMAD": ("MOH.", "M.", "MUH.", "MOHAMMAD", "MUHAMAD", "MOCH."),
    "ACHMAD": ("AHMAD",),
    "AHMAD": ("ACHMAD",),
    "ABDUL": ("ABD.", "ABDOEL"),
}
_LETTERS = "ABCDEFGHIJKLMNOPRSTUWY"
# La/Wa/Ode as prefix_variant writes them (whole, abbreviated, joined).
_PREFIX_WORDS = frozenset({"LA", "WA", "ODE", "LD", "WD", "LAODE", "WAODE"})


def split_prefix(name: str) -> tuple[str, list[str]]:
    """('LA ODE', ['HAMIRU']) for 'LA ODE HAMIRU': the Muna/Buton prefix and the other words."""
    words = name.split()
    if len(words) > 2 and words[0] in ("LA", "WA") and words[1] == "ODE":
        return f"{words[0]} ODE", words[2:]
    if len(words) > 1 and words[0] in ("LA", "WA"):
        return words[0], words[1:]
    return "", words


def with_title(name: str, sex: Sex, rng: random.Random) -> str:
    """The name with a title (H./Hj. of a haji, Drs., Ir.) or a degree after a comma."""
    r = rng.random()
    if r < 0.5:
        return f"{_HAJI[sex]} {name}"
    if r < 0.65:
        return f"{rng.choice(_BEFORE)} {name}"
    return f"{name}, {rng.choice(_AFTER)}"


def prefix_variant(name: str, sex: Sex, rng: random.Random) -> str | None:
    """La/Wa/La Ode/Wa Ode written another way: dropped, abbreviated, joined, or moved after
    the name ('SITI WA ODE'); a name without a prefix gains La/Wa."""
    prefix, rest = split_prefix(name)
    if not rest:
        return None
    main = " ".join(rest)
    if not prefix:
        return f"{'LA' if sex is Sex.L else 'WA'} {main}"
    choices = [main, f"{main} {prefix}"]
    if prefix.endswith("ODE"):
        la = prefix[:2]
        choices += [f"{la}ODE {main}", f"{la[0]}D. {main}", f"{la} {main}"]
    return rng.choice(choices)


def old_spelling(name: str, rng: random.Random) -> str | None:
    """The name in old spelling (U -> OE, J -> DJ, C -> TJ, KH -> CH, Y -> J, SY -> SJ)."""
    prefix, rest = split_prefix(name)
    main = " ".join(rest)
    rules = [(new, old) for new, old in _OLD if new in main]
    if not rules:
        return None
    new, old = rng.choice(rules)
    return f"{prefix} {main.replace(new, old)}".strip()


def muhammad_variant(name: str, rng: random.Random) -> str | None:
    """Muhammad as Moh./M./Muh., Achmad as Ahmad (and back), Abdul as Abd."""
    words = name.split()
    hits = [i for i, w in enumerate(words) if w in _MUHAMMAD]
    if not hits:
        return None
    i = rng.choice(hits)
    words[i] = rng.choice(_MUHAMMAD[words[i]])
    return " ".join(words)


def word_order(name: str, rng: random.Random) -> str | None:
    """The words of the name (the prefix kept with the first) in another order."""
    prefix, rest = split_prefix(name)
    if len(rest) < 2:
        return None
    rest = rest[1:] + rest[:1]
    return " ".join(rest + [prefix] if prefix and rng.random() < 0.5 else [prefix, *rest]).strip()


def single_word(name: str, rng: random.Random) -> str | None:
    """Only one word of a longer name (as people give it at a counter), never La/Wa/Ode alone
    (a prefix written after the name or abbreviated, 'SITI WA ODE', 'WD. SITI', is not split
    off by split_prefix, and nobody gives 'WA' as their name)."""
    _, rest = split_prefix(name)
    if len(rest) < 2 and len(name.split()) < 2:
        return None
    words = [w for w in rest if w.rstrip(".") not in _PREFIX_WORDS]
    return rng.choice(words) if words else None


def typo(text: str, rng: random.Random) -> str:
    """One typing error: a letter replaced, left out, doubled or swapped with the next."""
    i = rng.randrange(1, len(text)) if len(text) > 1 else 0
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + rng.choice(_LETTERS.replace(text[i], "")) + text[i + 1 :]
    if kind == 1 and len(text) > 3:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    if i + 1 < len(text) and text[i] != text[i + 1]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice(_LETTERS.replace(text[i], "")) + text[i + 1 :]


def nik_typo(nik: str, rng: random.Random) -> str:
    """One digit of the NIK typed wrong."""
    i = rng.randrange(len(nik))
    return nik[:i] + rng.choice("0123456789".replace(nik[i], "")) + nik[i + 1 :]


def nik_transposed(nik: str, rng: random.Random) -> str:
    """Two neighbouring (different) digits of the NIK swapped."""
    spots = [i for i in range(len(nik) - 1) if nik[i] != nik[i + 1]]
    i = rng.choice(spots)
    return nik[:i] + nik[i + 1] + nik[i] + nik[i + 2 :]


def nik_truncated(nik: str, rng: random.Random) -> str:
    """A digit left out: 15 digits."""
    i = rng.randrange(len(nik))
    return nik[:i] + nik[i + 1 :]


def day_month_swapped(day: dt.date) -> dt.date | None:
    """The date with day and month swapped (None when that is no other valid date)."""
    if day.day > 12 or day.day == day.month:
        return None
    try:
        return day.replace(month=day.day, day=day.month)
    except ValueError:
        return None


def date_typo(day: dt.date, rng: random.Random) -> dt.date:
    """A date typed one off: the day, the month or the year's last digit."""
    r = rng.random()
    if r < 0.5:
        return day + dt.timedelta(days=rng.choice((-1, 1)))
    if r < 0.7:
        month = day.month % 12 + 1
        return day.replace(month=month, day=min(day.day, 28))
    year = day.year + rng.choice((-1, 1))
    return day.replace(year=year, day=min(day.day, 28))


def address_variant(address: str, rng: random.Random) -> str:
    """The address abbreviated or spelled out, with RT/RW or without, in another case."""
    out = address
    swaps = (("DUSUN ", rng.choice(("DSN. ", "DSN ", "DUSUN "))), ("JL. ", "JALAN "),
             ("NO. ", rng.choice(("NO ", "", "NO."))))  # fmt: skip
    for old, new in swaps:
        out = out.replace(old, new)
    for roman, digit in (("III", "3"), ("II", "2"), ("IV", "4"), ("V", "5"), ("I", "1")):
        if out.endswith(" " + roman) and rng.random() < 0.5:
            out = out[: -len(roman)] + digit
            break
    if rng.random() < 0.4:
        out += f" RT {rng.randint(1, 8):03d}/RW {rng.randint(1, 4):03d}"
    return out.title() if rng.random() < 0.3 else out


def phone_variant(phone: str, rng: random.Random) -> str:
    """The same number as +62..., with dashes, or as it is."""
    r = rng.random()
    if r < 0.2:
        return "+62" + phone[1:]
    if r < 0.35:
        return f"{phone[:4]}-{phone[4:8]}-{phone[8:]}"
    return phone
