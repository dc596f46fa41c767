"""Indonesian personal names, normalised for comparison: titles and degrees set apart, the Muna/
Buton prefixes (La, Wa, La Ode, Wa Ode) set apart, old spelling (Soewandi and earlier) rewritten
to EYD, and the many spellings of Muhammad, Ahmad and Abdul made one token.

The one decision to know: a spelling rule is applied to BOTH names of a pair, so a rule only has
to be consistent, not linguistically exact; 'j' becomes 'y' only in a word that shows another
old-spelling mark (oe, dj, tj, nj, sj, ch), since modern names also start with J (Joko, Jumran).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Written before the name (H. Abdul, Hj. Siti, Drs. La Ode ...), compared with dots removed.
PREFIX_TITLES = frozenset(
    "H HJ HAJI HAJAH HAJJAH HJH DRS DRA DR DRG IR PROF KH KYAI USTADZ USTAD USTADZAH HABIB NS "
    "BAPAK BPK BP IBU IB NY NYONYA TN TUAN SDR SDRI SAUDARA SAUDARI ALM ALMH ALMARHUM "
    "ALMARHUMAH".split()
)
# Written after the name, usually after a comma (Budi, S.H., M.Si.).
DEGREES = frozenset(
    "SH SE SPD SKOM SSOS SAG SKEP SKM SKG SKED SFARM SIP SIKOM SHI SPDI SPSI SS SST ST STP SP SPT "
    "SSI SSN SAP SAK STR AMD AMK AMKEB AMKEP AMA AMAPD AMAK AMG AMF AMTE AMAPK AMR MSI MPD MM MH "
    "MT MAP MKES MKEP MKOM MAG MSC MA MBA MSOS MPH MPSI MHUM MIKOM MKN PHD DRES SPOG SPA SPB SPPD "
    "BSC BA LC LCS".split()
)
_MUHAMMAD = frozenset(
    "MUHAMMAD MUHAMAD MUHAMMED MUHAMED MUHAMMAT MUHAMAT MOHAMMAD MOHAMAD MOHAMMED MOHAMED "
    "MOCHAMMAD MOCHAMAD MOCHAMED MUCHAMMAD MUCHAMAD MUKHAMMAD MUKHAMAD MOKHAMMAD MOKHAMAD MOH MOCH "
    "MUH MUHD MHD MOHD MHMD MUHAMMMAD".split()
)
_AHMAD = frozenset("AHMAD ACHMAD AKHMAD AHMAT ACHMAT AKHMAT AHMED ACHMED".split())
_ABDUL = frozenset("ABDUL ABD ABDOEL ABDOL ABDULL".split())
# Muna/Buton name prefixes: sex they imply. WD./LD. are the written abbreviations of Wa/La Ode,
# and Laode/Waode the joined spelling (as in 'Laode Ida').
_PREFIX_SEX = {"LA": "L", "WA": "P"}
_ODE_ABBREV = {"LD": "LA", "WD": "WA", "LAODE": "LA", "WAODE": "WA"}

_OLD_MARKS = ("OE", "DJ", "TJ", "NJ", "SJ", "CH")
_OLD_RULES = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("NJ", "NY"), ("SJ", "SY"), ("CH", "KH"))
_SPLIT = re.compile(r"[^A-Z0-9]+")


@dataclass(frozen=True, slots=True)
class Name:
    """A parsed name: `tokens` are the compared words in written order, EYD spelling."""

    tokens: tuple[str, ...]
    prefix: str = ""  # "LA", "WA", "LA ODE", "WA ODE", "ODE" or ""
    titles: tuple[str, ...] = ()

    @property
    def prefix_sex(self) -> str | None:
        """'L' for La / La Ode, 'P' for Wa / Wa Ode, else None."""
        return _PREFIX_SEX.get(self.prefix.split(" ", 1)[0]) if self.prefix else None

    def __repr__(self) -> str:  # personal data stays out of logs
        return f"Name({len(self.tokens)} tokens)"


def ascii_upper(text: str) -> str:
    """Upper-case ASCII: accents dropped, apostrophes and backticks removed (Ma'ruf -> MARUF)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.upper()
    return text.replace("'", "").replace("`", "")


@lru_cache(maxsize=1 << 16)  # names repeat: a word is spelled once
def spell(token: str) -> str:
    """One word in modern spelling: Soeharto -> SUHARTO, Djojo -> JOYO, Moh -> MUHAMMAD."""
    if token in _MUHAMMAD:
        return "MUHAMMAD"
    if token in _AHMAD:
        return "AHMAD"
    if token in _ABDUL:
        return "ABDUL"
    if any(mark in token for mark in _OLD_MARKS):
        # Old spelling: a 'j' outside the pairs dj/tj/nj/sj was /y/. Hide the pairs first.
        for i, (old, _) in enumerate(_OLD_RULES):
            token = token.replace(old, chr(i + 1))
        token = token.replace("J", "Y")
        for i, (_, new) in enumerate(_OLD_RULES):
            token = token.replace(chr(i + 1), new)
    if token in _MUHAMMAD:  # MOECHAMMAD and the like
        return "MUHAMMAD"
    if token in _AHMAD:
        return "AHMAD"
    return token


def _title_key(word: str) -> str:
    return _SPLIT.sub("", word)


def parse_name(raw: str | None) -> Name | None:
    """Parse a written name; None when nothing name-like is left."""
    if not raw:
        return None
    text = ascii_upper(raw)
    head, *tails = text.split(",")
    words = head.split()
    titles: list[str] = []
    while len(words) > 1 and _title_key(words[0]) in PREFIX_TITLES:
        titles.append(_title_key(words.pop(0)))
    while len(words) > 1 and "." in words[-1] and _title_key(words[-1]) in DEGREES:
        titles.append(_title_key(words.pop()))
    while len(words) > 1 and _title_key(words[-1]) in DEGREES and len(words[-1]) > 1:
        titles.append(_title_key(words.pop()))
    for tail in tails:  # after a comma: degrees, or (rarely) more name
        key = _title_key(tail)
        if not key:
            continue
        parts = [_title_key(w) for w in tail.split()]
        if key in DEGREES or all(p in DEGREES for p in parts if p):
            titles.append(key)
        else:
            words.extend(tail.split())
    tokens = [t for w in words for t in _SPLIT.split(w) if t]
    return _split_prefix(tokens, tuple(titles))


def _split_prefix(tokens: list[str], titles: tuple[str, ...]) -> Name | None:
    """Set La/Wa/Ode apart wherever they stand ('SITI WA ODE' is written too)."""
    la_wa = ""
    ode = False
    rest: list[str] = []
    for i, tok in enumerate(tokens):
        if tok in _ODE_ABBREV and not la_wa and len(tokens) > 1:
            la_wa, ode = _ODE_ABBREV[tok], True
        elif tok in _PREFIX_SEX and not la_wa and len(tokens) > 1:
            la_wa = tok
        elif tok == "ODE" and not ode and (la_wa or i + 1 < len(tokens)):
            ode = True
        else:
            rest.append(tok)
    if not rest:
        return None
    if rest[0] == "M" and len(rest) > 1:  # "M. Ali": the usual abbreviation of Muhammad
        rest[0] = "MUHAMMAD"
    prefix = (la_wa + " ODE" if la_wa else "ODE") if ode else la_wa
    return Name(tuple(spell(t) for t in rest), prefix, titles)


@lru_cache(maxsize=1 << 16)
def fold(token: str) -> str:
    """A looser form for 'same name, other spelling': j/y, f/p, z/dz/j, sy/s, kh/h, doubled
    letters and a final h (Fatimah/Fatima, Jusuf/Yusuf, Syamsul/Samsul) are made one."""
    t = token.replace("KH", "H").replace("DZ", "Z").replace("SY", "S").replace("TH", "T")
    t = t.replace("J", "Y").replace("F", "P").replace("V", "P").replace("Q", "K")
    t = t.replace("PH", "P").replace("OE", "U")
    if len(t) > 3 and t.endswith("H"):
        t = t[:-1]
    out = [t[0]] if t else []
    for ch in t[1:]:
        if ch != out[-1]:
            out.append(ch)
    return "".join(out)


_VOWELS = frozenset("AEIOU")


@lru_cache(maxsize=1 << 16)
def phonetic(token: str) -> str:
    """A short sound key of one spelled word for blocking: the folded word's first letter and its
    consonants, with h, y and w after the first letter dropped (NURHAYATI -> NRT, SITI -> ST)."""
    t = fold(token).replace("Z", "S").replace("C", "S").replace("X", "KS")
    if not t:
        return ""
    first = "A" if t[0] in _VOWELS else t[0]
    out = [first]
    for ch in t[1:]:
        if ch in _VOWELS or ch in "HYW":  # NIAGA / NIYAGA, DEWI / DEUI
            continue
        if ch != out[-1]:
            out.append(ch)
    return "".join(out)


def name_key(name: Name) -> str:
    """The phonetic key of a whole name: its words' keys in sorted order (word order ignored)."""
    return " ".join(sorted(phonetic(t) for t in name.tokens))
