"""`mpphub identity match`: the worker's resolver on JSON lines, without Kafka.

Records are resolved one at a time in input order, with the same Resolver and MatchModel as the
worker. Each input line gets one output line; a merge or split that moves records already
written writes them again with their new person id. Person ids are keyed by a secret (a fresh
one per run unless --secret-file is given); a record's line number dates the id of the person
it founds, so the person founded first survives a merge. Input errors name the line and the
field, never the value (personal data).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from domain.matching import Decision, DecisionKind, PersonRecord
from domain.matching.ids import person_ids
from domain.matching.model import MatchModel
from domain.matching.resolver import Resolver
from domain.tokens import Tokens, load_secret

FIELDS = (
    "record_id", "name", "birth_date", "sex", "birth_place", "address", "kelurahan",
    "kecamatan", "postcode", "nik", "kk_number", "phone", "other_id", "source",
)  # fmt: skip
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class LineError(ValueError):
    """One input line that cannot be read: the message names its number and the field."""


def parse_record(line: str, number: int) -> PersonRecord:
    """The PersonRecord of one JSON line; LineError naming the line (and field) otherwise."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise LineError(f"line {number}: not valid JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise LineError(f"line {number}: expected a JSON object")
    unknown = [k for k in data if k not in FIELDS]
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise LineError(f"line {number}: unknown field {names} (fields: {', '.join(FIELDS)})")
    values: dict[str, object] = {}
    for name, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise LineError(f"line {number}: field '{name}' must be text or null")
        values[name] = str(value).strip() or None
    if values.get("record_id") is None:
        raise LineError(f"line {number}: field 'record_id' is missing")
    born = values.get("birth_date")
    if born is not None:
        try:
            if not _DATE.match(str(born)):
                raise ValueError(born)
            values["birth_date"] = dt.date.fromisoformat(str(born))
        except ValueError:
            msg = f"line {number}: field 'birth_date' must be a date YYYY-MM-DD"
            raise LineError(msg) from None
    sex = values.get("sex")
    if sex is not None:
        if str(sex).upper() not in ("L", "P"):
            raise LineError(f"line {number}: field 'sex' must be L or P")
        values["sex"] = str(sex).upper()
    return PersonRecord(**values)  # type: ignore[arg-type]


def new_resolver(params: Path | None = None, secret: bytes | None = None) -> Resolver:
    """A Resolver as the worker builds one: the model file (default: the shipped one) and
    person ids keyed by `secret` (default: a fresh random one)."""
    tokens = Tokens(secret if secret is not None else os.urandom(32))
    return Resolver(MatchModel.load(params), person_ids(tokens))


def secret_from(path: Path | None) -> bytes | None:
    """The secret in `path` (created, mode 0600, when missing), or None for a fresh one."""
    return load_secret(path, create=True) if path is not None else None


@dataclass
class MatchRun:
    """What a match run did: lines read, records resolved, lines refused, lines written."""

    lines: int = 0
    resolved: int = 0
    refused: int = 0
    written: int = 0


class _Writer:
    """Writes record -> person lines, and again for records whose person id changed."""

    def __init__(self, resolver: Resolver, out: IO[str]):
        self.resolver, self.out = resolver, out
        self.shown: dict[str, str] = {}  # record id -> person id last written
        self.members: dict[str, set[str]] = {}  # person id -> record ids written under it
        self.written = 0

    def current(self, record_id: str) -> str | None:
        person = self.resolver.person_of(record_id)
        return self.resolver.canonical(person) if person is not None else None

    def write(self, record_id: str, person_id: str) -> None:
        old = self.shown.get(record_id)
        if old is not None and old != person_id:
            self.members.get(old, set()).discard(record_id)
        self.shown[record_id] = person_id
        self.members.setdefault(person_id, set()).add(record_id)
        self.out.write(json.dumps({"record_id": record_id, "person_id": person_id}) + "\n")
        self.written += 1

    def after(self, record_id: str, decisions: Iterable[Decision]) -> None:
        """The resolved record's line, then the lines of records the decisions moved."""
        moved: set[str] = set()
        for d in decisions:
            if d.kind is DecisionKind.MERGE:
                for alias in d.other_person_ids:
                    moved |= self.members.get(alias, set())
            elif d.kind is DecisionKind.SPLIT:
                moved.update(d.moved_record_ids)
            elif d.record_id is not None:
                moved.add(d.record_id)
        person = self.current(record_id)
        if person is not None:
            self.write(record_id, person)
        for other in sorted(moved - {record_id}):
            person = self.current(other)
            if person is not None and person != self.shown.get(other):
                self.write(other, person)
        self.out.flush()


def match(
    lines: Iterable[str],
    out: IO[str],
    resolver: Resolver,
    report: Callable[[str], None],
    *,
    strict: bool = False,
) -> MatchRun:
    """Resolve JSON lines one at a time and write their person ids; a malformed line is
    reported (one line naming its number) and skipped, or with `strict` ends the run."""
    run = MatchRun()
    writer = _Writer(resolver, out)
    for number, line in enumerate(lines, start=1):
        run.lines = number
        if not line.strip():
            continue
        try:
            record = parse_record(line, number)
        except LineError as e:
            run.refused += 1
            report(str(e))
            if strict:
                break
            continue
        writer.after(record.record_id, resolver.resolve(record, ts_ms=number))
        run.resolved += 1
    run.written = writer.written
    return run
