"""`mpphub identity match` and `eval`: JSON lines through the real command (a subprocess of
.venv/bin/mpphub, the worker's resolver, no Kafka), bad lines, re-emission after a merge, and a
small evaluation whose JSON carries every figure with a sane value."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ops.evaluation import EvalOptions, evaluate
from ops.identity import LineError, match, new_resolver, parse_record

MPPHUB = Path(sys.executable).with_name("mpphub")
NIK = "7413014508900001"
REGISTRY = {
    "record_id": "siak-1", "name": "WA ODE SITTI", "birth_date": "1990-08-05", "sex": "P",
    "birth_place": "LAWORO", "address": "DUSUN II", "kelurahan": "7413012001",
    "kecamatan": "741301", "nik": NIK, "kk_number": "7413010101100001",
    "source": "disdukcapil",
}  # fmt: skip


def mpphub(*args: str, lines: list[dict | str] = (), check: bool = True):
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    done = subprocess.run(
        [str(MPPHUB), *args], input=text, capture_output=True, text=True, timeout=120
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def persons(stdout: str) -> dict[str, str]:
    """record id -> its person id as last written."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        row = json.loads(line)
        out[row["record_id"]] = row["person_id"]
    return out


def test_help_on_every_identity_command() -> None:
    for args in (["identity"], ["identity", "match"], ["identity", "eval"]):
        done = mpphub(*args, "--help")
        assert "Usage: mpphub identity" in done.stdout
    assert "--secret-file" in mpphub("identity", "match", "--help").stdout
    assert "--index-people" in mpphub("identity", "eval", "--help").stdout


def test_a_nik_typo_in_the_permits_system_joins_the_registry_person() -> None:
    typo = NIK[:10] + "7" + NIK[11:]  # one digit wrong
    applicant = {
        "record_id": "dpmptsp-42", "name": "Hj. Wa Ode Sitti", "birth_date": "1990-08-05",
        "address": "Dsn. 2, Kec. Barangka", "nik": typo, "phone": "081234567890",
        "source": "dpmptsp",
    }  # fmt: skip
    done = mpphub("identity", "match", lines=[REGISTRY, applicant])
    ids = persons(done.stdout)
    assert ids["siak-1"] == ids["dpmptsp-42"]
    assert ids["siak-1"].startswith("P") and len(ids["siak-1"]) == 27
    assert NIK not in done.stderr and typo not in done.stderr


def test_namesakes_in_one_kelurahan_stay_apart() -> None:
    other = REGISTRY | {
        "record_id": "siak-2", "nik": "7413014508900002", "kk_number": "7413010202150003",
        "address": "DUSUN IV",
    }  # fmt: skip
    ids = persons(mpphub("identity", "match", lines=[REGISTRY, other]).stdout)
    assert ids["siak-1"] != ids["siak-2"]


def test_a_merge_writes_the_earlier_record_again_with_the_surviving_id() -> None:
    # A clinic record without NIK and one without a name found two persons; the registry's
    # record carries both their evidence and joins them: one of the two ids survives.
    clinic = {
        "record_id": "pkm-1", "name": "WA ODE SITTI", "birth_date": "1990-08-05", "sex": "P",
        "kelurahan": "7413012001", "address": "DUSUN II", "phone": "081234567890",
    }  # fmt: skip
    social = {
        "record_id": "dtks-1", "birth_date": "1990-08-05", "sex": "P", "nik": NIK,
        "kk_number": "7413010101100001",
    }  # fmt: skip
    registry = REGISTRY | {"phone": "081234567890"}
    done = mpphub("identity", "match", lines=[clinic, social, registry])
    rows = [json.loads(x) for x in done.stdout.splitlines()]
    first = {r["record_id"]: r["person_id"] for r in reversed(rows)}  # as first written
    last = persons(done.stdout)
    assert first["pkm-1"] != first["dtks-1"]  # two persons before the registry record
    assert len(set(last.values())) == 1  # one after it
    survivor = last["siak-1"]
    assert survivor == first["pkm-1"]  # founded first (line 1): the oldest id
    assert [r["record_id"] for r in rows] == ["pkm-1", "dtks-1", "siak-1", "dtks-1"]


def test_a_malformed_line_is_reported_with_its_number_and_the_run_goes_on() -> None:
    lines: list[dict | str] = [REGISTRY, "{not json", {"record_id": "x", "nickname": "Ita"}]
    lines += [{"record_id": "y", "birth_date": "05-08-1990"}, {"name": "no id"}]
    lines += [REGISTRY | {"record_id": "siak-9", "nik": "7413014508900009"}]
    done = mpphub("identity", "match", lines=lines)
    assert set(persons(done.stdout)) == {"siak-1", "siak-9"}
    err = done.stderr
    assert "line 2: not valid JSON" in err
    assert "line 3: unknown field 'nickname'" in err
    assert "line 4: field 'birth_date' must be a date YYYY-MM-DD" in err
    assert "line 5: field 'record_id' is missing" in err
    assert "4 lines refused" in err


def test_strict_stops_at_the_first_bad_line_with_exit_code_1() -> None:
    done = mpphub("identity", "match", "--strict", lines=[REGISTRY, "[]", REGISTRY], check=False)
    assert done.returncode == 1
    assert "line 2: expected a JSON object" in done.stderr
    assert list(persons(done.stdout)) == ["siak-1"]


def test_a_secret_file_makes_person_ids_reproducible(tmp_path: Path) -> None:
    keyed = ("identity", "match", "--secret-file", str(tmp_path / "secret"))
    once = persons(mpphub(*keyed, lines=[REGISTRY]).stdout)
    again = persons(mpphub(*keyed, lines=[REGISTRY]).stdout)
    fresh = persons(mpphub("identity", "match", lines=[REGISTRY]).stdout)
    assert once == again != fresh
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


# --- in process ------------------------------------------------------------------------------


def test_parse_record_reads_every_field_and_refuses_what_it_cannot_read() -> None:
    record = parse_record(json.dumps(REGISTRY | {"sex": "p", "postcode": 93651}), 7)
    assert record.sex == "P" and record.postcode == "93651" and record.nik == NIK
    assert str(record.birth_date) == "1990-08-05"
    for bad, message in (
        ({"record_id": "a", "sex": "X"}, "line 7: field 'sex' must be L or P"),
        ({"record_id": "a", "name": ["A"]}, "line 7: field 'name' must be text or null"),
        ({"record_id": "a", "birth_date": "1990-02-30"}, "must be a date YYYY-MM-DD"),
        ({"record_id": " "}, "line 7: field 'record_id' is missing"),
    ):
        with pytest.raises(LineError, match=message):
            parse_record(json.dumps(bad), 7)


def test_blank_lines_are_skipped_and_identical_repeats_answered_again() -> None:
    out, errors = io.StringIO(), []
    lines = [json.dumps(REGISTRY), "", json.dumps(REGISTRY)]
    run = match(lines, out, new_resolver(), errors.append)
    assert (run.resolved, run.refused, errors) == (2, 0, [])
    assert len(set(out.getvalue().splitlines())) == 1 and run.written == 2


# --- eval ----------------------------------------------------------------------------------------


def test_eval_on_a_small_corpus_gives_every_figure() -> None:
    result = evaluate(EvalOptions(people=300, seed=3, progress=False))
    for key in (
        "precision", "recall", "f1", "review_queue", "records_per_s", "records_per_cpu_s",
        "peak_memory_mb", "records", "people", "non_registry_without_valid_nik",
        "errors_by_kind", "pairs_by_source", "latency_ms", "pairs_scored_per_record",
    ):  # fmt: skip
        assert key in result, key
    assert result["pairs_scored_per_record"] > 0  # agencies' copies of registry people
    assert 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    assert result["records_per_s"] > 0 and result["peak_memory_mb"] > 0
    assert result["non_registry_without_valid_nik"] >= 0.3
    assert result["review_queue"] >= 0
    assert result["errors_by_kind"]["registry"]["records"] == result["people"]
    # A modest floor for 300 people: the benchmark's targets are for 20,000 (see the report).
    assert result["f1"] >= 0.9, {k: result[k] for k in ("precision", "recall", "f1")}
