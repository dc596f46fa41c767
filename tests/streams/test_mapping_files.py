"""Mapping files: the agencies come from YAML files, not Python modules; a wrong file is refused
naming its file, line and key; a file checked against the Avro schemas its source registers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from connectors.shapes import TableShape
from domain.services import service
from ops.samples import siak, sicantik
from streams.canonical import PersonFact, ServiceEvent
from streams.mappings import (
    AGENCIES,
    AGENCIES_DIR,
    MAPPINGS,
    MappingError,
    MappingFileError,
    install_directory,
    load_file,
    map_change,
)
from streams.mappings.registry import unregister_agency
from streams.mappings.schema_check import check_registered, check_table, subject_of
from tests.streams.helpers import envelope

MAPPINGS_PACKAGE = Path(AGENCIES_DIR).parent


def test_the_agency_list_comes_from_the_mapping_files() -> None:
    files = {p.stem for p in AGENCIES_DIR.glob("*.yaml")}
    assert {"disdukcapil", "dpmptsp"} <= files
    assert {agency for agency, _ in MAPPINGS} == files == set(AGENCIES)
    for agency, loaded in AGENCIES.items():
        assert loaded.file == AGENCIES_DIR / f"{agency}.yaml"
        assert {t.lower() for t in loaded.decl.tables} == {t for a, t in MAPPINGS if a == agency}
    # No Python module of the mappings names an agency or registers a table.
    for module in MAPPINGS_PACKAGE.glob("*.py"):
        source = module.read_text()
        assert "@mapping(" not in source, module.name
        assert not re.search(r"disdukcapil|dpmptsp|pupr|bpjs", source, re.I), module.name
    assert {m.stem for m in MAPPINGS_PACKAGE.glob("*.py")} == TOOLKIT


TOOLKIT = {
    "__init__", "errors", "values", "change", "person", "checks", "plugins", "lines",
    "declaration", "build", "files", "registry", "schema_check",
}  # fmt: skip


def raw(table: str, op: str, row: dict[str, Any] | None, agency: str) -> dict[str, Any]:
    """A change envelope of a row as it is (no sample table's shape)."""
    return {
        "before": row if op == "d" else None,
        "after": None if op == "d" else row,
        "op": op,
        "ts_ms": 1_755_500_000_000,
        "source": {"agency": agency, "table": table, "position": "p", "ts_ms": None},
    }


def test_a_new_agency_is_a_new_file(tmp_path: Path) -> None:
    (tmp_path / "bapenda.yaml").write_text(BAPENDA)
    try:
        assert install_directory(tmp_path) == ["bapenda"]
        row = {"NPWPD": "P-1", "NIK": None, "NAMA": " Ani ", "TGL_LAHIR": "05/08/1990",
               "KELAMIN": "W"}  # fmt: skip
        change = raw("WAJIB_PAJAK", "c", row, "bapenda")
        (fact, finding) = map_change(change, None)
        assert isinstance(fact, PersonFact)
        assert (fact.source_record_id, fact.name, fact.sex) == ("P-1", "Ani", "P")
        assert fact.birth_date == dt.date(1990, 8, 5)
        assert finding.rule_code == "NIK_MISSING"
    finally:
        unregister_agency("bapenda")
        AGENCIES.pop("bapenda", None)


BAPENDA = """\
agency: bapenda
code_tables:
  KELAMIN: {PRIA: L, W: P}
tables:
  WAJIB_PAJAK:
    emits: person
    key: [NPWPD]
    fields:
      nik: NIK
      name: NAMA
      birth_date: {column: TGL_LAHIR, format: "%d/%m/%Y"}
      sex: {column: KELAMIN, codes: KELAMIN}
"""


def _error(text: str) -> MappingFileError:
    with pytest.raises(MappingFileError) as e:
        load_file("agencies/x.yaml", text)
    return e.value


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        ("agency: x\ntables:\n  T:\n    emits: person\n    fields:\n      nik: NIK\n"
         "      nama: NAMA\n", 7, "tables.T.fields.nama", "not a field of a person event"),
        ("agency: x\ntables:\n  T:\n    emits: permit_status\n    fields:\n"
         "      permit_id: {column: a, ref: '{id}'}\n      status: {column: s, codes: ST}\n",
         7, "tables.T.fields.status.codes", "no code table 'ST'"),
        ("agency: x\ncode_tables:\n  ST: {1: RECEIVED, 2: DONE}\ntables:\n  T:\n"
         "    emits: permit_status\n    fields:\n      permit_id: {column: a, ref: '{id}'}\n"
         "      status: {column: s, codes: ST}\n", 9, "tables.T.fields.status.codes",
         "DONE: not a status"),
        ("agency: x\ntables:\n  T:\n    emits: person\n    colums: [a]\n", 5, "tables.T.colums",
         "unknown key"),
        ("agency: x\ntables:\n  T:\n    emits: person\n    fields: {name: A}\n", 5,
         "tables.T.fields", "needs the field nik"),
        ("agency: x\ntables:\n  T:\n    emits: persons\n", 4, "tables.T.emits", "person"),
        ("agency: x\ntables:\n  T:\n    emits: nothing\n  T:\n    emits: person\n", 5,
         "tables.T", "written twice"),
        ("agency: x\ntables:\n  T:\n    emits: person\n    fields: {nik: N}\n    checks:\n"
         "      - {rule: kk, column: N}\n", 7, "tables.T.checks[0].rule", "unknown rule"),
        ("agency: x\ntables:\n  T: {emits: nothing, plugin: 'no_such_module:f'}\n", 3,
         "tables.T.plugin", "cannot be imported"),
        ("agency: x\ntables:\n  T: [emits\n", 4, "", "not valid YAML"),
        ("agency: X Y\ntables: {}\n", 1, "agency", "lower-case"),
    ],
)  # fmt: skip
def test_a_wrong_file_names_file_line_and_key(text: str, line: int, key: str, words: str) -> None:
    error = _error(text)
    assert (error.file, error.line, error.key) == ("agencies/x.yaml", line, key)
    assert words in str(error)
    assert str(error).startswith(f"agencies/x.yaml:{line}: ")


def test_a_table_plugin_maps_what_a_file_cannot_say() -> None:
    loaded = load_file(
        "x.yaml", f"agency: x\ntables:\n  T: {{emits: nothing, plugin: '{__name__}:plugin'}}\n"
    )
    from streams.mappings.files import mappers

    (fn,) = mappers(loaded).values()
    assert fn is plugin


def plugin(change: Any) -> list[Any]:
    return []


def test_strict_codes_are_dead_letters_lenient_codes_are_kept() -> None:
    (event,) = map_change(raw("trstspermohonan_log", "c", _status(c_status="3"), "dpmptsp"), None)
    assert event.status == "FILE_COMPLETE"  # a code written as text reads the same
    with pytest.raises(MappingError, match="column c_status: unknown code") as e:
        map_change(raw("trstspermohonan_log", "c", _status(c_status="tiga"), "dpmptsp"), None)
    assert "tiga" not in str(e.value).lower()  # a word is never echoed (it may be personal)


def _status(**over: Any) -> dict[str, Any]:
    return {"id": 1, "permohonan_id": 7, "c_status": 3, "d_status": None, "keterangan": None} | over


def test_a_service_without_an_active_column_is_active() -> None:
    row = {"id": 2, "n_perizinan": "x", "c_kode": "X", "durasi": 3, "n_unit_teknis": None}
    (event,) = map_change(envelope("trperizinan", "c", row), None)
    assert isinstance(event, ServiceEvent) and event.active is True


# --- against the registered Avro schemas -----------------------------------------------------


def _schemas(tables: Any) -> dict[str, Any]:
    return {t.name: TableShape.from_table(t).envelope_schema(f"mpp.{t.name}") for t in tables}


@pytest.mark.parametrize(("agency", "tables"), [("disdukcapil", siak.TABLES),
                                                 ("dpmptsp", sicantik.TABLES)])  # fmt: skip
def test_the_hub_mappings_fit_their_sample_sources(agency: str, tables: Any) -> None:
    loaded = AGENCIES[agency]
    schemas = _schemas(tables)
    assert set(loaded.decl.tables) == set(schemas)
    for table, schema in schemas.items():
        assert check_table(loaded, table, schema) == []


def _variant(old: str, new: str) -> Any:
    text = (AGENCIES_DIR / "dpmptsp.yaml").read_text()
    assert old in text
    text = text.replace(old, new, 1)
    line = text[: text.index(new)].count("\n") + 1
    return load_file("dpmptsp.yaml", text), line


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ("name: n_perizinan", "name: nama_izin", "tables.trperizinan.fields.name",
         "no column nama_izin in trperizinan"),
        ("received_date: d_terima_berkas", "received_date: pemohon_id",
         "tables.tmpermohonan.fields.received_date",
         "column pemohon_id is int: it cannot be a date"),
        ("  OUTCOME: {0: IN_PROCESS, 1: ISSUED", "  OUTCOME: {A: IN_PROCESS, 1: ISSUED",
         "tables.tmpermohonan.fields.outcome.codes", "holds numbers, the code table words"),
    ],
)  # fmt: skip
def test_a_mapping_that_does_not_fit_its_source_names_line_and_key(
    old: str, new: str, key: str, words: str
) -> None:
    loaded, line = _variant(old, new)
    table = key.split(".")[1]
    (problem,) = check_table(loaded, table, _schemas(sicantik.TABLES)[table])
    assert problem.key == key
    assert words in problem.message
    if "codes" not in key:
        assert problem.line == line


class _Registry:
    """Answers get_latest from a dict of subjects (SchemaNotFoundError for the others)."""

    def __init__(self, schemas: dict[str, Any]):
        self.schemas = schemas

    def get_latest(self, subject: str) -> Any:
        from schemas.registry import RegisteredSchema, SchemaNotFoundError

        if subject not in self.schemas:
            raise SchemaNotFoundError(subject, status=404)
        return RegisteredSchema(subject, 1, 1, self.schemas[subject])


def test_a_mapping_is_checked_against_what_its_source_registered() -> None:
    schemas = _schemas(sicantik.TABLES)
    registered = {
        subject_of("dpmptsp", t): schemas[t] for t in ("tmpemohon", "tmpermohonan", "trperizinan")
    }
    problems, missing = check_registered(_Registry(registered), AGENCIES["dpmptsp"])
    assert (problems, missing) == ([], ["trstspermohonan_log"])  # not captured yet: unchecked
    loaded, line = _variant("name: n_perizinan", "name: nama_izin")
    (problem,), _ = check_registered(_Registry(registered), loaded)
    assert (problem.file, problem.line) == ("dpmptsp.yaml", line)
    assert str(problem).startswith(f"dpmptsp.yaml:{line}: tables.trperizinan.fields.name: ")


def test_standard_fields_and_typed_code_tables(tmp_path: Path) -> None:
    """An SLA and unit from the MPP's service standard (for a system without them), and a code
    table onto a yes/no field: an unknown code says nothing (null), it is not kept as text."""
    loaded = load_file("x.yaml", STANDARD)
    from streams.mappings.change import RawChange
    from streams.mappings.files import mappers

    fns = mappers(loaded)
    (event,) = fns["JENIS"](
        RawChange.from_envelope(raw("JENIS", "r", {"ID": 1, "KODE": "pbg"}, "x"), None)
    )
    assert (event.sla_days, event.unit, event.code) == (28, service("PBG").unit, "pbg")
    (unknown,) = fns["JENIS"](
        RawChange.from_envelope(raw("JENIS", "r", {"ID": 2, "KODE": "ZZ"}, "x"), None)
    )
    assert (unknown.sla_days, unknown.unit) == (None, None)
    row = {"NOKA": "1", "NIK": None, "STATUS": "MENINGGAL"}
    (dead, _) = fns["PESERTA"](RawChange.from_envelope(raw("PESERTA", "r", row, "x"), None))
    (alive, _) = fns["PESERTA"](
        RawChange.from_envelope(raw("PESERTA", "r", row | {"STATUS": "AKTIF"}, "x"), None)
    )
    assert (dead.deceased, alive.deceased) == (True, None)
    assert "has no sla" in str(
        _error(
            STANDARD.replace(
                "{type: standard, column: KODE}\n",
                "{type: standard, column: KODE, attribute: sla}\n",
                1,
            )
        )
    )
    assert "MATI: not a boolean" in str(
        _error(STANDARD.replace("{MENINGGAL: true}", "{MENINGGAL: MATI}"))
    )


STANDARD = """\
agency: x
code_tables:
  STATUS: {MENINGGAL: true}
tables:
  JENIS:
    emits: service
    key: [ID]
    fields:
      code: KODE
      sla_days: {type: standard, column: KODE}
      unit: {type: standard, column: KODE}
  PESERTA:
    emits: person
    key: [NOKA]
    fields:
      nik: NIK
      deceased: {column: STATUS, codes: STATUS}
"""


def test_the_worker_reads_every_table_of_every_mapping_file_by_default() -> None:
    from streams.settings import DEFAULT_RAW_TOPICS, StreamSettings

    want = {f"mpp.{a}.{t.lower()}" for a, m in AGENCIES.items() for t in m.decl.tables}
    assert set(DEFAULT_RAW_TOPICS) == want == set(StreamSettings().raw_topics)
    assert {"mpp.pupr.riwayat_status", "mpp.bpjs.peserta_jkn"} <= want
