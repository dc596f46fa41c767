"""File drop capture: CSV/XLSX full exports diffed into change events (real Kafka + registry),
and which files are taken when, without I/O."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from connectors.config import ConfigError, parse_config
from connectors.files.mode import FileDropMode
from connectors.mode import ModeContext
from tests.connectors.harness import (
    InProcessConnector,
    SubprocessConnector,
    connector_config,
    dead_letters,
    read_topic,
    topic_size,
)
from tests.waiting import wait_until

COLUMNS = ["NIK", "NO_KARTU", "NAMA", "KELAS", "FASKES"]
FIRST = [
    ["7413014501900001", "0001", "Wa Ode Sitti", "1", "Puskesmas Lawa"],
    ["7413010702850002", "0002", "La Ode Hamid", "2", "Puskesmas Tiworo"],
    ["7413024112920003", "0003", "Nurhayati", "3", "Puskesmas Barangka"],
    ["7413031003780004", "0004", "Muhammad Rizal", "3", "Puskesmas Lawa"],
]
# Hamid changes class, Nurhayati leaves, Andi joins.
SECOND = [
    FIRST[0],
    ["7413010702850002", "0002", "La Ode Hamid", "1", "Puskesmas Tiworo"],
    FIRST[3],
    ["7413052208000005", "0005", "Andi Saputra", "3", "Puskesmas Maginti"],
]
FAST = {"poll_interval_s": 0.2}


def _csv(rows: list[list[str]], header=COLUMNS, sep: str = ",", bom: bool = False) -> bytes:
    text = "\r\n".join(sep.join(r) for r in [header, *rows]) + "\r\n"
    return (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")


def _drop(directory: Path, name: str, data: bytes) -> None:
    """Write an export the way an uploader should: the file, then its `.done` marker."""
    (directory / name).write_bytes(data)
    (directory / f"{name}.done").touch()


def _expected(rows: list[list[str]], header=COLUMNS, key: str = "NIK") -> dict[tuple, dict]:
    return {(r[header.index(key)],): dict(zip(header, r, strict=True)) for r in rows}


def _config(stack, tmp_path: Path, table: str = "peserta_jkn", **source) -> tuple[dict, Path]:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    tables = [{"name": table, "key": ["NIK"]}]
    return connector_config(stack, "file", tables, directory=str(drop), **FAST, **source), drop


def _topic(cfg: dict, table: str = "peserta_jkn") -> str:
    return f"mpp.{cfg['agency']}.{table}"


def _values(stack, topic: str) -> list[dict]:
    """Every envelope of a topic (tombstones left out), in source position order."""
    values = [e.value for e in read_topic(stack, topic).events if e.value is not None]
    return sorted(values, key=lambda v: v["source"]["position"])


def _wait_folded(stack, topic: str, expected: dict, what: str) -> None:
    def same() -> bool:
        folded = read_topic(stack, topic).fold(["NIK"])
        assert folded == expected, f"{len(folded)} keys in topic, {len(expected)} expected"
        return True

    wait_until(same, 30, what)


# --- against the real stack ----------------------------------------------------------------------
@pytest.mark.integration
def test_first_export_is_a_snapshot_and_the_next_one_a_diff(stack, tmp_path: Path) -> None:
    archive = tmp_path / "arsip"
    cfg, drop = _config(stack, tmp_path, archive_directory=str(archive))
    topic = _topic(cfg)
    with InProcessConnector(cfg) as conn:
        # No marker: read once its size stays the same across two polls.
        (drop / "peserta_jkn_20240101.csv").write_bytes(_csv(FIRST))
        _wait_folded(stack, topic, _expected(FIRST), "the first export")
        assert {v["op"] for v in _values(stack, topic)} == {"r"}
        assert all(v["source"]["snapshot"] for v in _values(stack, topic))
        _drop(drop, "peserta_jkn_20240201.csv", _csv(SECOND))
        _wait_folded(stack, topic, _expected(SECOND), "the second export")
        wait_until(lambda: not list(drop.iterdir()), 10, "processed files archived")
        conn.check()
    assert sorted(p.name for p in archive.iterdir()) == [
        "peserta_jkn_20240101.csv",
        "peserta_jkn_20240201.csv",
        "peserta_jkn_20240201.csv.done",
    ]
    log = read_topic(stack, topic)
    values = _values(stack, topic)
    changes = [v for v in values if v["op"] != "r"]
    assert [v["op"] for v in changes] == ["u", "c", "d"]
    update, create, delete = changes
    assert update["before"]["KELAS"] == "2" and update["after"]["KELAS"] == "1"
    assert create["after"]["NAMA"] == "Andi Saputra" and create["before"] is None
    assert delete["before"] == dict(zip(COLUMNS, FIRST[2], strict=True))
    assert [e.key["NIK"] for e in log.events if e.value is None] == [FIRST[2][0]]
    assert update["source"]["position"].endswith("peserta_jkn_20240201.csv:000000003")
    assert [v["op"] for v in values] == ["r"] * 4 + ["u", "c", "d"]
    assert not any(v["source"]["snapshot"] for v in changes)


@pytest.mark.integration
def test_xlsx_exports_and_a_changed_header(stack, tmp_path: Path) -> None:
    cfg, drop = _config(stack, tmp_path, table="skck")
    topic = _topic(cfg, "skck")

    def xlsx(name: str, header: list[str], rows: list[list]) -> None:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "SKCK"
        ws.append(["DATA SKCK POLRES MUNA BARAT"])  # a title row above the header
        ws.append(header)
        for r in rows:
            ws.append(r)
        wb.save(drop / name)
        (drop / f"{name}.done").touch()

    with InProcessConnector(cfg) as conn:
        xlsx(
            "SKCK_2024-01.xlsx",
            ["NIK", "NAMA", "TGL_TERBIT", "KEPERLUAN"],
            [
                ["7413014501900001", "Wa Ode Sitti", dt.date(2024, 1, 5), "Melamar kerja"],
                ["7413010702850002", "La Ode Hamid", dt.datetime(2024, 1, 6, 9, 30), "CPNS"],
                [7413024112920003, "Nurhayati", None, "Melamar kerja"],
            ],
        )
        _wait_folded(
            stack,
            topic,
            {
                ("7413014501900001",): {
                    "NIK": "7413014501900001",
                    "NAMA": "Wa Ode Sitti",
                    "TGL_TERBIT": "2024-01-05",
                    "KEPERLUAN": "Melamar kerja",
                },
                ("7413010702850002",): {
                    "NIK": "7413010702850002",
                    "NAMA": "La Ode Hamid",
                    "TGL_TERBIT": "2024-01-06T09:30:00",
                    "KEPERLUAN": "CPNS",
                },
                ("7413024112920003",): {
                    "NIK": "7413024112920003",
                    "NAMA": "Nurhayati",
                    "TGL_TERBIT": None,
                    "KEPERLUAN": "Melamar kerja",
                },
            },
            "the first workbook",
        )
        # KEPERLUAN gone, NO_SKCK new: the column stays (null), the new one evolves the schema.
        xlsx(
            "SKCK_2024-02.xlsx",
            ["nik", "NAMA", "TGL_TERBIT", "NO_SKCK"],
            [
                ["7413014501900001", "Wa Ode Sitti", dt.date(2024, 1, 5), "SKCK/001/I/2024"],
                ["7413010702850002", "La Ode Hamid", dt.datetime(2024, 1, 6, 9, 30), None],
            ],
        )
        _wait_folded(
            stack,
            topic,
            {
                ("7413014501900001",): {
                    "NIK": "7413014501900001",
                    "NAMA": "Wa Ode Sitti",
                    "TGL_TERBIT": "2024-01-05",
                    "KEPERLUAN": None,
                    "NO_SKCK": "SKCK/001/I/2024",
                },
                ("7413010702850002",): {
                    "NIK": "7413010702850002",
                    "NAMA": "La Ode Hamid",
                    "TGL_TERBIT": "2024-01-06T09:30:00",
                    "KEPERLUAN": None,
                    "NO_SKCK": None,
                },
            },
            "the second workbook",
        )
        conn.check()
        assert not conn.connector.paused
    ops = [v["op"] for v in _values(stack, topic)]
    assert ops == ["r", "r", "r", "u", "u", "d"]


@pytest.mark.integration
def test_semicolon_csv_with_bom(stack, tmp_path: Path) -> None:
    cfg, drop = _config(stack, tmp_path)
    rows = [r[:4] + [r[4].replace("Puskesmas", "Pusk. Lawa, Kab. Muna Barat;")] for r in FIRST[:2]]
    quoted = [r[:4] + [f'"{r[4]}"'] for r in rows]
    with InProcessConnector(cfg) as conn:
        _drop(drop, "PESERTA_JKN.CSV", _csv(quoted, sep=";", bom=True))
        _wait_folded(stack, _topic(cfg), _expected(rows), "the ';' export")
        conn.check()


@pytest.mark.integration
def test_bad_rows_go_to_the_dead_letter_topic_and_the_others_on(stack, tmp_path: Path) -> None:
    cfg, drop = _config(stack, tmp_path)
    good = [FIRST[0], ["7413010702850002", "0002", "Ld. Hamid – Muna", "2", "Puskesmas Tiworo"]]
    data = (
        _csv(good, bom=True)
        + b"7413024112920003,0003,Nurhay\xe1ti,3,Puskesmas Barangka\r\n"  # latin-1 in UTF-8
        + b",0009,Tanpa NIK,3,Puskesmas Lawa\r\n"
    )
    with InProcessConnector(cfg) as conn:
        _drop(drop, "peserta_jkn_1.csv", data)
        _wait_folded(stack, _topic(cfg), _expected(good), "the good rows")
        letters: list[dict] = []

        def two_letters() -> bool:
            letters[:] = dead_letters(stack, cfg["agency"])
            return len(letters) == 2

        wait_until(two_letters, 30, "two dead letters")
        # Capture goes on: the next export is published.
        _drop(drop, "peserta_jkn_2.csv", _csv(FIRST[:1]))
        _wait_folded(stack, _topic(cfg), _expected(FIRST[:1]), "the next export")
        conn.check()
    bad_bytes, no_key = sorted(letters, key=lambda x: x["position"])
    assert bad_bytes["table"] == "peserta_jkn"
    assert bad_bytes["position"].endswith("peserta_jkn_1.csv:000000004")
    assert "NAMA" in bad_bytes["reason"] and "0xe1" in bad_bytes["reason"]
    assert bad_bytes["row"]["after"]["NAMA"] == "Nurhay\\xe1ti"
    assert no_key["position"].endswith("peserta_jkn_1.csv:000000005")
    assert "NIK" in no_key["reason"] and "null" in no_key["reason"]


@pytest.mark.integration
def test_a_restart_does_not_publish_a_done_file_again(stack, tmp_path: Path) -> None:
    cfg, drop = _config(stack, tmp_path)
    topic = _topic(cfg)
    with InProcessConnector(cfg):
        _drop(drop, "peserta_jkn_1.csv", _csv(FIRST))
        _drop(drop, "peserta_jkn_2.csv", _csv(SECOND))
        _wait_folded(stack, topic, _expected(SECOND), "both exports")
    assert len(read_topic(stack, topic).events) == 4 + 3 + 1  # r*4, u c d, a tombstone
    # Same config, files still there: nothing again. A new export is diffed against the second.
    third = [SECOND[0], SECOND[1], ["7413031003780004", "0004", "Muhammad Rizal", "3", "RSUD"]]
    with InProcessConnector(cfg) as conn:
        _drop(drop, "peserta_jkn_3.csv", _csv(third))
        _wait_folded(stack, topic, _expected(third), "the third export")
        conn.check()
    log = read_topic(stack, topic)
    ops = [e.value and e.value["op"] for e in log.events]
    assert len(log.events) == 8 + 2 + 1, f"{ops}: a done file was published again"
    update, delete = [
        v for v in _values(stack, topic) if v["source"]["position"][:9] == "000000003"
    ]
    assert (update["op"], update["before"]["FASKES"], update["after"]["FASKES"]) == (
        "u",
        "Puskesmas Lawa",
        "RSUD",
    )
    assert (delete["op"], delete["before"]["NAMA"]) == ("d", "Andi Saputra")


@pytest.mark.integration
def test_a_file_half_published_when_killed_is_taken_again(stack, tmp_path: Path) -> None:
    cfg, drop = _config(stack, tmp_path)
    cfg["batch_size"] = 100
    topic = _topic(cfg)
    rows = [[f"74130101019{i:05d}", f"{i:05d}", f"Warga {i}", "3", "Lawa"] for i in range(20000)]
    _drop(drop, "peserta_jkn_1.csv", _csv(rows))
    proc = SubprocessConnector(cfg, tmp_path)
    proc.start()
    try:
        wait_until(lambda: 0 < topic_size(stack, topic), 60, "the export half-way")
        proc.kill9()
        assert topic_size(stack, topic) < len(rows), "killed too late to test anything"
        proc.start()
        wait_until(lambda: topic_size(stack, topic) >= len(rows), 60, "the rest of the export")
        assert proc.alive(), proc.output()[-2000:]
    finally:
        proc.stop()
    log = read_topic(stack, topic)
    assert log.fold(["NIK"]) == _expected(rows)
    values = [e.value for e in log.events if e.value is not None]
    # Only what the topic lacked was sent again: at most the batch in flight at the kill.
    assert len(rows) <= len(values) <= len(rows) + 100
    assert {v["op"] for v in values} == {"r"}
    assert len({v["source"]["position"] for v in values}) == len(rows)


# --- without the stack ---------------------------------------------------------------------------
def test_file_mode_needs_key_columns() -> None:
    cfg = parse_config(
        {
            "agency": "bpjs",
            "source": {"mode": "file", "directory": "/tmp"},
            "tables": [{"name": "peserta_jkn"}],
        }
    )
    with pytest.raises(ConfigError, match=r"tables\.peserta_jkn\.key"):
        FileDropMode(ModeContext(cfg, None, {}, {}))


def test_which_files_are_taken_and_when(tmp_path: Path) -> None:
    tables = [{"name": "skck", "key": ["NIK"]}, {"name": "skck_online", "key": ["NIK"]}]
    cfg = parse_config(
        {
            "agency": "polres",
            "source": {"mode": "file", "directory": str(tmp_path)},
            "tables": tables,
        }
    )
    mode = FileDropMode(ModeContext(cfg, None, {}, {}))
    for name in ("skck_1.csv", "skck_2.csv", "skck_online_1.csv", "catatan.txt", "~$skck_4.xlsx"):
        (tmp_path / name).write_bytes(_csv(FIRST))
    _drop(tmp_path, "SKCK_3.XLSX", b"PK")  # a marker says complete at once
    st = (tmp_path / "skck_1.csv").stat()
    done = {"name": "skck_1.csv", "mtime_ns": st.st_mtime_ns, "size": st.st_size, "sha256": ""}
    offset = {"files": {"skck": done}}

    def todo(table: str = "skck") -> list[str]:
        return [f.path.name for f in mode._todo(table, offset)]

    assert todo() == []  # skck_2.csv may still be growing, and nothing goes past it
    assert todo() == ["skck_2.csv", "SKCK_3.XLSX"]  # same size and mtime on the second look
    assert todo("skck_online") == []
    assert todo("skck_online") == ["skck_online_1.csv"]


# --- helpers -------------------------------------------------------------------------------------
