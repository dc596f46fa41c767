"""Blocking keys: the records that share a key are the candidates compared with each other.

Several keys at once, so that a true pair almost always shares one even with a typo'd NIK, no
NIK or a name variant. A key is '<kind>:<value>' and holds personal data (in memory only, never
logged). The kind lets the index cap blocks per kind: a NIK block is one person, a name-word +
birth-year block can be large for common words; SUGGESTED_CAPS is the cap this module is built
for (a block above its cap is skipped, the record finds its person through its other keys).

NIK within one edit: a 16-digit NIK has 16 one-digit deletions ('nikd'); two NIKs one
substitution or one adjacent transposition apart share a deletion (delete the changed digit, or
either swapped one), a 15-digit NIK (a digit dropped) is its own deletion key, and a 17-digit one
(a digit added) is indexed under its deletions as full NIKs.

The resolver keeps a proved NIK's deletions out of its index (`index_keys`). NIKs are dense:
everyone born on one day in one district has a NIK one digit from a dozen others', so the
deletions of proved NIKs made a third of all candidates (10 a record at 65,000 people, all of
them two proved NIKs: never one person by the model, see compare.nik_level) and a third of the
index's memory, and that share grows with the population. A NIK within one edit matters when
one of the two is not proved (a typo, or no birth date to agree with): such a 'suspect' NIK
keeps its deletions in the index, where a proved NIK looks them up; and it looks up, without
keeping them, its substitutions and transpositions (or, 15 digits long, its insertions) as full
NIKs, which finds the proved NIKs one edit away. `blocking_keys` is every key of a record, as
before: the pairs EM estimates on (em.py), a superset of what the resolver compares.
"""

from __future__ import annotations

from .prepared import Prepared

# kind -> largest block worth comparing (the resolver's index applies it).
SUGGESTED_CAPS: dict[str, int] = {
    "nik": 50,  # one person's records (a NIK shared by many is a placeholder, better skipped)
    "nikd": 20,  # one NIK within one edit: a handful of people born the same day and district
    "kk": 30,  # one family's records
    "dob": 30,  # birth date + one name word
    "day": 40,  # the birth date alone (a typo in every name word, or a one-word name)
    "tok": 30,  # one name word's sound + birth year (rare words; common ones are skipped)
    "nm": 30,  # the whole name, two words or more (records without birth date and area)
    "kel": 20,  # the whole name's sound + kecamatan (records without a birth date)
    "addr": 20,  # address + kecamatan (a household; a hamlet-only address is skipped)
    "tel": 20,  # phone number (a family shares one)
    "oid": 20,  # other id (BPJS, passport ...)
}


_DIGITS = "0123456789"


def blocking_keys(p: Prepared) -> tuple[str, ...]:
    """Every key of one prepared record, deduplicated, in a fixed order."""
    kept, probes = index_keys(p)
    if not p.nik_proof:
        return kept
    return tuple(dict.fromkeys(kept + probes))  # a proved NIK's deletions


def index_keys(p: Prepared) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The keys the resolver indexes a record under, and those it only looks it up under (see
    the module's docstring), each deduplicated, in a fixed order."""
    keys: list[str] = []
    probes: list[str] = []
    nik = p.nik
    if nik is not None:
        n = len(nik)
        if n == 16:
            keys.append("nik:" + nik)
            deletions = ["nikd:" + nik[:i] + nik[i + 1 :] for i in range(16)]
            if p.nik_proof:
                probes = deletions
            else:
                keys += deletions
                keys.append("kk:" + nik)  # not shown to be this person's: perhaps the family's KK
                probes = _near_niks(nik)
        elif n == 15:
            keys.append("nikd:" + nik)
            probes = ["nik:" + nik[:i] + d + nik[i:] for i in range(16) for d in _DIGITS]
        elif n == 17:
            keys += ["nik:" + nik[:i] + nik[i + 1 :] for i in range(17)]
    if p.kk is not None:
        keys.append("kk:" + p.kk)
    if p.dob_str:
        day = p.dob_str
        keys += [f"dob:{day}:{t}" for t in sorted(p.foldset) if len(t) > 1]
        keys.append("day:" + day)
        year = day[:4]
        keys += [f"tok:{s}:{year}" for s in p.sounds if len(s) > 1]
    if len(p.folded) > 1:
        keys.append("nm:" + p.sorted_fold)
    # The kecamatan first: agencies record it more often (and more alike) than the village.
    area = p.kecamatan or p.kelurahan
    if area is not None:
        if p.sounds:
            keys.append(f"kel:{' '.join(p.sounds)}:{area}")
        if p.address is not None:
            keys.append(f"addr:{p.address}:{area}")
    if p.phone is not None:
        keys.append("tel:" + p.phone)
    if p.other_id is not None:
        keys.append("oid:" + p.other_id)
    return tuple(dict.fromkeys(keys)), tuple(dict.fromkeys(probes))


def _near_niks(nik: str) -> list[str]:
    """'nik:' keys of the 16-digit NIKs one substitution or adjacent transposition from `nik`."""
    near = ["nik:" + nik[:i] + d + nik[i + 1 :] for i in range(16) for d in _DIGITS if d != nik[i]]
    near += [
        "nik:" + nik[:i] + nik[i + 1] + nik[i] + nik[i + 2 :]
        for i in range(15)
        if nik[i] != nik[i + 1]
    ]
    return near
