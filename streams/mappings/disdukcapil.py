"""Disdukcapil (SIAK, the civil registry): BIODATA_WNI, DATA_KELUARGA, PINDAH_DATANG, CAPIL_MATI.

SIAK's short region numbers and Kemendagri code numbers become full region codes and code words.
The registry holds living residents: a BIODATA_WNI row says deceased=false, and its deletion
(death, moving out, a NIK correction) is a DELETE fact, never a death. A death is a CAPIL_MATI
row (the death registration): a fact with deceased=true and the date of death.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.nik import IdStatus, check_kk, parse_sex
from domain.regions import MUNA_BARAT

from ..canonical import Canonical
from .change import RawChange
from .person import Check, Issue, PersonSpec, person_facts
from .registry import mapping
from .values import Row, coded, column, date, region_code, sex, text, to_int, village_code

AGENCY = "disdukcapil"
# SIAK runs per regency: this hub's regency supplies the prefix of SIAK's own region numbers.
REGENCY_PREFIX = MUNA_BARAT

# Kemendagri code tables, as SIAK stores them.
AGAMA = {1: "ISLAM", 2: "KRISTEN", 3: "KATHOLIK", 4: "HINDU", 5: "BUDHA", 6: "KHONGHUCU"}
STAT_KWN = {1: "BELUM KAWIN", 2: "KAWIN", 3: "CERAI HIDUP", 4: "CERAI MATI"}
JENIS_PKRJN = {
    1: "BELUM/TIDAK BEKERJA", 2: "MENGURUS RUMAH TANGGA", 3: "PELAJAR/MAHASISWA",
    4: "PENSIUNAN", 5: "PEGAWAI NEGERI SIPIL", 6: "TENTARA NASIONAL INDONESIA",
    7: "KEPOLISIAN RI", 8: "PERDAGANGAN", 9: "PETANI/PEKEBUN", 10: "PETERNAK",
    11: "NELAYAN/PERIKANAN", 12: "INDUSTRI", 13: "KONSTRUKSI", 14: "TRANSPORTASI",
    15: "KARYAWAN SWASTA", 16: "KARYAWAN BUMN", 17: "KARYAWAN BUMD", 18: "KARYAWAN HONORER",
    19: "BURUH HARIAN LEPAS", 20: "BURUH TANI/PERKEBUNAN", 21: "BURUH NELAYAN/PERIKANAN",
    88: "WIRASWASTA", 89: "LAINNYA",
}  # fmt: skip


def kk_check(name: str) -> Check:
    """A finding when the No. KK column is not 16 digits of a known district."""

    def check(row: Row) -> Sequence[Issue]:
        value = column(row, name)
        if value is None:
            return ()
        result = check_kk(str(value))
        if result.ok:
            return ()
        rule = "KK_MALFORMED" if result.status is IdStatus.MALFORMED else f"KK_{result.status}"
        return (Issue(rule, name, result.detail),)

    return check


def sex_code_check(name: str) -> Check:
    """A finding when the sex column holds a code that is neither L nor P."""

    def check(row: Row) -> Sequence[Issue]:
        value = column(row, name)
        if value is None:
            return (Issue("SEX_MISSING", name, "no sex recorded"),)
        try:
            parsed = parse_sex(to_int(value) if str(value).strip().isdigit() else value)
        except ValueError:
            parsed = None
        if parsed is None:
            return (Issue("SEX_CODE_UNKNOWN", name, "sex code is neither 1 (L) nor 2 (P)"),)
        return ()

    return check


_KEC = region_code(REGENCY_PREFIX, district="NO_KEC")

BIODATA_WNI = PersonSpec(
    nik="NIK",
    key_columns=("NIK",),
    record_id_is_nik=True,
    fields={
        "name": text("NAMA_LGKP"),
        "sex": sex("JENIS_KLMIN"),
        "birth_date": date("TGL_LHR"),
        "birth_place": text("TMPT_LHR"),
        "address": text("ALAMAT"),
        "kecamatan_code": _KEC,
        "kelurahan_code": village_code(_KEC, "NO_KEL"),
        "religion": coded("AGAMA", AGAMA),
        "marital_status": coded("STAT_KWN", STAT_KWN),
        "occupation": coded("JENIS_PKRJN", JENIS_PKRJN),
        "kk_number": text("NO_KK"),
    },
    constants={"deceased": False},
    checks=(kk_check("NO_KK"), sex_code_check("JENIS_KLMIN")),
)

_KEC_TUJUAN = region_code(
    REGENCY_PREFIX, district="NO_KEC_TUJUAN", regency="NO_KAB_TUJUAN", province="NO_PROP_TUJUAN"
)

# A move states only where the person now lives: a partial fact (all other fields null, which
# in a fact means "not stated").
PINDAH_DATANG = PersonSpec(
    nik="NIK",
    key_columns=("NO_PINDAH",),
    fields={
        "kecamatan_code": _KEC_TUJUAN,
        "kelurahan_code": village_code(_KEC_TUJUAN, "NO_KEL_TUJUAN"),
    },
)


# A death registration states who died (identity as registered) and when.
CAPIL_MATI = PersonSpec(
    nik="NIK",
    key_columns=("MATI_NO",),
    fields={
        "name": text("NAMA_LGKP"),
        "sex": sex("JENIS_KLMIN"),
        "birth_date": date("TGL_LHR"),
        "kk_number": text("NO_KK"),
        "death_date": date("TGL_MATI"),
    },
    constants={"deceased": True},
    checks=(kk_check("NO_KK"),),
)


@mapping(AGENCY, "BIODATA_WNI")
def biodata_wni(change: RawChange) -> list[Canonical]:
    """A resident's biodata: one full PersonFact, findings for a bad NIK / No. KK / sex code."""
    return person_facts(change, BIODATA_WNI)


@mapping(AGENCY, "PINDAH_DATANG")
def pindah_datang(change: RawChange) -> list[Canonical]:
    """A move: a partial PersonFact of the moved NIK with the destination district/village."""
    return person_facts(change, PINDAH_DATANG)


@mapping(AGENCY, "DATA_KELUARGA")
def data_keluarga(change: RawChange) -> list[Canonical]:
    """Family cards: nothing for now. Each member's BIODATA_WNI row carries the card number and
    the address, and SIAK updates those rows with the card, so no fact is lost."""
    return []


@mapping(AGENCY, "CAPIL_MATI")
def capil_mati(change: RawChange) -> list[Canonical]:
    """A death registration: a PersonFact with deceased=true and the date of death."""
    return person_facts(change, CAPIL_MATI)
