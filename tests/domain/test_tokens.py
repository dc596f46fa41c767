"""domain/tokens.py: keyed tokens are stable under one secret, differ across secrets and
purposes, and never contain the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.tokens import SecretError, Tokens, load_secret

NIK = "7413014501900001"


def test_tokens_are_stable_keyed_and_opaque() -> None:
    a, b = Tokens(b"a" * 32), Tokens(b"b" * 32)
    assert a.nik(NIK) == a.nik(f" {NIK} ")
    assert a.nik(NIK) != b.nik(NIK)  # another secret, another token: no dictionary attack
    assert a.nik(NIK).startswith("N") and len(a.nik(NIK)) == 27
    assert NIK not in a.nik(NIK) and NIK not in a.record("disdukcapil", "BIODATA_WNI", NIK)
    record = a.record("disdukcapil", "BIODATA_WNI", NIK)
    assert record == a.record("Disdukcapil", "biodata_wni", NIK)
    assert a.record("x", "t", "1") != a.record("x", "t", "2")
    assert "a" * 32 not in repr(a)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(SecretError):
        Tokens(b"short")


def test_load_secret_creates_once_and_refuses_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secret"
    first = load_secret(path, create=True)
    assert len(first) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_secret(path, create=True) == first
    (tmp_path / "bad").write_bytes(b"123")
    with pytest.raises(SecretError, match="bad"):
        load_secret(tmp_path / "bad")
    with pytest.raises(SecretError, match="missing"):
        load_secret(tmp_path / "missing")


def test_tokens_stay_the_ones_a_hub_already_keyed_its_records_and_people_with() -> None:
    """A token that changed would give every record a new Kafka key and every person a new id
    under the same secret (values made by the first implementation: HMAC-SHA256, base32)."""
    t = Tokens(b"0123456789abcdef0123456789abcdef")
    assert t.nik("7413034101900001") == "NQOWUFSQOT4D6PMX4LAEUELJJBZ"
    assert t.record("DISDUKCAPIL", "biodata_wni", "7413034101900001") == (
        "RRYVDOGL6MK7NRBAFLY2UIR44LZ"
    )
