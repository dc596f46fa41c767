"""Estimating the model from unlabelled records.

Method: u (level frequencies among different persons) is counted on random record pairs, which
are almost all different persons. m comes from EM on the candidate pairs that blocking yields:
a two-class mixture (one person / two) over the comparison vectors, fields independent given
the class, missing fields left out; its m is kept, its u (skewed by blocking) is not. Name-word
frequencies are counted from the records.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from .compare import COMPARATORS, FIELDS, LEVELS, nik_level
from .model import MatchModel
from .names import parse_name
from .prepared import Prepared, prepare
from .record import PersonRecord

Vector = tuple[int, ...]
Table = list[list[float]]  # [field][level] -> probability; level 0 (missing) unused
MIN_FREQUENCY = 2e-4  # name words rarer than this are left out of the shipped table


def name_frequencies(
    records: Iterable[PersonRecord], keep: float = MIN_FREQUENCY
) -> dict[str, float]:
    """Share of names holding each word, and each La/Wa (Ode) prefix; words below `keep` dropped."""
    counts: Counter[str] = Counter()
    n = 0
    for r in records:
        name = parse_name(r.name) if isinstance(r.name, str) else None
        if name is None:
            continue
        n += 1
        counts.update(set(name.tokens))
        if name.prefix:
            counts[name.prefix] += 1
    if not n:
        return {}
    return {w: c / n for w, c in counts.items() if c / n >= keep}


def _level_counts(vectors: Iterable[tuple[Vector, float]]) -> Table:
    counts = [[0.0] * len(LEVELS[f]) for f in FIELDS]
    for vec, weight in vectors:
        for i, lv in enumerate(vec):
            counts[i][lv] += weight
    return counts


def _normalise(counts: Table, smoothing: float = 0.5) -> Table:
    out = []
    for row in counts:
        total = sum(row[1:]) + smoothing * (len(row) - 1)
        out.append([0.0] + [(c + smoothing) / total for c in row[1:]])
    return out


def random_pair_u(
    prepared: Sequence[Prepared], n_pairs: int, rng: random.Random
) -> tuple[Table, list[bool]]:
    """u per field level, counted on random pairs (smoothed), and whether each field was seen."""
    vectors = []
    n = len(prepared)
    for _ in range(n_pairs):
        i, j = rng.randrange(n), rng.randrange(n)
        if i != j:
            a, b = prepared[i], prepared[j]
            vectors.append((tuple(f(a, b) for f in COMPARATORS), 1.0))
    counts = _level_counts(vectors)
    u = _normalise(counts)
    for level, share in _same_date_u(prepared, n_pairs, rng).items():
        u[_NIK][level] = share
    return u, [sum(row[1:]) > 0 for row in counts]


_NIK = FIELDS.index("nik")
_SAME_DATE = tuple(
    LEVELS["nik"].index(x) for x in ("near_same_date", "next_serial", "serial_same_date")
)


def _same_date_u(
    prepared: Sequence[Prepared], n_pairs: int, rng: random.Random
) -> dict[int, float]:
    """u of the 'NIKs one digit apart, same date' levels among pairs born the SAME day: they
    imply the birth dates agree, whose weight already counts that (conditional u)."""
    by_day: dict[int, list[Prepared]] = {}
    for p in prepared:
        if p.dob_day and p.nik_ok:
            by_day.setdefault(p.dob_day, []).append(p)
    days = [group for group in by_day.values() if len(group) > 1]
    hits = dict.fromkeys(_SAME_DATE, 0)
    total = 0
    for _ in range(n_pairs if days else 0):
        group = days[rng.randrange(len(days))]
        a, b = rng.sample(group, 2)
        level = nik_level(a, b)
        if level:
            total += 1
            if level in hits:
                hits[level] += 1
    return {level: (n + 0.5) / (total + 1.0) for level, n in hits.items()}


def candidate_pairs(
    prepared: Sequence[Prepared], keys: Sequence[Sequence[str]], caps: Mapping[str, int]
) -> set[tuple[int, int]]:
    """Index pairs sharing a blocking key whose block is within its kind's cap."""
    blocks: dict[str, list[int]] = {}
    for i, ks in enumerate(keys):
        for k in ks:
            blocks.setdefault(k, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for key, members in blocks.items():
        if len(members) < 2 or len(members) > caps.get(key.split(":", 1)[0], 50):
            continue
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                pairs.add((i, j))
    return pairs


def em(
    patterns: Mapping[Vector, float],
    m: Table,
    u: Table,
    prior: float,
    iterations: int = 100,
    *,
    fit_m: bool = True,
    fit_u: bool = True,
    skip: Iterable[int] = (),
    tolerance: float = 1e-7,
) -> tuple[Table, Table, float]:
    """EM for the two-class mixture over comparison vectors (pattern -> count); returns m, u
    and the share of pairs that are one person. Fields in `skip` are left out (as if missing);
    fit_m / fit_u False keep that table as given."""
    skipped = set(skip)
    items = [
        (tuple(0 if i in skipped else lv for i, lv in enumerate(vec)), count)
        for vec, count in patterns.items()
    ]
    for _ in range(iterations):
        m_counts = [[0.0] * len(row) for row in m]
        u_counts = [[0.0] * len(row) for row in u]
        n_match = n_total = 0.0
        for vec, count in items:
            pm, pu = prior, 1.0 - prior
            for i, lv in enumerate(vec):
                if lv:
                    pm *= m[i][lv]
                    pu *= u[i][lv]
            g = pm / (pm + pu) if pm + pu > 0 else 0.0
            n_match += g * count
            n_total += count
            for i, lv in enumerate(vec):
                if lv:
                    m_counts[i][lv] += g * count
                    u_counts[i][lv] += (1.0 - g) * count
        new_prior = n_match / n_total if n_total else prior
        if fit_m:
            m = _keep_rows(m, _normalise(m_counts, 1e-3), skipped)
        if fit_u:
            u = _keep_rows(u, _normalise(u_counts, 1e-3), skipped)
        done = abs(new_prior - prior) < tolerance
        prior = new_prior
        if done:
            break
    return m, u, prior


def _keep_rows(old: Table, new: Table, rows: set[int]) -> Table:
    return [old[i] if i in rows else new[i] for i in range(len(new))]


def _initial_m() -> Table:
    """A starting point that says 'one person agrees': most mass on the first level."""
    table = []
    for f in FIELDS:
        k = len(LEVELS[f]) - 1
        rest = 0.2 / (k - 1) if k > 1 else 0.0
        table.append([0.0] + [0.8 if j == 1 else rest for j in range(1, k + 1)])
    return table


# Each round: EM over the pairs blocked by some key kinds, with u fixed, for the m of the fields
# those keys do not already make agree (pairs sharing a NIK say how often names differ within one
# person; pairs sharing a birth date and a name word say how often NIKs do).
ROUNDS: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
    (frozenset({"nik"}), frozenset({"nik"})),
    (frozenset({"dob"}), frozenset({"name", "prefix", "birth_date"})),
)


def _patterns(prepared: Sequence[Prepared], pairs: Iterable[tuple[int, int]]) -> Counter[Vector]:
    patterns: Counter[Vector] = Counter()
    for i, j in pairs:
        a, b = prepared[i], prepared[j]
        patterns[tuple(f(a, b) for f in COMPARATORS)] += 1
    return patterns


def estimate(
    records: Iterable[PersonRecord],
    model: MatchModel | None = None,
    *,
    caps: Mapping[str, int] | None = None,
    max_pairs: int = 300_000,
    random_pairs: int = 200_000,
    seed: int = 0,
    iterations: int = 100,
) -> MatchModel:
    """A model with m, u, prior and name frequencies estimated from `records`; thresholds and
    the rest are kept from `model` (default: the shipped one)."""
    from .blocking import SUGGESTED_CAPS

    base = model or MatchModel.load()
    caps = caps or SUGGESTED_CAPS
    recs = list(records)
    freq = name_frequencies(recs)
    prepared = [prepare(r, freq) for r in recs]
    rng = random.Random(seed)
    u, observed = random_pair_u(prepared, random_pairs, rng)
    keys = [base.blocking_keys(p) for p in prepared]
    m = _initial_m()
    done: set[str] = set()
    for kinds, agreed in ROUNDS:
        kept = [[k for k in ks if k.split(":", 1)[0] in kinds] for ks in keys]
        pairs = sorted(candidate_pairs(prepared, kept, caps))
        if len(pairs) > max_pairs:
            pairs = sorted(rng.sample(pairs, max_pairs))
        skip = [i for i, f in enumerate(FIELDS) if f in agreed]
        fitted, _, _ = em(_patterns(prepared, pairs), m, u, 0.5, iterations, fit_u=False,
                          skip=skip)  # fmt: skip
        for i, f in enumerate(FIELDS):
            if f not in agreed and f not in done:
                m[i] = fitted[i]
                done.add(f)
    # The prior: the share of one-person pairs among all candidates, scaled to all pairs.
    pairs = candidate_pairs(prepared, keys, caps)
    sample = sorted(pairs) if len(pairs) <= max_pairs else rng.sample(sorted(pairs), max_pairs)
    _, _, share = em(_patterns(prepared, sample), m, u, 0.1, iterations, fit_m=False, fit_u=False)
    n = len(recs)
    total_pairs = n * (n - 1) / 2
    prior = min(max(share * len(pairs) / total_pairs, 1e-12), 0.5) if total_pairs else base.prior
    params = {
        f: {lv: (m[i][j], u[i][j]) for j, lv in enumerate(LEVELS[f]) if j}
        if observed[i]
        else base.params[f]  # a field no record holds keeps the base's values
        for i, f in enumerate(FIELDS)
    }
    return base.replace(params=params, prior=prior, frequencies=freq)
