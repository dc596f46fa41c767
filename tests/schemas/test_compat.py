"""Local compatibility reasons (pure): the words an operator reads when the registry refuses."""

from __future__ import annotations

from typing import Any

from schemas.compat import issues, reasons


def _record(*fields: dict[str, Any], name: str = "Penduduk") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "mpp.siak", "fields": list(fields)}


NIK = {"name": "nik", "type": "string"}
NAMA = {"name": "nama", "type": "string"}


def test_identical_schemas_are_compatible() -> None:
    assert reasons(_record(NIK, NAMA), [_record(NIK, NAMA)]) == []


def test_a_field_added_without_default_is_named() -> None:
    new = _record(NIK, NAMA, {"name": "no_kk", "type": "string"})
    assert reasons(new, [_record(NIK, NAMA)]) == ["field 'no_kk' added without a default"]


def test_a_nullable_field_with_default_may_be_added() -> None:
    new = _record(NIK, NAMA, {"name": "no_kk", "type": ["null", "string"], "default": None})
    assert reasons(new, [_record(NIK, NAMA)]) == []


def test_a_removed_field_is_backward_compatible_but_not_forward() -> None:
    old, new = _record(NIK, NAMA), _record(NIK)
    assert reasons(new, [old], "BACKWARD") == []
    assert reasons(new, [old], "FORWARD") == [
        "field 'nama' removed, and the old schema gives it no default"
    ]


def test_a_changed_type_names_both_types() -> None:
    new = _record(NIK, {"name": "nama", "type": "int"})
    assert reasons(new, [_record(NIK, NAMA)]) == ["field 'nama': type changed from string to int"]


def test_avro_promotions_are_compatible() -> None:
    old = _record({"name": "umur", "type": "int"})
    assert reasons(_record({"name": "umur", "type": "long"}), [old]) == []
    assert reasons(_record({"name": "umur", "type": "double"}), [old]) == []
    assert reasons(old, [_record({"name": "umur", "type": "long"})]) == [
        "field 'umur': type changed from long to int"
    ]


def test_making_a_field_nullable_is_compatible_and_the_reverse_is_not() -> None:
    nullable = _record({"name": "nama", "type": ["null", "string"], "default": None})
    assert reasons(nullable, [_record(NAMA)]) == []
    assert reasons(_record(NAMA), [nullable]) == [
        "field 'nama': type changed from union[null,string] to string"
    ]


def test_an_enum_symbol_removed_is_named_unless_the_enum_has_a_default() -> None:
    def status(symbols: list[str], **extra: Any) -> dict[str, Any]:
        enum = {"type": "enum", "name": "Status", "symbols": symbols, **extra}
        return _record({"name": "status", "type": enum})

    old = status(["AKTIF", "PINDAH", "MATI"])
    assert reasons(status(["AKTIF", "MATI"]), [old]) == [
        "field 'status': enum symbol PINDAH removed (and the enum has no default)"
    ]
    assert reasons(status(["AKTIF", "MATI"], default="AKTIF"), [old]) == []


def test_nested_records_report_the_field_path() -> None:
    def envelope(after_fields: list[dict[str, Any]]) -> dict[str, Any]:
        after = _record(*after_fields, name="Value")
        return _record({"name": "after", "type": ["null", after], "default": None}, name="Env")

    new = envelope([NIK, {"name": "nama", "type": "bytes"}, {"name": "rt", "type": "int"}])
    assert reasons(new, [envelope([NIK, NAMA])]) == ["field 'after.rt' added without a default"]
    # string -> bytes is one of the spec's promotions, so only rt is reported.


def test_transitive_levels_check_every_version_the_others_only_the_latest() -> None:
    v1 = _record({"name": "a", "type": "int"})
    v2 = _record()
    v3 = _record({"name": "a", "type": "string", "default": ""})
    assert reasons(v3, [v1, v2], "BACKWARD") == []
    assert reasons(v3, [v1, v2], "BACKWARD_TRANSITIVE") == [
        "field 'a': type changed from int to string"
    ]
    assert reasons(v3, [v1, v2], "NONE") == []


def test_renamed_record_without_alias_is_reported() -> None:
    old = _record(NIK, name="Penduduk")
    assert [i.kind for i in issues(_record(NIK, name="Warga"), old)] == ["name"]
    aliased = {**_record(NIK, name="Warga"), "aliases": ["Penduduk"]}
    assert issues(aliased, old) == []


def test_recursive_types_terminate() -> None:
    node = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"], "default": None}],
    }
    assert issues(node, node) == []
