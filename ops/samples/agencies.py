"""The agencies that hold records of people besides the civil registry, for the identity corpus
(ops/samples/corpus.py): whom each holds, what it asks, and how often its staff get the NIK wrong.
The shares and rates are plausible guesses for a regency's front offices, not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Agency:
    """How one agency records people: who it holds, what it asks, and how it errs."""

    name: str
    table: str
    share: float  # of the eligible people, how many it holds
    nik_errors: dict[str, float]  # error kind -> probability; the rest have the right NIK
    adults_only: bool = False
    sex: bool = True
    kelurahan: float = 0.0  # probability that the village (and district) is recorded
    birth_place: float = 0.0
    address: float = 0.9
    phone: float = 0.0
    kk: float = 0.0
    bpjs: bool = False  # records the health-insurance card number (other_id)
    titles: float = 0.05
    duplicates: float = 0.0  # a person registered twice
    outsiders: float = 0.0  # records of people from outside the regency, per resident record


# The other agencies, in the order --agencies takes them (the registry is always the first).
AGENCIES = (
    Agency(
        "dpmptsp", "tmpemohon", 0.15, adults_only=True, sex=False, birth_place=0.9,
        address=0.95, phone=0.9, titles=0.25, outsiders=0.06,
        nik_errors={"nik_typo": 0.10, "nik_transposed": 0.06, "nik_truncated": 0.03,
                    "nik_is_kk": 0.05, "nik_missing": 0.06},
    ),
    Agency(
        "puskesmas", "pasien", 0.35, kelurahan=0.9, address=0.8, phone=0.5, kk=0.1, bpjs=True,
        duplicates=0.03,
        nik_errors={"nik_typo": 0.07, "nik_transposed": 0.04, "nik_truncated": 0.02,
                    "nik_is_kk": 0.06, "nik_missing": 0.25, "nik_of_relative": 0.01},
    ),
    Agency(
        "dinsos", "dtks", 0.2, kelurahan=1.0, birth_place=0.5, address=0.9, phone=0.3, kk=0.9,
        nik_errors={"nik_typo": 0.06, "nik_transposed": 0.04, "nik_truncated": 0.01,
                    "nik_is_kk": 0.08, "nik_missing": 0.12},
    ),
)  # fmt: skip
