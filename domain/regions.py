"""Kemendagri region codes (kode wilayah) of all Indonesia: the 38 provinces, their regencies and
kota, and their districts (kecamatan), as the first six digits of a NIK or No. KK carry them.

The codes are data/wilayah.csv (Kepmendagri 300.2.2-2138 Tahun 2025; source in data/README.md),
read once on first use. A NIK keeps the code of the district that first issued it, so codes that
the 2022 Papua split retired (data/wilayah_retired.csv: the 91.xx/92.xx regencies moved to the new
provinces 93-96) stay valid: a Merauke NIK issued in 2015 starts 9101, one issued in 2024 starts
9301, and both are accepted. Kemendagri codes are not BPS codes: never mix the two tables.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
CURRENT_FILE = DATA / "wilayah.csv"
RETIRED_FILE = DATA / "wilayah_retired.csv"

SULAWESI_TENGGARA = "74"
MUNA_BARAT = "7413"


@dataclass(frozen=True)
class Region:
    """A district-level region code split into its parts, with the names from the table."""

    province: str
    regency: str
    district: str
    province_name: str | None = None
    regency_name: str | None = None
    district_name: str | None = None
    retired: bool = False  # a pre-2022 Papua code: still on the NIKs issued under it

    @property
    def code(self) -> str:
        """The six digits as they appear in a NIK, e.g. '741303'."""
        return f"{self.province}{self.regency}{self.district}"

    @property
    def dotted(self) -> str:
        """The Kemendagri notation, e.g. '74.13.03'."""
        return f"{self.province}.{self.regency}.{self.district}"


@dataclass(frozen=True)
class _Table:
    names: dict[str, str]  # undotted code (2, 4 or 6 digits) -> name, current and retired
    districts: frozenset[str]  # every 6-digit district code a NIK may carry
    retired: frozenset[str]  # the undotted codes that only the pre-2022 list has
    children: dict[str, dict[str, str]]  # parent code -> {child's last 2 digits: name}, current


def _read(path: Path) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as f:
        return {row["code"].replace(".", ""): row["name"] for row in csv.DictReader(f)}


@cache
def _table() -> _Table:
    """Both files, read once; every later call is a dict or set lookup."""
    current, retired = _read(CURRENT_FILE), _read(RETIRED_FILE)
    children: dict[str, dict[str, str]] = {}
    for code, name in current.items():  # a province's parent is ""
        children.setdefault(code[:-2], {})[code[-2:]] = name
    names = {**retired, **current}
    districts = frozenset(code for code in names if len(code) == 6)
    return _Table(names, districts, frozenset(retired), children)


def provinces() -> dict[str, str]:
    """The 38 provinces in force: 2-digit code -> name."""
    return dict(_table().children[""])


def regencies(province: str) -> dict[str, str]:
    """The regencies and kota in force in a province: 2-digit regency code -> name."""
    return dict(_table().children.get(province, {}))


def districts(regency: str) -> dict[str, str]:
    """The districts in force in a regency ('7413'): 2-digit district code -> name."""
    return dict(_table().children.get(regency, {}))


def _two_digits(s: str) -> bool:
    return len(s) == 2 and s.isascii() and s.isdigit()


def is_known_region(province: str, regency: str, district: str) -> bool:
    """True when the three 2-digit codes name a district of the Kemendagri list.

    Current codes and those retired by the 2022 Papua split both count (see the module docstring).
    """
    if not (_two_digits(province) and _two_digits(regency) and _two_digits(district)):
        return False
    return province + regency + district in _table().districts


def lookup_region(code: str) -> Region | None:
    """The Region for a six-digit district code ('741303' or '74.13.03'), None if unknown."""
    digits = code.replace(".", "")
    province, regency, district = digits[:2], digits[2:4], digits[4:]
    if len(digits) != 6 or not is_known_region(province, regency, district):
        return None
    table = _table()
    return Region(
        province,
        regency,
        district,
        table.names.get(province),
        table.names.get(digits[:4]),
        table.names.get(digits),
        retired=digits in table.retired,
    )


_CONSTANTS = {
    "PROVINCES": provinces,
    "REGENCIES_74": lambda: regencies(SULAWESI_TENGGARA),
    "MUNA_BARAT_DISTRICTS": lambda: districts(MUNA_BARAT),
}


def __getattr__(name: str) -> dict[str, str]:
    """PROVINCES, REGENCIES_74 and MUNA_BARAT_DISTRICTS, built from the table on first use."""
    if name not in _CONSTANTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = _CONSTANTS[name]()
    return value
