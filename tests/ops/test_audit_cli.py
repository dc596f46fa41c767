"""`mpphub audit verify | reads` over an SQLite audit: one line naming the first bad entry, and a
citizen's reads found by NIK (read from standard input, never an argument) as CSV and PDF."""

from __future__ import annotations

import csv
import io
import zlib

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from domain.tokens import Tokens
from ops.cli import main
from projections.audit import Read, open_audit

SECRET = b"audit-cli-secret-0123456789abcdef"
NIK = "7413014508900001"
OTHER = "7413010101900003"


@pytest.fixture
def env(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    tokens = Tokens(SECRET)
    log = open_audit(url, tokens)
    for who, nik, person in (
        ("petugas1", NIK, "P1"),
        ("kabid", OTHER, "P2"),
        ("petugas2", NIK, "P1"),
    ):
        log.append(
            [
                Read(
                    who=who,
                    role="officer",
                    purpose="service_delivery",
                    action="citizen.lookup",
                    person_id=person,
                    person_token=tokens.nik(nik),
                    client="10.0.0.7",
                )
            ]
        )
    yield {"MPPHUB_SECRET_FILE": str(secret), "MPPHUB_AUDIT_DB_URL": url}, log
    log.close()


def run(env, *argv, input=None):
    return CliRunner().invoke(main, ["audit", *argv], env=env, input=input)


def test_verify_holds_then_names_the_edited_entry(env):
    variables, log = env
    ok = run(variables, "verify", "--no-kafka")
    assert ok.exit_code == 0 and "3 entries" in ok.output
    with log.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET client = '10.9.9.9' WHERE seq = 2"))
    bad = run(variables, "verify", "--no-kafka")
    assert bad.exit_code == 1
    assert "entry 2: its content does not match its hash (edited)" in bad.output


def test_verify_without_the_secret_names_the_variable(env, tmp_path):
    variables, _ = env
    r = run({**variables, "MPPHUB_SECRET_FILE": str(tmp_path / "none")}, "verify", "--no-kafka")
    assert r.exit_code == 1 and "MPPHUB_SECRET_FILE" in r.output


def test_reads_of_a_nik_as_csv_and_pdf(env, tmp_path):
    variables, _ = env
    out_csv, out_pdf = tmp_path / "reads.csv", tmp_path / "reads.pdf"
    r = run(variables, "reads", "--nik", "--csv", str(out_csv), "--pdf", str(out_pdf), input=NIK)
    assert r.exit_code == 0, r.output
    assert NIK not in r.output and "2 read(s) of 741301**********" in r.output
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [(x["seq"], x["who"], x["purpose"]) for x in rows] == [
        ("1", "petugas1", "service_delivery"),
        ("3", "petugas2", "service_delivery"),
    ]
    pdf = out_pdf.read_bytes()
    assert pdf.startswith(b"%PDF-")
    streams = [_inflate(m) for m in _streams(pdf)]
    assert any(b"petugas2" in s for s in streams) and not any(b"kabid" in s for s in streams)


def test_reads_by_person_id_and_a_missing_subject(env):
    variables, _ = env
    r = run(variables, "reads", "--person", "P2")
    assert r.exit_code == 0 and "1 read(s) of P2" in r.output and "kabid" in r.output
    assert run(variables, "reads").exit_code == 2  # a usage error: nobody named
    assert run(variables, "reads", "--nik", input="12345\n").exit_code == 2


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error:  # a stream stored as it is
        return data


def _streams(pdf: bytes) -> list[bytes]:
    out, at = [], 0
    while (start := pdf.find(b"stream\n", at)) != -1:
        end = pdf.find(b"endstream", start)
        out.append(pdf[start + 7 : end].rstrip(b"\r\n"))
        at = end
    return out


def test_an_audit_database_without_an_audit_is_named(env, tmp_path):
    variables, _ = env
    empty = {**variables, "MPPHUB_AUDIT_DB_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    r = run(empty, "verify", "--no-kafka")
    assert r.exit_code == 1 and "MPPHUB_AUDIT_DB_URL: no audit there" in r.output
