"""Reading agency exports (encodings, delimiters, header, bad rows) and the diff: pure, no I/O."""

from __future__ import annotations

import codecs

import pytest

from connectors.files.exports import (
    Export,
    FileRejected,
    Unencodable,
    decode_text,
    diff_export,
    read_csv,
    sniff_delimiter,
)
from connectors.shapes import TableShape


def test_encodings_and_delimiters() -> None:
    assert decode_text(codecs.BOM_UTF8 + b"NIK;NAMA") == ("NIK;NAMA", "utf-8")
    assert decode_text("NIK\tNAMA".encode("utf-16")) == ("NIK\tNAMA", "utf-16")
    assert decode_text(b"NAMA\nJos\xe9") == ("NAMA\nJosé", "cp1252")  # no UTF-8 anywhere
    text, enc = decode_text("Rénaldi\nJos\xe9".encode() + b"\xe9")
    assert enc == "utf-8" and text.endswith("\udce9")
    lines = ["NIK;NAMA;ALAMAT", '1;"Sitti";Jl. Poros, Lawa', "2;Hamid;Jl. A, B, C"]
    assert sniff_delimiter(lines) == ";"
    assert sniff_delimiter(["NIK;NAMA;ALAMAT", "1;Sitti;Jl. Poros, Lawa"]) == ";"
    assert sniff_delimiter(["NIK,NAMA", "1,Sitti"]) == ","


def test_reading_a_csv_export() -> None:
    data = (
        b"Laporan peserta\r\n\r\n nik ,Nama,,\r\n"
        b"7413,  Sitti ,,\r\n\r\n7414,Hamid,x\r\n7415,Ode,,,extra\r\n,Kosong\r\n7416,Jos\xe9\r\n"
        + "7417,Rénaldi\r\n".encode()
    )
    export = read_csv(data, ["NIK"], known=["NAMA"])
    assert export.columns == ["NIK", "NAMA"] and export.ignored_cells == 1
    rows = dict(export.rows)
    assert rows[4] == {"NIK": "7413", "NAMA": "Sitti"}
    assert rows[6] == {"NIK": "7414", "NAMA": "Hamid"}
    assert isinstance(rows[7]["NAMA"], Unencodable) and "beyond" in rows[7]["NAMA"].reason
    assert rows[8] == {"NIK": None, "NAMA": "Kosong"}
    assert isinstance(rows[9]["NAMA"], Unencodable) and "0xe9" in rows[9]["NAMA"].reason
    with pytest.raises(FileRejected, match="NIK"):
        read_csv(b"NAMA,ALAMAT\r\nSitti,Lawa\r\n", ["NIK"], [])


def test_the_diff() -> None:
    shape = TableShape.text_columns("t", ["NIK", "NAMA", "BARU"], ["NIK"])
    base = {("1",): {"NIK": "1", "NAMA": "a"}, ("2",): {"NIK": "2", "NAMA": "b"}}
    base[("3",)] = {"NIK": "3", "NAMA": "c"}
    bad = Unencodable(b"\xff", "utf-8", "bad")
    export = Export(
        ["NIK", "NAMA"],
        [
            (2, {"NIK": "1", "NAMA": "a"}),
            (3, {"NIK": "2", "NAMA": "B"}),
            (4, {"NIK": "3", "NAMA": bad}),
            (5, {"NIK": "4", "NAMA": "d"}),
            (6, {"NIK": "4", "NAMA": "e"}),
            (7, {"NIK": None, "NAMA": "f"}),
        ],
    )
    changes, new_base = diff_export(shape, base, export, "000000001:t.csv", 5)
    assert [(c.op, c.position[-2:]) for c in changes] == [
        ("u", "03"),
        ("u", "04"),  # dead letter: the published row stays the baseline
        ("c", "06"),  # the last row of a repeated key
        ("c", "07"),  # dead letter: no key
    ]
    assert changes[0].before == {"NIK": "2", "NAMA": "b", "BARU": None}
    assert set(new_base) == {("1",), ("2",), ("3",), ("4",)}
    assert new_base[("3",)] == base[("3",)]
    changes, _ = diff_export(shape, new_base, Export(["NIK"], [(2, {"NIK": "1"})]), "2:t.csv")
    assert [(c.op, c.position) for c in changes] == [
        ("u", "2:t.csv:000000002"),
        ("d", "2:t.csv:deleted-000000001"),
        ("d", "2:t.csv:deleted-000000002"),
        ("d", "2:t.csv:deleted-000000003"),
    ]
