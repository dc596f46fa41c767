"""Estimating m and u: EM on comparison vectors, frequencies, and the whole estimate()."""

import datetime as dt
import random
from collections import Counter

from domain.matching.compare import FIELDS, LEVELS
from domain.matching.em import em, estimate, name_frequencies
from domain.matching.model import MatchModel
from domain.matching.record import PersonRecord


def test_em_recovers_m_and_u_of_a_known_mixture():
    # Three fields with three levels each (plus 'missing'); truth known, 20% one person.
    m_true = [[0, 0.85, 0.1, 0.05], [0, 0.9, 0.05, 0.05], [0, 0.7, 0.2, 0.1]]
    u_true = [[0, 0.02, 0.08, 0.9], [0, 0.05, 0.15, 0.8], [0, 0.1, 0.2, 0.7]]
    rng = random.Random(7)
    patterns: Counter[tuple[int, ...]] = Counter()
    for _ in range(40_000):
        table = m_true if rng.random() < 0.2 else u_true
        patterns[tuple(rng.choices((1, 2, 3), row[1:])[0] for row in table)] += 1
    m0 = [[0, 0.6, 0.2, 0.2]] * 3
    u0 = [[0, 0.2, 0.3, 0.5]] * 3
    m, u, share = em(patterns, m0, u0, 0.5, iterations=500)
    assert abs(share - 0.2) < 0.02
    for i in range(3):
        for j in (1, 2, 3):
            assert abs(m[i][j] - m_true[i][j]) < 0.04, (i, j)
            assert abs(u[i][j] - u_true[i][j]) < 0.04, (i, j)


def test_em_leaves_skipped_fields_and_fixed_u_alone():
    patterns = Counter({(1, 1): 50, (3, 3): 50, (1, 3): 5})
    m0 = [[0, 0.5, 0.25, 0.25], [0, 0.5, 0.25, 0.25]]
    u0 = [[0, 0.1, 0.2, 0.7], [0, 0.1, 0.2, 0.7]]
    m, u, _ = em(patterns, m0, u0, 0.5, fit_u=False, skip=[1])
    assert u == u0
    assert m[1] == m0[1]
    assert m[0] != m0[0]


def test_name_frequencies_are_shares_of_names():
    records = [PersonRecord(str(i), name=n) for i, n in
               enumerate(["WA SITI", "SITI AMINAH", "LA ODE ALI", "Hj. Siti"])]  # fmt: skip
    freq = name_frequencies(records, keep=0.0)
    assert freq["SITI"] == 0.75
    assert freq["WA"] == freq["LA ODE"] == freq["ALI"] == 0.25


FIRST = ("HASNIA", "SARIANI", "JUMRIA", "NURHAYATI", "SALMA", "HAMSIA", "ASNIA", "MARIANI",
         "ARIFIN", "SAMSUL", "HASRUDIN", "JUMRAN", "ALIMUDIN", "RAHMAN", "SUHARDIN")  # fmt: skip


def _people(n: int, rng: random.Random) -> list[PersonRecord]:
    out = []
    for k in range(n):
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20_000))
        sex = rng.choice("LP")
        day = born.day + (40 if sex == "P" else 0)
        nik = f"741301{day:02d}{born:%m%y}{1 + k % 3:04d}"
        out.append(PersonRecord(f"s{k}", name=f"{rng.choice(FIRST)} {rng.choice(FIRST)}",
                                birth_date=born, sex=sex, nik=nik,
                                kk_number=f"7413011505{10 + k % 10:02d}{k:04d}",
                                kelurahan=str(2001 + k % 7), kecamatan="01"))  # fmt: skip
    return out


def test_estimate_learns_that_agreement_means_one_person():
    rng = random.Random(3)
    people = _people(600, rng)
    records = list(people)
    for p in people[:400]:  # a second agency's copy: sometimes no NIK, sometimes a typo
        nik = None if rng.random() < 0.3 else p.nik
        records.append(PersonRecord("x" + p.record_id, name=(p.name or "").title(),
                                    birth_date=p.birth_date, sex=p.sex, nik=nik,
                                    kelurahan=p.kelurahan, kecamatan=p.kecamatan))  # fmt: skip
    model = estimate(records, MatchModel.load(), random_pairs=20_000)
    table = model.to_dict()["fields"]
    assert table["nik"]["exact"]["weight"] > 8
    assert table["birth_date"]["exact"]["weight"] > 8
    assert table["name"]["else"]["weight"] < 0
    assert set(table) == set(FIELDS)
    assert all(set(table[f]) == set(LEVELS[f]) for f in FIELDS)
    assert model.frequencies["HASNIA"] > 0
