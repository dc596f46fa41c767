"""A BPJS Kesehatan membership export (peserta JKN) as the branch office sends it: a periodic
full CSV export, `;`-separated, no primary key (the card number NOKA identifies a member), birth
dates as dd-mm-yyyy text, sex as L/P, and the NIK often missing (`missing_rate`) or wrong
(`wrong_rate`: a typing error, two digits swapped, or the family card number typed instead).
Its mapping file is streams/mappings/agencies/bpjs.yaml; its connector reads the drop directory
(mode file, key NOKA).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path
from typing import Any

from .people import Person, Population
from .variants import nik_transposed, nik_typo, old_spelling, prefix_variant

AGENCY = "bpjs"
TABLE = "peserta_jkn"
KEY = ["NOKA"]
COLUMNS = [
    "NOKA", "NIK", "NAMA", "TGL_LAHIR", "JK", "ALAMAT", "JENIS_PESERTA", "KD_FASKES",
    "STATUS_PESERTA", "TGL_UPDATE",
]  # fmt: skip
JENIS_PESERTA = ("PBI APBN", "PBI APBD", "PPU", "PBPU", "BP")


def wrong_nik(p: Person, rng: random.Random) -> str:
    """The NIK as a clerk got it wrong."""
    r = rng.random()
    if r < 0.5:
        return nik_typo(p.nik, rng)
    if r < 0.8:
        return nik_transposed(p.nik, rng)
    return p.no_kk


def member_row(p: Person, number: int, rng: random.Random, missing: float, wrong: float) -> dict:
    """One export row of a member."""
    r = rng.random()
    nik = "" if r < missing else wrong_nik(p, rng) if r < missing + wrong else p.nik
    name = p.name
    if rng.random() < 0.3:
        name = prefix_variant(name, p.sex, rng) or old_spelling(name, rng) or name
    return {
        "NOKA": f"0001{number:09d}", "NIK": nik, "NAMA": name,
        "TGL_LAHIR": p.birth_date.strftime("%d-%m-%Y"), "JK": p.sex.value, "ALAMAT": p.address,
        "JENIS_PESERTA": rng.choice(JENIS_PESERTA), "KD_FASKES": f"1913{rng.randint(1, 12):04d}",
        "STATUS_PESERTA": "AKTIF" if rng.random() < 0.9 else "NONAKTIF",
        "TGL_UPDATE": (p.updated + dt.timedelta(days=rng.randint(0, 90))).strftime("%d-%m-%Y"),
    }  # fmt: skip


def member_rows(
    population: Population,
    seed: int,
    *,
    share: float = 0.6,
    missing_rate: float = 0.25,
    wrong_rate: float = 0.1,
) -> list[dict[str, Any]]:
    """Rows of the members: a `share` of the residents, in card number order."""
    rng = random.Random(seed)
    members = [p for p in population.people if rng.random() < share]
    return [member_row(p, i, rng, missing_rate, wrong_rate) for i, p in enumerate(members, 1)]


def export_text(rows: list[dict[str, Any]]) -> str:
    """The CSV text of an export (header, `;`, CRLF as the office's tool writes it)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_export(directory: Path, rows: list[dict[str, Any]], at: dt.datetime) -> Path:
    """Drop an export in the connector's directory, named to sort by export time, then its
    `.done` marker (the file is complete)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{TABLE}_{at:%Y%m%d_%H%M%S}.csv"
    path.write_text(export_text(rows), encoding="utf-8")
    path.with_name(path.name + ".done").touch()
    return path
