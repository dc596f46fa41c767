"""Kemendagri region codes (kode wilayah) that the hub knows: the 38 provinces, the regencies of
Sulawesi Tenggara (74) and the districts (kecamatan) of Muna Barat (74.13).

These are the codes the first six digits of a NIK or No. KK are built from. We deliberately do
not ship the full Kemendagri table (about 7,200 districts, amended by every new regency): outside
Muna Barat a district code is accepted when it is 01-99, so a NIK from elsewhere in Indonesia is
never flagged only because our table is incomplete or older than the citizen's registration.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kepmendagri codes, after the 2022 Papua split (38 provinces). Papua keeps 91 and Papua Barat 92;
# the four new provinces took 93-96. BPS numbers Papua differently: do not mix the two tables.
PROVINCES: dict[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}

SULAWESI_TENGGARA = "74"

# All 15 kabupaten and 2 kota of Sulawesi Tenggara (kota codes start at 71, as everywhere).
REGENCIES_74: dict[str, str] = {
    "01": "Kabupaten Buton",
    "02": "Kabupaten Muna",
    "03": "Kabupaten Konawe",
    "04": "Kabupaten Kolaka",
    "05": "Kabupaten Konawe Selatan",
    "06": "Kabupaten Bombana",
    "07": "Kabupaten Wakatobi",
    "08": "Kabupaten Kolaka Utara",
    "09": "Kabupaten Buton Utara",
    "10": "Kabupaten Konawe Utara",
    "11": "Kabupaten Kolaka Timur",
    "12": "Kabupaten Konawe Kepulauan",
    "13": "Kabupaten Muna Barat",
    "14": "Kabupaten Buton Tengah",
    "15": "Kabupaten Buton Selatan",
    "71": "Kota Kendari",
    "72": "Kota Baubau",
}

MUNA_BARAT = "7413"

MUNA_BARAT_DISTRICTS: dict[str, str] = {
    "01": "Sawerigadi",
    "02": "Barangka",
    "03": "Lawa",
    "04": "Wadaga",
    "05": "Tiworo Selatan",
    "06": "Maginti",
    "07": "Tiworo Tengah",
    "08": "Tiworo Utara",
    "09": "Tiworo Kepulauan",
    "10": "Kusambi",
    "11": "Napano Kusambi",
}


@dataclass(frozen=True)
class Region:
    """A district-level region code split into its parts, with the names we know."""

    province: str
    regency: str
    district: str
    province_name: str | None = None
    regency_name: str | None = None
    district_name: str | None = None

    @property
    def code(self) -> str:
        """The six digits as they appear in a NIK, e.g. '741303'."""
        return f"{self.province}{self.regency}{self.district}"

    @property
    def dotted(self) -> str:
        """The Kemendagri notation, e.g. '74.13.03'."""
        return f"{self.province}.{self.regency}.{self.district}"


def _two_digits(s: str) -> bool:
    return len(s) == 2 and s.isascii() and s.isdigit()


def is_known_region(province: str, regency: str, district: str) -> bool:
    """True when the three 2-digit codes can be a real district, as far as our tables know.

    Province must be one of the 38; in Sulawesi Tenggara the regency must be one of its 17; in
    Muna Barat the district must be one of its 11. Elsewhere any regency/district 01-99 passes
    (we do not ship the full Kemendagri table, see the module docstring).
    """
    if not (_two_digits(province) and _two_digits(regency) and _two_digits(district)):
        return False
    if province not in PROVINCES or regency == "00" or district == "00":
        return False
    if province == SULAWESI_TENGGARA and regency not in REGENCIES_74:
        return False
    if province + regency == MUNA_BARAT:
        return district in MUNA_BARAT_DISTRICTS
    return True


def lookup_region(code: str) -> Region | None:
    """The Region for a six-digit district code ('741303' or '74.13.03'), None if unknown."""
    digits = code.replace(".", "")
    if len(digits) != 6:
        return None
    province, regency, district = digits[:2], digits[2:4], digits[4:]
    if not is_known_region(province, regency, district):
        return None
    regency_name = REGENCIES_74.get(regency) if province == SULAWESI_TENGGARA else None
    district_name = MUNA_BARAT_DISTRICTS.get(district) if province + regency == MUNA_BARAT else None
    return Region(province, regency, district, PROVINCES[province], regency_name, district_name)
