"""A synthetic population of Muna Barat, shared by the sample agency databases.

Pure and reproducible: the same (n_people, seed, today) gives the same people, byte for byte.
Residents live in families (one KK each) in the real districts 74.13.01-11; villages (NO_KEL)
are numbered synthetically (2001.. per district, 1001 for a kelurahan), not taken from the
Kemendagri table. NIKs agree with birth date and sex; most carry the district the person was
registered in, people who moved in keep the NIK of their place of origin (as real NIKs do).
`outsiders` are people from elsewhere who never appear in Muna Barat's SIAK but do apply for
permits here.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from faker import Faker

from domain.nik import FEMALE_DAY_OFFSET, Sex, mask_nik
from domain.regions import MUNA_BARAT, MUNA_BARAT_DISTRICTS, SULAWESI_TENGGARA

# SIAK code tables (as stored in BIODATA_WNI).
AGAMA = {1: "ISLAM", 2: "KRISTEN", 3: "KATHOLIK", 4: "HINDU", 5: "BUDHA", 6: "KHONGHUCU"}
STAT_KWN = {1: "BELUM KAWIN", 2: "KAWIN", 3: "CERAI HIDUP", 4: "CERAI MATI"}
STAT_HBKEL = {1: "KEPALA KELUARGA", 3: "ISTRI", 4: "ANAK", 7: "ORANG TUA"}
JENIS_PKRJN = {
    1: "BELUM/TIDAK BEKERJA", 2: "MENGURUS RUMAH TANGGA", 3: "PELAJAR/MAHASISWA",
    4: "PENSIUNAN", 5: "PEGAWAI NEGERI SIPIL", 6: "TENTARA NASIONAL INDONESIA",
    7: "KEPOLISIAN RI", 8: "PERDAGANGAN", 9: "PETANI/PEKEBUN", 10: "PETERNAK",
    11: "NELAYAN/PERIKANAN", 13: "KONSTRUKSI", 14: "TRANSPORTASI", 15: "KARYAWAN SWASTA",
    18: "KARYAWAN HONORER", 19: "BURUH HARIAN LEPAS", 20: "BURUH TANI/PERKEBUNAN",
    21: "BURUH NELAYAN/PERIKANAN", 88: "WIRASWASTA",
}  # fmt: skip
# Causes of death as the death registration (CAPIL_MATI.SEBAB_MATI) codes them.
SEBAB_MATI = {1: "SAKIT BIASA/TUA", 2: "WABAH PENYAKIT", 3: "KECELAKAAN", 4: "KRIMINALITAS",
              5: "BUNUH DIRI", 6: "LAINNYA"}  # fmt: skip
KAWIN, BELUM_KAWIN, CERAI_HIDUP, CERAI_MATI = 2, 1, 3, 4
KEPALA, ISTRI, ANAK, ORANG_TUA = 1, 3, 4, 7

KECAMATAN = {int(code): name.upper() for code, name in MUNA_BARAT_DISTRICTS.items()}
# Synthetic: villages per district, and which districts have a kelurahan (1001).
_VILLAGES = {1: 10, 2: 8, 3: 8, 4: 7, 5: 6, 6: 8, 7: 8, 8: 7, 9: 8, 10: 10, 11: 6}
_KELURAHAN = {1, 3, 10}
_KEC_WEIGHT = {1: 14, 2: 9, 3: 11, 4: 8, 5: 6, 6: 8, 7: 8, 8: 7, 9: 9, 10: 12, 11: 8}
_COASTAL = {5, 6, 7, 8, 9}  # Tiworo strait and Maginti: fishing villages
# Where people who moved in were registered: Kemendagri district code (Katobu and Batalaiworu
# for Raha, Pasarwajo, Unaaha, Kolaka...) and the usual birth-place name.
ORIGINS = (
    ("740316", "RAHA"), ("740315", "RAHA"), ("747101", "KENDARI"), ("747105", "KENDARI"),
    ("747201", "BAUBAU"), ("740411", "PASARWAJO"), ("740202", "UNAAHA"), ("740104", "KOLAKA"),
    ("741401", "LABUNGKARI"), ("737101", "MAKASSAR"), ("737105", "MAKASSAR"),
    ("357801", "SURABAYA"), ("317101", "JAKARTA"), ("510301", "BADUNG"),
)  # fmt: skip
_ROMAN = ("I", "II", "III", "IV", "V")
_MALE = ("MUHAMMAD", "ABDUL", "ARIFIN", "SAMSUL", "HASRUDIN", "JUMRAN", "ALIMUDIN", "RAHMAN",
         "SUHARDIN", "AMIRUDIN", "SARIFUDIN", "HAMIRU", "ASRUN", "ZULKARNAIN")  # fmt: skip
_FEMALE = ("SITI", "NUR", "HASNIA", "SARIANI", "WATI", "RAHMA", "JUMRIA", "NURHAYATI", "SALMA",
           "HAMSIA", "ASNIA", "MARIANI", "FATIMA", "HASNAWATI", "SUMARNI")  # fmt: skip


@dataclass
class Person:
    """One person as the registry knows them. `kec`/`kel` are None for outsiders."""

    nik: str
    no_kk: str
    name: str
    sex: Sex
    birth_place: str
    birth_date: dt.date
    religion: int
    marital: int
    relation: int
    occupation: int
    kec: int | None
    kel: int | None
    address: str
    updated: dt.datetime

    def __repr__(self) -> str:  # personal data: keep it out of logs and test output
        return f"Person({mask_nik(self.nik)})"


@dataclass
class Family:
    """One KK (family card): its head, address and members' NIKs."""

    no_kk: str
    head_nik: str
    address: str
    rt: str
    rw: str
    kec: int
    kel: int
    updated: dt.datetime
    members: list[str] = field(default_factory=list)


@dataclass
class Move:
    """One PINDAH_DATANG record: a person registered as moving into (or within) Muna Barat."""

    no_pindah: str
    nik: str
    no_kk: str
    from_region: str  # six digits: province, regency, district
    from_kel: int
    to_kec: int
    to_kel: int
    moved_on: dt.date
    updated: dt.datetime

    @property
    def klasifikasi(self) -> int:
        """SIAK's move class: 3 between districts, 4 between regencies, 5 between provinces."""
        if self.from_region[:4] == MUNA_BARAT:
            return 3
        return 4 if self.from_region[:2] == SULAWESI_TENGGARA else 5


@dataclass
class Population:
    """Residents (in families), the moves that brought some here, and outsiders."""

    seed: int
    today: dt.date
    people: list[Person]
    families: list[Family]
    moves: list[Move]
    outsiders: list[Person]

    def adults(self, min_age: int = 21, residents: bool = True) -> list[Person]:
        """People at least min_age years old on `today` (residents or outsiders)."""
        cutoff = add_years(self.today, -min_age)
        return [p for p in (self.people if residents else self.outsiders) if p.birth_date <= cutoff]


@dataclass
class SimChange:
    """What one simulator step did: table -> keys written (and deleted), and a masked summary."""

    kind: str
    agency: str
    keys: dict[str, tuple[Any, ...]]
    summary: str
    deleted: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later (29 Feb becomes 28 Feb)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def nik_date(birth_date: dt.date, sex: Sex) -> str:
    """DDMMYY as a NIK carries it (day + 40 for women)."""
    day = birth_date.day + (FEMALE_DAY_OFFSET if sex is Sex.P else 0)
    return f"{day:02d}{birth_date:%m%y}"


class NumberBook:
    """Hands out unique serials per 12-digit prefix, so NIKs and KK numbers never collide."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def take(self, prefix: str) -> str:
        """prefix + the next free 4-digit serial (0001 first)."""
        n = self.next.get(prefix, 1)
        self.next[prefix] = n + 1
        return f"{prefix}{n:04d}"


class Names:
    """Pools of Indonesian names and streets from Faker('id_ID'), drawn from with our rng."""

    def __init__(self, seed: int):
        fake = Faker("id_ID")
        fake.seed_instance(seed)
        self.male = sorted({fake.first_name_male().upper() for _ in range(400)} | set(_MALE))
        self.female = sorted({fake.first_name_female().upper() for _ in range(300)} | set(_FEMALE))
        self.streets = sorted({fake.street_name().upper() for _ in range(200)})
        self.cities = sorted({fake.city_name().upper() for _ in range(100)})

    def person(self, rng: random.Random, sex: Sex) -> str:
        """A full name: Muna people often carry La/Wa (and La Ode/Wa Ode) before the name."""
        pool = self.male if sex is Sex.L else self.female
        r = rng.random()
        prefix = ("LA ODE " if r < 0.08 else "LA " if r < 0.4 else "") if sex is Sex.L else (
            "WA ODE " if r < 0.08 else "WA " if r < 0.4 else "")  # fmt: skip
        name = prefix + rng.choice(pool)
        if rng.random() < 0.55:
            name += " " + rng.choice(pool)
        return name[:60]


def office_time(rng: random.Random, day: dt.date) -> dt.datetime:
    """A wall-clock time during office hours (08:00-15:59), whole seconds as SIAK stores it."""
    return dt.datetime.combine(day, dt.time(8)) + dt.timedelta(seconds=rng.randrange(8 * 3600))


def _random_day(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=rng.randrange(max(1, (hi - lo).days + 1)))


def home_address(rng: random.Random, names: Names, kec: int) -> tuple[int, str, str, str]:
    """A place to live in district `kec`: (NO_KEL, street or dusun, RT, RW)."""
    kel = 1001 if kec in _KELURAHAN and rng.random() < 0.3 else 2001 + rng.randrange(_VILLAGES[kec])
    rt, rw = f"{rng.randint(1, 8):03d}", f"{rng.randint(1, 4):03d}"
    if kel < 2000:  # kelurahan: town streets; desa: hamlets
        return kel, f"{rng.choice(names.streets)} NO. {rng.randint(1, 120)}", rt, rw
    return kel, f"DUSUN {rng.choice(_ROMAN)}", rt, rw


def _occupation(rng: random.Random, age: int, sex: Sex, kec: int, relation: int) -> int:
    if age < 6:
        return 1
    if age < 19 or (age < 23 and rng.random() < 0.6):
        return 3
    if age >= 58 and rng.random() < 0.25:
        return 4
    if sex is Sex.P and relation != KEPALA and rng.random() < 0.6:
        return 2
    fishers = 0.35 if kec in _COASTAL else 0.03
    r = rng.random()
    if r < fishers:
        return rng.choice((11, 11, 21))
    return rng.choices((9, 20, 88, 8, 5, 18, 19, 15, 13, 14, 10, 6, 7),
                       (30, 8, 14, 8, 7, 7, 6, 5, 4, 4, 3, 2, 2))[0]  # fmt: skip


def generate_population(
    n_people: int, seed: int, today: dt.date | None = None, n_outsiders: int | None = None
) -> Population:
    """Generate n_people residents in families, their moves, and outsiders (default n/20)."""
    today = today or dt.date.today()
    rng = random.Random(seed)
    names = Names(seed)
    book = NumberBook()
    people: list[Person] = []
    families: list[Family] = []
    moves: list[Move] = []
    while len(people) < n_people:
        _family(rng, names, book, today, n_people - len(people), people, families, moves)
    count = n_outsiders if n_outsiders is not None else max(20, n_people // 20)
    outsiders = [_outsider(rng, names, book, today) for _ in range(count)]
    return Population(seed, today, people, families, moves, outsiders)


def _family(
    rng: random.Random,
    names: Names,
    book: NumberBook,
    today: dt.date,
    room: int,
    people: list[Person],
    families: list[Family],
    moves: list[Move],
) -> None:
    yesterday = today - dt.timedelta(days=1)  # generated history ends before today
    kec = rng.choices(list(_KEC_WEIGHT), list(_KEC_WEIGHT.values()))[0]
    kel, address, rt, rw = home_address(rng, names, kec)
    religion = rng.choices((1, 2, 3, 4), (960, 15, 5, 20))[0]
    origin = rng.random()  # < 0.08 moved within the regency, < 0.2 moved in from outside
    if origin < 0.08:
        other = rng.choice([k for k in KECAMATAN if k != kec])
        from_region, from_place = f"{MUNA_BARAT}{other:02d}", KECAMATAN[other]
    elif origin < 0.2:
        from_region, from_place = rng.choice(ORIGINS)
    else:
        from_region, from_place = "", ""

    head_age = rng.choices((22, 30, 40, 50, 60), (20, 28, 24, 16, 12))[0] + rng.randrange(10)
    shape = rng.choices(("couple_kids", "couple", "single_parent", "single"), (70, 10, 10, 10))[0]
    members: list[tuple[Sex, int, int, int]] = []  # sex, age, relation, marital
    if shape.startswith("couple"):
        members.append((Sex.L, head_age, KEPALA, KAWIN))
        members.append((Sex.P, max(18, head_age + rng.randint(-10, 3)), ISTRI, KAWIN))
        mother_age = members[-1][1]
    else:
        sex = Sex.L if rng.random() < 0.45 else Sex.P
        marital = BELUM_KAWIN if shape == "single" and head_age < 35 else rng.choice(
            (CERAI_HIDUP, CERAI_MATI))  # fmt: skip
        members.append((sex, head_age, KEPALA, marital))
        mother_age = head_age if sex is Sex.P else head_age - 3
    if shape in ("couple_kids", "single_parent"):
        oldest = min(mother_age - 18, 25)
        for _ in range(rng.choices(range(6), (6, 20, 30, 22, 13, 9))[0] if oldest >= 0 else 0):
            members.append((rng.choice((Sex.L, Sex.P)), rng.randint(0, oldest), ANAK, BELUM_KAWIN))
    if head_age < 50 and rng.random() < 0.05:
        members.append((Sex.P, rng.randint(head_age + 20, 90), ORANG_TUA, CERAI_MATI))
    members = members[:room]

    home = f"{MUNA_BARAT}{kec:02d}"
    if from_place == "BADUNG":
        religion = 4  # Balinese transmigrants
    head_born = add_years(today, -head_age) - dt.timedelta(days=rng.randrange(365))
    settled = _random_day(rng, max(add_years(head_born, 17), dt.date(1990, 1, 1)), yesterday)
    moved_on = settled if from_region else None
    kk_issued = _random_day(rng, max(settled, dt.date(2006, 1, 1)), yesterday)
    no_kk = book.take(home + kk_issued.strftime("%d%m%y"))
    family = Family(no_kk, "", address, rt, rw, kec, kel, office_time(rng, kk_issued))
    for sex, age, relation, marital in members:
        born = head_born if relation == KEPALA else (
            add_years(today, -age) - dt.timedelta(days=rng.randrange(365)))  # fmt: skip
        born = min(born, yesterday)
        came = moved_on is not None and born < moved_on
        region = from_region if came else home
        place = from_place if came else rng.choice((KECAMATAN[kec], "RAHA", KECAMATAN[kec]))
        nik = book.take(region + nik_date(born, sex))
        age_now = today.year - born.year
        # Last change in the registry: some day since birth (at most ~8 years back), before today.
        touched = office_time(
            rng, _random_day(rng, max(born, today - dt.timedelta(3000)), yesterday)
        )
        people.append(Person(
            nik, no_kk, names.person(rng, sex), sex, place, born, religion, marital, relation,
            _occupation(rng, age_now, sex, kec, relation), kec, kel, address,
            touched,
        ))  # fmt: skip
        family.members.append(nik)
        if came and moved_on is not None:
            moves.append(Move(
                f"{home}{moved_on:%Y%m%d}{len(moves) + 1:06d}", nik, no_kk, region,
                2001 + rng.randrange(8), kec, kel, moved_on, office_time(rng, moved_on),
            ))  # fmt: skip
    family.head_nik = family.members[0]
    families.append(family)


def _outsider(rng: random.Random, names: Names, book: NumberBook, today: dt.date) -> Person:
    region, place = rng.choice(ORIGINS)
    sex = rng.choice((Sex.L, Sex.P))
    born = add_years(today, -rng.randint(22, 62)) - dt.timedelta(days=rng.randrange(365))
    nik = book.take(region + nik_date(born, sex))
    kk = book.take(region + _random_day(rng, dt.date(2008, 1, 1), today).strftime("%d%m%y"))
    address = f"{rng.choice(names.streets)} NO. {rng.randint(1, 200)}, {place}"
    return Person(
        nik, kk, names.person(rng, sex), sex, place, born, 1, KAWIN, KEPALA,
        rng.choice((5, 8, 15, 88)), None, None, address, office_time(rng, today),
    )  # fmt: skip


def chunks(rows: list[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    """Rows in slices of `size`: executemany per slice keeps memory and statement size bounded."""
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
