"""The pgoutput protocol, values, positions and the changes they make: plain data, no server."""

from __future__ import annotations

import datetime as dt
import decimal
import struct

import pytest

from connectors.postgres.pgoutput import (
    UNCHANGED,
    Begin,
    Column,
    Commit,
    LogicalMessage,
    MessageReader,
    Relation,
    Row,
    RowChange,
    Truncated,
    change_position,
    decode_value,
    format_lsn,
    messages,
    parse_lsn,
    parse_message,
    row_changes,
    row_images,
    truncate_changes,
)


def _tuple(*values: str | None) -> bytes:
    out = struct.pack("!h", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v == "u":
            out += b"u"
        else:
            out += b"t" + struct.pack("!i", len(v.encode())) + v.encode()
    return out


def _begin(final_lsn: int) -> bytes:
    return b"B" + struct.pack("!QqI", final_lsn, 0, 7)


def _commit(lsn: int, end: int) -> bytes:
    return b"C" + struct.pack("!BQQq", 0, lsn, end, 0)


def _relation(relid: int, name: str, columns: list[tuple[str, int, bool]]) -> bytes:
    out = b"R" + struct.pack("!I", relid) + b"public\0" + name.encode() + b"\0f"
    out += struct.pack("!h", len(columns))
    for col, oid, key in columns:
        out += struct.pack("!B", int(key)) + col.encode() + b"\0" + struct.pack("!Ii", oid, -1)
    return out


_PENDUDUK = Relation(
    5,
    "public",
    "penduduk",
    "f",
    (Column("id", 23, -1, True), Column("nama", 25, -1, False)),
)


def test_pgoutput_messages_are_parsed() -> None:
    begin = parse_message(b"B" + struct.pack("!QqI", 0x16B3748, 0, 7))
    assert begin == Begin(0x16B3748, 946_684_800_000, 7)
    commit = parse_message(b"C" + struct.pack("!BQQq", 0, 0x10, 0x40, 1_000_000))
    assert commit == Commit(0x10, 0x40, 946_684_801_000)
    update = parse_message(
        b"U" + struct.pack("!I", 5) + b"O" + _tuple("1", "a") + b"N" + _tuple("1", "u")
    )
    assert update == RowChange("U", 5, "O", ("1", "a"), ("1", UNCHANGED))
    delete = parse_message(b"D" + struct.pack("!I", 5) + b"K" + _tuple("1", None))
    assert delete == RowChange("D", 5, "K", ("1", None), None)
    assert parse_lsn("0/16B3748") == 0x16B3748 and format_lsn(0x1_0000_0010) == "1/10"


def test_an_unknown_message_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown message type 'Z'"):
        parse_message(b"Z")


def test_text_values_become_python_by_type_oid() -> None:
    assert decode_value("42", 23) == 42 and decode_value("t", 16) is True
    assert decode_value("12.50", 1700) == decimal.Decimal("12.50")
    assert decode_value("2024-02-29", 1082) == dt.date(2024, 2, 29)
    naive = decode_value("2024-02-29 10:11:12.5", 1114)
    assert naive == dt.datetime(2024, 2, 29, 10, 11, 12, 500000) and naive.tzinfo is None
    aware = decode_value("2024-02-29 03:11:12+00", 1184)
    assert aware == dt.datetime(2024, 2, 29, 3, 11, 12, tzinfo=dt.UTC) and aware.tzinfo
    assert decode_value("\\x0aff", 17) == b"\n\xff"
    # Out of Python's range: stays text, so that the row becomes a dead letter.
    assert decode_value("infinity", 1082) == "infinity"
    assert decode_value("{1,2}", 1007) == "{1,2}"


def test_positions_order_like_the_commits() -> None:
    ordered = [
        change_position(0xFF, 12),
        change_position(0x100, 1),
        change_position(0x100, 1, 1),
        change_position(0x100, 2),
        change_position(0x1_0000_0000, 1),
    ]
    assert ordered == sorted(ordered) and len(set(ordered)) == 5


def test_changes_are_numbered_within_their_transaction() -> None:
    rel = _relation(5, "penduduk", [("id", 23, True), ("nama", 25, False)])
    insert = b"I" + struct.pack("!I", 5) + b"N" + _tuple("1", "a")
    truncate = b"T" + struct.pack("!iBI", 1, 0, 5)
    heartbeat = b"M" + struct.pack("!BQ", 0, 0x90) + b"hb\0" + struct.pack("!i", 0)
    rows = [
        ("0/1", _begin(0x50)),
        ("0/2", rel),
        ("0/3", insert),
        ("0/4", truncate),
        ("0/5", insert),
        ("0/6", _commit(0x50, 0x60)),
        ("0/7", heartbeat),
        ("0/8", _begin(0x70)),
        ("0/9", insert),
    ]
    relations: dict[int, Relation] = {}
    out = list(messages(rows, relations))
    assert relations[5] == _PENDUDUK
    places = [(type(m).__name__, getattr(m, "index", None)) for m in out]
    assert places == [
        ("Begin", None),
        ("Relation", None),
        ("Row", 1),
        ("Truncated", 2),
        ("Row", 3),
        ("Commit", None),
        ("LogicalMessage", None),
        ("Begin", None),
        ("Row", 1),
    ]
    assert out[3] == Truncated(out[0], 2, (_PENDUDUK,))
    assert out[6] == LogicalMessage(False, 0x90, "hb", b"")


def test_a_transaction_cut_between_two_reads_of_the_stream_carries_over() -> None:
    # The replication protocol may hand a transaction over in pieces: its rows keep their
    # transaction and numbering, as if read in one piece.
    rel = _relation(5, "penduduk", [("id", 23, True), ("nama", 25, False)])
    insert = b"I" + struct.pack("!I", 5) + b"N" + _tuple("1", "a")
    stream = [_begin(0x50), rel, insert, insert, insert, _commit(0x50, 0x60)]
    whole = list(messages([(None, m) for m in stream], {}))
    reader = MessageReader({})
    pieces = [list(reader.read([(None, m)])) for m in stream]  # one message per read
    assert [m for piece in pieces for m in piece] == whole
    assert [m.index for m in whole if isinstance(m, Row)] == [1, 2, 3]
    assert {m.begin for m in whole if isinstance(m, Row)} == {whole[0]}


def test_a_change_of_an_unknown_relation_is_an_error() -> None:
    insert = b"I" + struct.pack("!I", 9) + b"N" + _tuple("1")
    with pytest.raises(ValueError, match="relation 9 before its Relation"):
        list(messages([("0/1", _begin(0x50)), ("0/2", insert)], {}))


def _row(kind: str, old_kind: str | None, old: tuple | None, new: tuple | None) -> Row:
    return Row(Begin(0x50, 1000, 7), 3, _PENDUDUK, RowChange(kind, 5, old_kind, old, new))


def _changes(row: Row) -> list[tuple]:
    old, new = row_images(row)
    return [
        (c.op, c.before, c.after, c.position, c.source_ts_ms)
        for c in row_changes("penduduk", row, old, new, ["id"])
    ]


def test_inserts_updates_and_deletes_become_changes() -> None:
    pos = change_position(0x50, 3)
    assert _changes(_row("I", None, None, ("1", "a"))) == [
        ("c", None, {"id": 1, "nama": "a"}, pos, 1000)
    ]
    full = _row("U", "O", ("1", "a"), ("1", "b"))
    assert _changes(full) == [("u", {"id": 1, "nama": "a"}, {"id": 1, "nama": "b"}, pos, 1000)]
    # The default replica identity: no old row, and a delete carries the key only.
    assert _changes(_row("U", None, None, ("1", "b")))[0][1] is None
    assert _changes(_row("D", "K", ("1", None), None)) == [("d", {"id": 1}, None, pos, 1000)]


def test_an_update_of_the_key_is_a_delete_then_a_create() -> None:
    for old_kind, old in (("O", ("1", "a")), ("K", ("1", None))):
        out = _changes(_row("U", old_kind, old, ("2", "a")))
        assert [(op, before, after) for op, before, after, _, _ in out] == [
            ("d", {"id": 1, "nama": "a"} if old_kind == "O" else {"id": 1}, None),
            ("c", None, {"id": 2, "nama": "a"}),
        ]
        assert out[0][3] < out[1][3] == change_position(0x50, 3, 1)


def test_unchanged_toasted_values_are_marked() -> None:
    _old, new = row_images(_row("U", None, None, ("1", UNCHANGED)))
    assert new == {"id": 1, "nama": UNCHANGED}  # the mode fills them in


def test_a_truncate_deletes_each_key_in_a_stable_order() -> None:
    truncated = Truncated(Begin(0x50, 1000, 7), 2, (_PENDUDUK,))
    out = truncate_changes("penduduk", truncated, ["id"], {(3,), (1,), (2,)})
    assert [(c.op, c.before, c.after) for c in out] == [
        ("d", {"id": 1}, None),
        ("d", {"id": 2}, None),
        ("d", {"id": 3}, None),
    ]
    assert [c.position for c in out] == [change_position(0x50, 2, n) for n in (1, 2, 3)]
