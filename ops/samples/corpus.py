"""A labelled corpus for identity resolution: the sample population as the civil registry holds
it, and the same people as other agencies record them, with the errors of real front offices
(ops/samples/variants.py). Every record knows its true person and the errors it carries, so an
evaluation can tell on which kind of record the resolver erred, not only how often.

The civil registry holds every resident with a valid NIK; each other agency holds a subset. Hard
negatives are added on purpose: twins (same KK and birth date, other names), namesakes (same
name, birth date and village, other people), and permit applicants from outside the regency.
Pure and reproducible: the same arguments give the same corpus.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from domain.matching import PersonRecord
from domain.nik import Sex
from domain.regions import MUNA_BARAT

from . import variants as v
from .agencies import AGENCIES, Agency
from .people import ANAK, Names, Person, add_years, generate_population, home_address, nik_date

REGISTRY = "disdukcapil"
ORDERS = ("interleaved", "registry-first")


@dataclass(frozen=True, slots=True)
class Labelled:
    """One record, its true person, its source time, and the errors or hard cases it carries."""

    record: PersonRecord
    truth: int
    ts_ms: int
    kinds: tuple[str, ...] = ()


# Name variations an agency record may carry (besides titles), with their relative weights.
_NAME_VARIANTS: tuple[tuple[str, float], ...] = (
    ("name_prefix", 3), ("name_typo", 3), ("name_single", 1.5), ("name_old_spelling", 1.5),
    ("name_muhammad", 1.5), ("name_order", 1),
)  # fmt: skip


@dataclass
class Corpus:
    """The records to resolve (in order), the index-only people resolved before them, and
    what the corpus holds (counts for the report)."""

    records: list[Labelled]
    preload: list[Labelled]
    summary: dict[str, object] = field(default_factory=dict)


def kelurahan_code(kec: int, kel: int) -> str:
    """The village code as the hub's mapping writes it (7413 + district + village)."""
    return f"{MUNA_BARAT}{kec:02d}{kel:04d}"


def postcode(kec: int) -> str:
    """A synthetic postcode per district."""
    return f"93{650 + kec}"


def make_corpus(
    n_people: int,
    *,
    agencies: int = 3,
    seed: int = 0,
    index_people: int = 0,
    order: str = "interleaved",
    today: dt.date | None = None,
) -> Corpus:
    """A labelled corpus of n_people residents over `agencies` agencies (the civil registry and
    agencies - 1 others), plus index_people registry-only residents to resolve first."""
    if not 1 <= agencies <= len(AGENCIES) + 1:
        raise ValueError(f"--agencies must be between 1 and {len(AGENCIES) + 1}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}")
    today = today or dt.date(2026, 5, 4)
    population = generate_population(n_people + index_people, seed, today)
    rng = random.Random(seed * 7919 + 1)
    names = Names(seed)
    people = [_devout(p, rng) for p in population.people[:n_people]]
    hard: dict[int, list[str]] = {}
    people += _hard_negatives(people, population.people, rng, names, hard)
    maker = _Maker(rng, names, today, people, population.outsiders)
    registry = [maker.registry(i, p, hard.get(i, ())) for i, p in enumerate(people)]
    preload = [
        maker.registry(len(people) + j, p, ("index",))
        for j, p in enumerate(population.people[n_people:])
    ]
    others: list[Labelled] = []
    for agency in AGENCIES[: agencies - 1]:
        others += maker.agency_records(agency, hard, first_outsider=len(people) + len(preload))
    if order == "interleaved":
        records = sorted(registry + others, key=_when)
    else:
        records = sorted(registry, key=_when) + sorted(others, key=_when)
    no_nik = sum(1 for r in others if "nik_valid" not in r.kinds)
    summary: dict[str, object] = {
        "people": len(people),
        "index_people": len(preload),
        "records": len(records),
        "records_by_agency": _count(r.record.source or "" for r in records),
        "non_registry_without_valid_nik": round(no_nik / len(others), 4) if others else None,
        "twins": sum(1 for k in hard.values() if "twin" in k) // 2,
        "namesakes": sum(1 for k in hard.values() if "namesake" in k) // 2,
        "order": order,
    }
    return Corpus(records, sorted(preload, key=_when), summary)


def _when(r: Labelled) -> tuple[int, str]:
    return r.ts_ms, r.record.record_id


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out


def _ms(at: dt.datetime) -> int:
    return int(at.replace(tzinfo=dt.UTC).timestamp() * 1000)


def _devout(p: Person, rng: random.Random) -> Person:
    """Muhammad, Achmad or Abdul before the given name of one man in six, as in Muna."""
    if p.sex is not Sex.L or rng.random() >= 1 / 6:
        return p
    prefix, rest = v.split_prefix(p.name)
    first = rng.choices(("MUHAMMAD", "ACHMAD", "AHMAD", "ABDUL"), (6, 1, 2, 2))[0]
    if first in rest:
        return p
    return dataclasses.replace(p, name=" ".join([prefix, first, *rest]).strip()[:60])


# --- hard negatives --------------------------------------------------------------------------


def _hard_negatives(
    people: list[Person],
    everyone: list[Person],
    rng: random.Random,
    names: Names,
    hard: dict[int, list[str]],
) -> list[Person]:
    """Twins of 1% of the children and namesakes of 0.5% of the residents, as new residents;
    `hard` gets the kinds of both sides (person index -> kinds)."""
    serials: dict[str, int] = {}
    for p in everyone:  # NIKs and KK numbers share the serials of a 12-digit prefix
        for number in (p.nik, p.no_kk):
            serials[number[:12]] = max(serials.get(number[:12], 0), int(number[12:]))

    def new_number(prefix: str) -> str:
        serials[prefix] = serials.get(prefix, 0) + 1
        return f"{prefix}{serials[prefix]:04d}"

    added: list[Person] = []
    children = [i for i, p in enumerate(people) if p.relation == ANAK]
    for i in rng.sample(children, max(1, len(children) // 100)) if children else []:
        child = people[i]
        sex = rng.choice((Sex.L, Sex.P))
        name = names.person(rng, sex)
        while name == child.name:
            name = names.person(rng, sex)
        nik = new_number(child.nik[:6] + nik_date(child.birth_date, sex))
        added.append(dataclasses.replace(child, nik=nik, name=name, sex=sex))
        _mark(hard, i, len(people) + len(added) - 1, "twin")
    for i in rng.sample(range(len(people)), max(1, len(people) // 200)) if people else []:
        p = people[i]
        if p.kec is None or p.kel is None:
            continue
        kel, address, _, _ = home_address(rng, names, p.kec)
        for _ in range(20):  # the same village, another household
            if kel == p.kel and address != p.address:
                break
            kel, address, _, _ = home_address(rng, names, p.kec)
        else:
            continue
        nik = new_number(p.nik[:12])
        kk = new_number(f"{MUNA_BARAT}{p.kec:02d}{p.updated:%d%m%y}")
        added.append(dataclasses.replace(p, nik=nik, no_kk=kk, address=address))
        _mark(hard, i, len(people) + len(added) - 1, "namesake")
    return added


def _mark(hard: dict[int, list[str]], a: int, b: int, kind: str) -> None:
    hard.setdefault(a, []).append(kind)
    hard.setdefault(b, []).append(kind)


# --- records ---------------------------------------------------------------------------------


class _Maker:
    """Makes the records of the corpus, with one rng in a fixed order (reproducible)."""

    def __init__(
        self,
        rng: random.Random,
        names: Names,
        today: dt.date,
        people: list[Person],
        outsiders: list[Person],
    ):
        self.rng, self.names, self.today = rng, names, today
        self.people, self.outsiders = people, outsiders
        self.adult_cutoff = add_years(today, -21)
        self.start = _ms(dt.datetime.combine(add_years(today, -6), dt.time()))
        self.end = _ms(dt.datetime.combine(today, dt.time()))
        self.by_kk: dict[str, list[int]] = {}
        for i, p in enumerate(people):
            self.by_kk.setdefault(p.no_kk, []).append(i)
        # Person-level facts other agencies ask for: a phone (most adults), a BPJS card.
        self.phones = [
            ("08" + "".join(rng.choice("0123456789") for _ in range(10)))
            if rng.random() < (0.7 if p.birth_date <= add_years(today, -17) else 0.1)
            else None
            for p in people
        ]
        self.bpjs = [
            f"000{rng.randrange(10**10):010d}" if rng.random() < 0.7 else None for p in people
        ]
        self.serial = 0

    def registry(self, truth: int, p: Person, kinds) -> Labelled:
        """The civil registry's record of a resident: every field right."""
        record = PersonRecord(
            record_id=f"{REGISTRY}:BIODATA_WNI:{truth}",
            name=p.name,
            birth_date=p.birth_date,
            sex=p.sex.value,
            birth_place=p.birth_place,
            address=p.address,
            kelurahan=kelurahan_code(p.kec, p.kel) if p.kec and p.kel else None,
            kecamatan=f"{MUNA_BARAT}{p.kec:02d}" if p.kec else None,
            postcode=postcode(p.kec) if p.kec else None,
            nik=p.nik,
            kk_number=p.no_kk,
            source=REGISTRY,
        )
        return Labelled(record, truth, _ms(p.updated), ("registry", *kinds))

    def agency_records(
        self, agency: Agency, hard: dict[int, list[str]], first_outsider: int
    ) -> list[Labelled]:
        """The records one agency holds: a share of the eligible residents (some twice), and
        outsiders for an agency that serves them."""
        rng = self.rng
        eligible = [
            i
            for i, p in enumerate(self.people)
            if not agency.adults_only or p.birth_date <= self.adult_cutoff
        ]
        chosen = rng.sample(eligible, round(len(eligible) * agency.share))
        out: list[Labelled] = []
        for i in chosen:
            copies = 2 if rng.random() < agency.duplicates else 1
            for copy in range(copies):
                kinds = [*hard.get(i, ()), *(["duplicate"] if copy else [])]
                out.append(self._record(agency, i, self.people[i], kinds))
        n_out = min(len(self.outsiders), round(len(chosen) * agency.outsiders))
        for j in rng.sample(range(len(self.outsiders)), n_out):
            out.append(self._record(agency, first_outsider + j, self.outsiders[j], ["outsider"]))
        return out

    def _record(self, agency: Agency, truth: int, p: Person, kinds: list[str]) -> Labelled:
        rng = self.rng
        local = truth < len(self.people)
        nik = self._nik(agency, truth, p, kinds)
        name = self._name(agency, p, kinds)
        born: dt.date | None = p.birth_date
        r = rng.random()
        if r < 0.04:
            swapped = v.day_month_swapped(p.birth_date)
            born = swapped or v.date_typo(p.birth_date, rng)
            kinds.append("date_swap" if swapped else "date_typo")
        elif r < 0.07:
            born = v.date_typo(p.birth_date, rng)
            kinds.append("date_typo")
        elif r < 0.09:
            born = None
            kinds.append("date_missing")
        kec, kel, address = p.kec, p.kel, p.address
        if kec is not None and rng.random() < 0.07:
            kel, address, _, _ = home_address(rng, self.names, kec)
            kinds.append("moved")
        if rng.random() >= agency.address:
            address = None
        elif rng.random() < 0.5:
            address = v.address_variant(address, rng)
            kinds.append("address_variant")
        where = kec is not None and kel is not None and rng.random() < agency.kelurahan
        phone = self.phones[truth] if local else None
        if phone and rng.random() < agency.phone:
            phone = v.phone_variant(phone, rng)
            kinds.append("phone")
        else:
            phone = None
        self.serial += 1
        record = PersonRecord(
            record_id=f"{agency.name}:{agency.table}:{self.serial}",
            name=name,
            birth_date=born,
            sex=p.sex.value if agency.sex else None,
            birth_place=p.birth_place.title()
            if p.birth_place and rng.random() < agency.birth_place
            else None,
            address=address,
            kelurahan=kelurahan_code(kec, kel) if where and kec and kel else None,
            kecamatan=f"{MUNA_BARAT}{kec:02d}" if where and kec else None,
            postcode=postcode(kec) if where and kec and rng.random() < 0.3 else None,
            nik=nik,
            kk_number=p.no_kk if rng.random() < agency.kk else None,
            phone=phone,
            other_id=self.bpjs[truth] if agency.bpjs and local else None,
            source=agency.name,
        )
        ts = self.start + rng.randrange(self.end - self.start)
        return Labelled(record, truth, ts, tuple(kinds))

    def _nik(self, agency: Agency, truth: int, p: Person, kinds: list[str]) -> str | None:
        rng = self.rng
        errors = agency.nik_errors
        kind = rng.choices(["nik_valid", *errors], [1 - sum(errors.values()), *errors.values()])[0]
        if kind == "nik_valid":
            kinds.append(kind)
            return p.nik
        wrong: dict[str, Callable[[], str | None]] = {
            "nik_typo": lambda: v.nik_typo(p.nik, rng),
            "nik_transposed": lambda: v.nik_transposed(p.nik, rng),
            "nik_truncated": lambda: v.nik_truncated(p.nik, rng),
            "nik_is_kk": lambda: p.no_kk,
            "nik_missing": lambda: None,
            "nik_of_relative": lambda: self._relative_nik(truth, p),
        }
        nik = wrong[kind]()
        if nik == p.nik:  # no relative to take a NIK from
            kinds.append("nik_valid")
        else:
            kinds.append(kind)
        return nik

    def _relative_nik(self, truth: int, p: Person) -> str:
        """A family member's NIK (a child recorded under the parent's NIK, say)."""
        family = [i for i in self.by_kk.get(p.no_kk, ()) if i != truth]
        return self.people[self.rng.choice(family)].nik if family else p.nik

    def _name(self, agency: Agency, p: Person, kinds: list[str]) -> str:
        rng = self.rng
        name = p.name
        rounds = 0 if rng.random() < 0.55 else 2 if rng.random() < 0.1 else 1
        for _ in range(rounds):
            for _attempt in range(4):
                kind = rng.choices(*zip(*_NAME_VARIANTS, strict=True))[0]
                varied = self._vary(kind, name, p)
                if varied and varied != name:
                    name = varied
                    kinds.append(kind)
                    break
        if p.birth_date <= add_years(self.today, -25) and rng.random() < agency.titles:
            name = v.with_title(name, p.sex, rng)
            kinds.append("name_haji" if name.startswith(("H. ", "HJ. ")) else "name_title")
        return name.title() if rng.random() < 0.3 else name

    def _vary(self, kind: str, name: str, p: Person) -> str | None:
        rng = self.rng
        if kind == "name_prefix":
            return v.prefix_variant(name, p.sex, rng)
        if kind == "name_typo":
            return v.typo(name, rng)
        if kind == "name_single":
            return v.single_word(name, rng)
        if kind == "name_old_spelling":  # on the documents of people born before 1975
            return v.old_spelling(name, rng) if p.birth_date.year < 1975 else None
        if kind == "name_muhammad":
            return v.muhammad_variant(name, rng)
        return v.word_order(name, rng)
