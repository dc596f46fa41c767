"""The registry of mappings: which table maps where, and every row of the sample databases
maps and encodes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from domain.nik import check_nik, parse_sex
from ops.samples import siak, sicantik
from ops.samples.people import generate_population
from streams.canonical import DataQualityFinding, PersonFact
from streams.mappings import MAPPINGS, MappingError, map_change, mapping_for
from tests.streams.helpers import envelope
from tests.streams.rows import WOMAN, assert_encodes, biodata, only, run


def test_every_sample_table_has_a_mapping() -> None:
    tables = {(siak.AGENCY, t.name.lower()) for t in siak.TABLES}
    tables |= {(sicantik.AGENCY, t.name.lower()) for t in sicantik.TABLES}
    assert tables <= set(MAPPINGS)


def test_table_names_compare_case_insensitively() -> None:
    assert mapping_for("disdukcapil", "biodata_wni") is mapping_for("disdukcapil", "BIODATA_WNI")
    assert mapping_for("dpmptsp", "BIODATA_WNI") is None


def test_a_table_without_mapping_is_a_mapping_error() -> None:
    env = envelope("BIODATA_WNI", "c", biodata(), agency="bapenda")
    with pytest.raises(MappingError, match="no mapping for table BIODATA_WNI of agency bapenda"):
        map_change(env, {"NIK": WOMAN})


# --- every row of the sample databases ---------------------------------------------------------


@pytest.fixture(scope="module")
def samples() -> dict[str, list[dict[str, Any]]]:
    """Rows of a small generated SIAK and SiCantik (bad NIK rate raised to see findings)."""
    population = generate_population(120, seed=7, today=dt.date(2025, 8, 18))
    siak_db = sa.create_engine("sqlite://")
    siak.load_siak(siak_db, population)
    permits_db = sa.create_engine("sqlite://")
    sicantik.create_sicantik(permits_db, population, 150, seed=7, bad_nik_rate=0.3)
    rows: dict[str, list[dict[str, Any]]] = {}
    for engine, tables in ((siak_db, siak.TABLES), (permits_db, sicantik.TABLES)):
        with engine.connect() as conn:
            for t in tables:
                rows[t.name] = [dict(r) for r in conn.execute(sa.select(t)).mappings()]
    return rows


def test_every_sample_row_maps_and_encodes(samples: dict[str, list[dict[str, Any]]]) -> None:
    counts: dict[str, int] = {}
    for table, rows in samples.items():
        for i, row in enumerate(rows):
            events = run(table, "r", row, position=f"{table}-{i}")
            assert_encodes(events)
            for e in events:
                counts[type(e).__name__] = counts.get(type(e).__name__, 0) + 1
    people = len(samples["BIODATA_WNI"]) + len(samples["PINDAH_DATANG"])
    assert counts["PersonFact"] == people + len(samples["tmpemohon"])
    assert counts["PermitEvent"] == len(samples["tmpermohonan"]) + len(
        samples["trstspermohonan_log"]
    )
    assert counts["ServiceEvent"] == len(samples["trperizinan"])


def test_findings_are_exactly_the_sample_nik_errors(
    samples: dict[str, list[dict[str, Any]]],
) -> None:
    expected, found = 0, 0
    for table, nik_col, born_col, sex_col in (
        ("BIODATA_WNI", "NIK", "TGL_LHR", "JENIS_KLMIN"),
        ("tmpemohon", "no_identitas", "tgl_lahir", None),
    ):
        for row in samples[table]:
            check = check_nik(
                row[nik_col].strip(), row[born_col], parse_sex(row[sex_col]) if sex_col else None
            )
            expected += not check.ok
            events = run(table, "r", row)
            (fact,) = only(events, PersonFact)
            nik_findings = [f for f in only(events, DataQualityFinding) if f.field == nik_col]
            found += len(nik_findings)
            assert (fact.nik_status == "VALID") is check.ok
    assert expected > 0  # the sample has typing errors in applicants' NIKs
    assert found == expected
