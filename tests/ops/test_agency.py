"""`mpphub agency inspect | propose | check` against sample agency databases (SQLite files read
as a polling connector reads them): what the IT team sees, and the errors it gets."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from connectors.config import load_config
from ops.agency.check import check_mapping
from ops.agency.source import read_source
from ops.cli import main
from ops.samples import siak, sicantik
from ops.samples.people import generate_population
from streams.mappings import AGENCIES, map_change

TODAY = dt.date(2025, 8, 18)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Connector files of a sample SIAK and SiCantik in SQLite files."""
    d = tmp_path_factory.mktemp("agencies")
    population = generate_population(80, seed=3, today=TODAY)
    siak_db = sa.create_engine(f"sqlite:///{d / 'siak.db'}")
    siak.load_siak(siak_db, population)
    permits_db = sa.create_engine(f"sqlite:///{d / 'sicantik.db'}")
    sicantik.create_sicantik(permits_db, population, 60, seed=3, bad_nik_rate=0.3)
    out = {}
    for name, agency, tables in (("siak", "disdukcapil", siak.TABLES),
                                 ("sicantik", "dpmptsp", sicantik.TABLES)):  # fmt: skip
        lines = [f"agency: {agency}", "source:", "  mode: polling",
                 f"  url: sqlite:///{d / (name + '.db')}", "tables:"]  # fmt: skip
        for t in tables:
            key = "" if t.primary_key.columns else f", key: [{t.columns[0].name}]"
            lines.append(f"  - {{name: {t.name}{key}}}")
        out[name] = d / f"{name}.yaml"
        out[name].write_text("\n".join(lines) + "\n")
    return out


def _mapping(tmp_path: Path, agency: str, old: str = "", new: str = "") -> Path:
    text = AGENCIES[agency].file.read_text()
    if old:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / f"{agency}.yaml"
    path.write_text(text)
    return path


def _line_of(path: Path, text: str) -> int:
    return path.read_text()[: path.read_text().index(text)].count("\n") + 1


def test_check_on_a_good_mapping_shows_what_the_worker_maps(sources: dict[str, Path]) -> None:
    for name, agency in (("siak", "disdukcapil"), ("sicantik", "dpmptsp")):
        cfg = load_config(sources[name])
        report = check_mapping(AGENCIES[agency].file, cfg, limit=15)
        assert report.ok, report.problems
        assert report.unmapped == []
        for table in read_source(cfg, 15):
            # What normalize's map_change gives for the same rows as the connector carries them.
            expected = [e for row in table.sample for e in _worker_view(agency, table, row)]
            assert report.events[table.name] == expected
            assert report.rows[table.name] == min(15, table.row_count)
    result = CliRunner().invoke(main, ["agency", "check", str(AGENCIES["dpmptsp"].file),
                                       "-c", str(sources["sicantik"])])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tmpermohonan: 20 rows -> 20 events" in result.output


def _worker_view(agency: str, table: Any, row: dict[str, Any]) -> list[Any]:
    from ops.agency.source import as_decoded

    envelope, key = as_decoded(agency, table, row, 0)
    # The check numbers positions per row; the worker's are the connector's.
    events = map_change(envelope, key)
    n = table.sample.index(row)
    return [_with_position(e, f"check:{n}") for e in events]


def _with_position(event: Any, position: str) -> Any:
    import dataclasses

    return dataclasses.replace(event, source_position=position)


@pytest.mark.parametrize(
    ("old", "new", "key", "words", "at"),
    [
        ("name: n_perizinan", "name: nama_izin", "tables.trperizinan.fields.name",
         "no column nama_izin", "name: nama_izin"),
        ("finished_date: d_selesai_proses", "finished_date: pemohon_id",
         "tables.tmpermohonan.fields.finished_date", "is int: it cannot be a date",
         "finished_date: pemohon_id"),
        ("    9: REJECTED  # permohonan ditolak\n", "",
         "tables.trstspermohonan_log.fields.status", "unknown code 9",
         "status: {column: c_status"),
        ("    8: ISSUED  # izin terbit", "    8: TERBIT",
         "tables.trstspermohonan_log.fields.status.codes", "TERBIT: not a status",
         "status: {column: c_status"),
    ],
)  # fmt: skip
def test_check_on_a_wrong_mapping_names_file_line_key_and_exits_1(
    sources: dict[str, Path], tmp_path: Path, old: str, new: str, key: str, words: str, at: str
) -> None:
    path = _mapping(tmp_path, "dpmptsp", old, new)
    result = CliRunner().invoke(
        main, ["agency", "check", str(path), "-c", str(sources["sicantik"]), "--limit", "500"]
    )
    assert result.exit_code == 1
    m = re.search(rf"{re.escape(str(path))}:(\d+): {re.escape(key)}: .*{re.escape(words)}",
                  result.output)  # fmt: skip
    assert m, result.output
    assert int(m[1]) == _line_of(path, at)  # the line of the key in the file


def test_inspect_and_propose_a_first_mapping_that_checks(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["agency", "inspect", str(sources["siak"])])
    assert result.exit_code == 0, result.output
    assert re.search(r"BIODATA_WNI: 80 rows, key NIK", result.output)
    assert re.search(r"\bNIK\b.*\bnik\b", result.output)
    assert re.search(r"\bNO_KK\b.*\bkk\b", result.output)
    assert re.search(r"TGL_LHR.*date", result.output)
    assert "suggested timestamp_column: TGL_UBAH" in result.output
    out = tmp_path / "proposed.yaml"
    result = runner.invoke(main, ["agency", "propose", str(sources["siak"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "BIODATA_WNI:\n    emits: person" in text and "nik: NIK" in text
    assert "name: NAMA_LGKP" in text and "birth_date: TGL_LHR" in text
    assert "DATA_KELUARGA:\n    emits: person" in text  # NIK_KK: the head of the family
    report = check_mapping(out, load_config(sources["siak"]))
    assert report.ok, report.problems
    assert report.events["BIODATA_WNI"]


def test_a_mapping_of_another_agency_is_refused(sources: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        main, ["agency", "check", str(AGENCIES["dpmptsp"].file), "-c", str(sources["siak"])]
    )
    assert result.exit_code == 1
    assert re.search(r"dpmptsp.yaml:\d+: agency: the connector captures agency disdukcapil",
                     result.output)  # fmt: skip
